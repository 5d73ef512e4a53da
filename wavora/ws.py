"""WebSocket origin check that protects browser sessions without locking out API clients."""

from __future__ import annotations

import logging
import re
from typing import Any

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin: Any) -> bool:
        # Browsers always send Origin, so cross-site hijacking of a session is still refused; server-side
        # clients authenticating with ?api_key= send none.
        if parsed_origin is None:
            return True
        return bool(super().valid_origin(parsed_origin))


def origin_validator(application: Any) -> BrowserOriginValidator:
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed)


_API_KEY_IN_QUERY = re.compile(r"(api_key=)[^&\s\"']+")


class RedactApiKeyFilter(logging.Filter):
    """uvicorn logs each WebSocket handshake with its query string ("WebSocket /ws/?api_key=…"
    [accepted]) even with --no-access-log; the key must never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _API_KEY_IN_QUERY.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _API_KEY_IN_QUERY.sub(r"\1[redacted]", record.msg)
        return True


def redact_api_keys_in_server_logs() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, RedactApiKeyFilter) for existing in logger.filters):
        logger.addFilter(RedactApiKeyFilter())
