"""A WebSocket's ?api_key= never reaches the server log (uvicorn logs each handshake's query string)."""

from __future__ import annotations

import logging

import pytest

import wavora.asgi  # noqa: F401  (installs the filter, as uvicorn's import of the app does)


def test_uvicorns_websocket_handshake_line_is_logged_without_the_api_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("uvicorn.error")
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logger.info(
            '%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/ws/?api_key=wv_live_SECRET123&device_id=d1"
        )

    assert caplog.messages == ['127.0.0.1:5000 - "WebSocket /ws/?api_key=[redacted]&device_id=d1" [accepted]']
    assert "wv_live_SECRET123" not in caplog.text
