"""Dashboard page tests: Django's test client signed in as alice (owner), bob (member in her team)
or charlie (owner of another tenant), with English pages so assertions do not depend on the
Indonesian translations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import Actor
from wavora.celery import app


def signed_in(actor: Actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def as_alice(alice: Actor) -> Client:
    return signed_in(alice)


@pytest.fixture
def as_bob(bob: Actor) -> Client:
    return signed_in(bob)


@pytest.fixture
def as_charlie(charlie: Actor) -> Client:
    return signed_in(charlie)


@pytest.fixture
def inline_celery() -> Iterator[None]:
    """Tasks run in the test's process as they are queued, as a worker would run them."""
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Runs ``work`` and then what it queued for after commit, as a committed transaction would."""

    def run(work: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return run


def page_text(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def field_errors(response: Any, field: str) -> list[str]:
    """The inline errors the page shows under one form field."""
    form = response.context["form"]
    return [str(error) for error in form.errors.get(field, [])]
