"""The response envelope of SPEC §3, built in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wavora.middleware import current_request_id


def meta(**extra: Any) -> dict[str, Any]:
    return {
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "request_id": current_request_id(),
        **extra,
    }


def success(data: Any = None, message: str = "OK", **top_level: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, **top_level, "data": data, "message": message}
    return body


def error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details or {}},
        "meta": meta(),
    }
