"""Between the dashboard's pages and the services the API also uses.

The services speak `WavoraError` (the API's errors). A page turns a 404 of theirs into Django's 404
page (another tenant's object looks missing, never forbidden), a refusal naming fields into inline
form errors, and keeps secrets shown "once" in the session only until the page that shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse

from wavora.api.errors import WavoraError

from .service_messages import error_message, service_detail

_ONCE_KEY = "dashboard_shown_once"


class ServiceNotFoundAs404Mixin:
    """A `WavoraError` with status 404 raised by a selector or service becomes `Http404`."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]
        except WavoraError as exc:
            if exc.status_code == 404:
                raise Http404(exc.message) from exc
            raise


def add_service_errors(
    form: forms.Form, exc: WavoraError, *, field_map: Mapping[str, str] | None = None
) -> None:
    """Puts the service's refusal on the form: each detail under the form field it names
    (`field_map` renames service fields to form fields), the rest as a non-field error."""
    field_map = field_map or {}
    placed = False
    for name, problems in (exc.details or {}).items():
        field = field_map.get(name, name)
        if field not in form.fields:
            continue
        for problem in problems if isinstance(problems, list | tuple) else [problems]:
            form.add_error(field, service_detail(problem))
        placed = True
    if not placed:
        form.add_error(None, error_message(exc))


def remember_once(request: HttpRequest, slot: str, secret: str) -> None:
    """Keeps a secret for the next page that shows it (and then forgets it)."""
    shown: dict[str, str] = request.session.get(_ONCE_KEY, {})
    shown[slot] = secret
    request.session[_ONCE_KEY] = shown


def take_once(request: HttpRequest, slot: str) -> str | None:
    """The secret kept for `slot`, removed from the session: a reload no longer finds it."""
    shown: dict[str, str] = request.session.get(_ONCE_KEY, {})
    secret = shown.pop(slot, None)
    if secret is not None:
        request.session[_ONCE_KEY] = shown
    return secret
