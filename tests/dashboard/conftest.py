"""Dashboard test helpers: a signed-in browser-like client per actor, and a clean throttle cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from tests.conftest import Actor


@pytest.fixture
def signed_in() -> Callable[[Actor], Client]:
    """A Django test client logged in as the actor's user, enforcing CSRF like a browser."""

    def make(actor: Actor) -> Client:
        client = Client()
        client.force_login(actor.user)
        return client

    return make


@pytest.fixture
def clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
