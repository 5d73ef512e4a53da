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


# The same shapes as OpenAPI schemas (wavora/api/schema.py documents every response with them).
_PAGINATION = {
    "type": "object",
    "properties": {
        "page": {"type": "integer", "minimum": 1},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 100},
        "total": {"type": "integer", "minimum": 0},
    },
    "required": ["page", "page_size", "total"],
}


def paginated_envelope_schema(data_schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema of a paginated list's body (``EnvelopePagination``)."""
    meta = {
        "type": "object",
        "properties": {
            "timestamp": {"type": "string", "format": "date-time"},
            "request_id": {"type": "string"},
            "pagination": _PAGINATION,
        },
        "required": ["timestamp", "request_id", "pagination"],
    }
    return envelope_schema(data_schema, meta)


def envelope_schema(data_schema: dict[str, Any], meta_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "success": {"type": "boolean", "description": "Always true"},
            "data": data_schema,
            "message": {"type": "string"},
            "meta": meta_schema,
        },
        "required": ["success", "data", "message", "meta"],
    }
