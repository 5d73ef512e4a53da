"""The OpenAPI schema describes the bodies Wavora really sends: the envelope of SPEC §3.

Views declare only their ``data`` (``@extend_schema(responses={200: DeviceOutput})``), as they return
``success(DeviceOutput(...).data)``; :class:`EnvelopeJSONRenderer` wraps it on the way out. This
AutoSchema does the same to the schema, for every operation whose view renders with that renderer
(all of ``/api/v1/``, ``/admin/``, ``/internal/`` and ``/health/detailed``), with no list of endpoints:

- a 2xx JSON body becomes ``{success, data: <declared>, message, meta}`` (component ``<Name>Envelope``);
  a paginated list already is an envelope (see :class:`EnvelopePagination`) with ``meta.pagination``;
- a declared body that is itself an envelope (top-level ``success`` and ``data``, like the 202 of an
  async send) is kept, and gets ``meta`` if it lacks it — the renderer adds it the same way;
- other media types (CSV, binary downloads) and 204s are left as declared;
- the error envelope (component ``ErrorEnvelope``) is documented for the 4xx/5xx codes the
  operation can return by construction (see :meth:`EnvelopeAutoSchema._standard_errors`); codes only
  some views return (409, 502, …) are declared by those views, and any 4xx/5xx declared without a
  body gets the error envelope.

The schema is generated in English (:class:`EnglishSchemaGenerator`), like the API it describes: model
choice labels are translated for the dashboard and would otherwise follow the default language (id).
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .envelope import envelope_schema
from .renderers import EnvelopeJSONRenderer

SCHEMAS = ResolvedComponent.SCHEMA
_REF = "#/components/schemas/"


class EnvelopeMeta(serializers.Serializer):
    timestamp = serializers.DateTimeField(help_text="When the response was made (UTC)")
    request_id = serializers.CharField(help_text="The request's X-Request-ID (echoed or generated)")


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(
        help_text="VALIDATION_ERROR, INVALID_PHONE, INVALID_MESSAGE, BUTTON_LIMIT_EXCEEDED, UNAUTHORIZED, "
        "FORBIDDEN, SUBSCRIPTION_INACTIVE, NOT_FOUND, DEVICE_NOT_FOUND, DEVICE_NOT_CONNECTED, "
        "IDEMPOTENCY_CONFLICT, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, RATE_LIMITED, QUOTA_EXCEEDED, "
        "UPSTREAM_ERROR, INTERNAL_ERROR, …"
    )
    message = serializers.CharField(help_text="For people; branch on `code`, not on this text")
    details = serializers.DictField(
        help_text='Field errors as {"field": ["message"]} for VALIDATION_ERROR; other context otherwise'
    )


# Views name it for the codes only they return: ``responses={..., 409: ErrorEnvelope}``.
class ErrorEnvelope(serializers.Serializer):
    """The body of every error response."""

    success = serializers.BooleanField(help_text="Always false")
    error = ErrorBody()
    meta = EnvelopeMeta()


_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "Echoed from the request, or generated",
        "required": True,
        "schema": {"type": "string"},
    },
    "X-RateLimit-Limit": {
        "description": "Requests allowed per minute for this key",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {"description": "Requests left in this minute", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Unix time the window resets", "schema": {"type": "integer"}},
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "required": True,
        "schema": {"type": "integer"},
    },
}
_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

# (status, component name, description): the error responses shared by the operations that can return them.
_ERRORS = {
    "400": ("BadRequest", "VALIDATION_ERROR (the fields are named in `error.details`), INVALID_PHONE, …"),
    "401": ("Unauthorized", "UNAUTHORIZED: no key, or an unknown, revoked or expired one"),
    "403": ("Forbidden", "FORBIDDEN (scope, role or device restriction) or SUBSCRIPTION_INACTIVE"),
    "404": ("NotFound", "NOT_FOUND / DEVICE_NOT_FOUND, also for another tenant's object"),
    "413": ("PayloadTooLarge", "PAYLOAD_TOO_LARGE: the upload is over the limit for its kind"),
    "415": ("UnsupportedMediaType", "UNSUPPORTED_MEDIA_TYPE: the body's or the file's type is not accepted"),
    "429": ("TooManyRequests", "RATE_LIMITED or QUOTA_EXCEEDED; `Retry-After` says when to retry"),
    "500": ("InternalError", "INTERNAL_ERROR"),
}


class EnvelopeAutoSchema(AutoSchema):
    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not self._renders_envelope():
            return operation
        responses: dict[str, Any] = operation["responses"]
        for code, response in responses.items():
            if code.startswith("2"):
                self._envelope_success(code, response)
            elif code[:1] in ("4", "5") and "$ref" not in response and not response.get("content"):
                response["content"] = {"application/json": {"schema": self._component(ErrorEnvelope)}}
                self._add_headers(response, "X-Request-ID")
        for code in self._standard_errors(operation):
            responses.setdefault(code, self._error_response(code))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _renders_envelope(self) -> bool:
        return any(issubclass(r, EnvelopeJSONRenderer) for r in getattr(self.view, "renderer_classes", []))

    # --- success -------------------------------------------------------------------------------
    def _envelope_success(self, code: str, response: dict[str, Any]) -> None:
        if code == "204":
            return
        content = response.setdefault("content", {})
        if not content:  # declared without a body: the renderer still sends an envelope
            content["application/json"] = {"schema": {}}
            response["description"] = response.get("description") or "Envelope (data not documented)"
        for media_type, media in content.items():
            if media_type == "application/json" or media_type.endswith("+json"):
                media["schema"] = self._wrapped(media.get("schema", {}))
        self._add_headers(response, "X-Request-ID", *_RATE_HEADERS)

    def _wrapped(self, schema: dict[str, Any]) -> dict[str, Any]:
        resolved = self._resolve(schema)
        properties = resolved.get("properties", {})
        if "success" in properties and "data" in properties:
            if "meta" not in properties:
                properties["meta"] = self._component(EnvelopeMeta)
                resolved["required"] = sorted({*resolved.get("required", []), "meta"})
            return schema
        body = envelope_schema(schema, self._component(EnvelopeMeta))
        name = _component_name(schema)
        if name is None:
            return body
        component = ResolvedComponent(
            name=f"{name}Envelope", type=SCHEMAS, schema=body, object=f"{name}Envelope"
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref", "")
        if not ref.startswith(_REF):
            return schema
        try:
            component: dict[str, Any] = self.registry[(ref[len(_REF) :], SCHEMAS)].schema
        except KeyError:  # not a component of this run's registry: nothing to look into
            return schema
        return component

    # --- errors --------------------------------------------------------------------------------
    def _standard_errors(self, operation: dict[str, Any]) -> list[str]:
        """The error codes any operation of this shape can return, whatever its view does."""
        parameters = [p for p in operation.get("parameters", []) if "$ref" not in p]
        query = [p["name"] for p in parameters if p.get("in") == "query"]
        body_types = list(operation.get("requestBody", {}).get("content", {}))
        secured = bool(operation.get("security")) and {} not in operation["security"]
        codes = ["500"]
        if query or body_types:
            codes.append("400")  # a field or query parameter is invalid
        if secured:
            codes += ["401", "403", "429"]  # no/bad key; scope or subscription; per-key rate limit
        names_an_object = any(p.get("in") == "path" for p in parameters) or "page" in query
        if names_an_object or any(_is_id(n) for n in [*query, *self._body_properties(operation)]):
            codes.append("404")  # an id that is not the tenant's, or a page past the end
        if body_types:
            codes.append("415")  # a body in a content type the operation does not parse
        if any(schema.get("format") == "binary" for schema in self._body_properties(operation).values()):
            codes.append("413")  # an upload over the limit
        return codes

    def _body_properties(self, operation: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for media in operation.get("requestBody", {}).get("content", {}).values():
            properties.update(self._resolve(media.get("schema", {})).get("properties", {}))
        return properties

    def _error_response(self, code: str) -> dict[str, Any]:
        name, description = _ERRORS[code]
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": self._component(ErrorEnvelope)}},
        }
        self._add_headers(
            response, "X-Request-ID", *(("Retry-After", *_RATE_HEADERS) if code == "429" else ())
        )
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.RESPONSE, schema=response, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    # --- shared components ---------------------------------------------------------------------
    def _component(self, serializer: type[serializers.Serializer]) -> dict[str, Any]:
        component = self.resolve_serializer(serializer, "response")
        return component.ref

    def _add_headers(self, response: dict[str, Any], *names: str) -> None:
        headers = response.setdefault("headers", {})
        for name in names:
            component = ResolvedComponent(
                name=name, type=ResolvedComponent.HEADER, schema=_HEADERS[name], object=name
            )
            self.registry.register_on_missing(component)
            headers.setdefault(name, component.ref)


def _component_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref", "")
    if ref.startswith(_REF):
        return ref[len(_REF) :]
    items = schema.get("items", {}).get("$ref", "") if schema.get("type") == "array" else ""
    if items.startswith(_REF):
        return f"{items[len(_REF) :]}List"
    return None


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_ids"))


def error_response(description: str) -> OpenApiResponse:
    """An error only some views return, for their ``responses``: ``{409: error_response("…")}``."""
    return OpenApiResponse(ErrorEnvelope, description=description)


UPSTREAM_ERROR = error_response("UPSTREAM_ERROR: the WhatsApp gateway (GOWA) failed")
DEVICE_NOT_CONNECTED = error_response("DEVICE_NOT_CONNECTED: the device is not linked to WhatsApp")


class DeletedOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The id of the deleted object")


class EnglishSchemaGenerator(SchemaGenerator):
    def get_schema(self, request: Any = None, public: bool = False) -> Any:
        with translation.override("en"):
            return super().get_schema(request=request, public=public)
