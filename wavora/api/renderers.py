from __future__ import annotations

from typing import Any

from rest_framework.renderers import JSONRenderer

from .envelope import meta, success


class EnvelopeJSONRenderer(JSONRenderer):
    """Every API body leaves as the envelope; views return ``success(...)`` or plain data."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        if not (isinstance(data, dict) and "success" in data):
            data = success(data)
        if "meta" not in data or "request_id" not in data["meta"]:
            data = {**data, "meta": meta(**data.get("meta", {}))}
        return super().render(data, accepted_media_type, renderer_context)
