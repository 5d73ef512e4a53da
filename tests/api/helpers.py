"""Assertions shared by the API tests: the SPEC §3 envelope, success and error."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error envelope with this status and code; returns ``error`` for further checks."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert isinstance(body["error"]["details"], dict), body
    assert body["meta"]["request_id"] == response["X-Request-ID"], body
    assert body["meta"]["timestamp"], body
    return body["error"]


def assert_ok(response: Any, status: int = 200) -> Any:
    """The success envelope with this status; returns ``data``."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is True, body
    assert "data" in body and "message" in body, body
    assert body["meta"]["request_id"] == response["X-Request-ID"], body
    return body["data"]


def gowa_signature(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def signed_post(client: Any, node: Any, body: Any, *, secret: str | None = None) -> Any:
    """POSTs a GOWA webhook to Wavora's callback, signed like GOWA signs it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        f"/webhooks/gowa/{node.pk}/",
        data=raw,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=gowa_signature(secret if secret is not None else node.webhook_secret, raw),
    )
