"""Service errors (WavoraError) shown in dashboard forms: each detail on its field, the rest on top."""

from __future__ import annotations

from django import forms

from wavora.api.errors import WavoraError

from .service_messages import error_message, service_detail


def add_service_error(form: forms.Form, exc: WavoraError, *, aliases: dict[str, str] | None = None) -> None:
    placed = False
    for name, problems in (exc.details or {}).items():
        field = (aliases or {}).get(name, name)
        if field in form.fields and isinstance(problems, list):
            for problem in problems:
                form.add_error(field, service_detail(problem))
            placed = True
    if not placed:
        form.add_error(None, error_message(exc))
