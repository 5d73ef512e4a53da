"""Map every exception an API view can raise to the envelope and code of SPEC §3."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from .envelope import error
from .errors import WavoraError

logger = logging.getLogger(__name__)

_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf.NotAuthenticated, "UNAUTHORIZED"),
    (drf.AuthenticationFailed, "UNAUTHORIZED"),
    (drf.PermissionDenied, "FORBIDDEN"),
    (drf.NotFound, "NOT_FOUND"),
    (drf.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (drf.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (drf.NotAcceptable, "NOT_ACCEPTABLE"),
    (drf.Throttled, "RATE_LIMITED"),
    (drf.ParseError, "VALIDATION_ERROR"),
    (drf.ValidationError, "VALIDATION_ERROR"),
]


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → ``{"field.sub[0]": ["message"]}``, easy to show next to a field."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            out.update(flatten_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _message_for_validation(fields: dict[str, list[str]]) -> str:
    first = next(iter(fields.items()), None)
    if not first:
        return "The request has invalid fields."
    name, messages = first
    return f"{name}: {messages[0]}" if name != "non_field_errors" else messages[0]


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, WavoraError):
        body = error(exc.code, exc.message, exc.details)
        headers.update(exc.headers)
        return Response(body, status=exc.status_code, headers=headers)

    if isinstance(exc, drf.APIException):
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "ERROR")
        if isinstance(exc, drf.ValidationError):
            fields = flatten_errors(exc.detail)
            body = error(code, _message_for_validation(fields), fields)
        elif isinstance(exc, drf.ParseError):
            body = error(code, f"Malformed request body: {exc.detail}", {"body": [str(exc.detail)]})
        else:
            body = error(code, str(exc.detail))
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf.Throttled) and wait is not None:
            headers["Retry-After"] = str(int(wait))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        return Response(body, status=exc.status_code, headers=headers)

    logger.exception("Unhandled error in API view %s", context.get("view").__class__.__name__)
    return Response(error("INTERNAL_ERROR", "An unexpected error occurred."), status=500)


_JSON_PREFIXES = ("/api/", "/admin/", "/internal/", "/webhooks/", "/webhook/", "/health")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(_JSON_PREFIXES)


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _wants_json(request):
        return JsonResponse(error("NOT_FOUND", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> Any:
    if _wants_json(request):
        return JsonResponse(error("INTERNAL_ERROR", "An unexpected error occurred."), status=500)
    from django.views.defaults import server_error

    return server_error(request)
