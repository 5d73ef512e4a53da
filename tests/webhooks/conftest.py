from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from wavora.celery import app
from webhooks import services
from webhooks.events import event_emit
from webhooks.models import Event, WebhookAttempt, WebhookEndpoint
from webhooks.selectors import deliveries_overdue

from . import Receiver


@pytest.fixture(autouse=True)
def inline_celery() -> Iterator[None]:
    """Tasks run in the test's process as they are queued (a countdown task runs at once and finds
    its delivery not yet due, as a real worker would at that moment)."""
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture(autouse=True)
def private_urls_allowed(settings: Any) -> None:
    # The receiver listens on 127.0.0.1; the SSRF refusal itself is tested with this False.
    settings.ALLOW_PRIVATE_URLS = True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Runs ``work`` and then what it queued for after commit (enqueues, pushes, emails), as a
    committed transaction would."""

    def run(work: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return run


@pytest.fixture
def emit(committed: Callable[..., Any]) -> Callable[..., Event]:
    """Emits a catalog event in a transaction and commits it: fan-out and first attempts follow."""

    def run(
        tenant_id: uuid.UUID,
        type: str = "message.in",
        data: dict[str, Any] | None = None,
        device_id: uuid.UUID | None = None,
    ) -> Event:
        def work() -> Event:
            with transaction.atomic():
                return event_emit(
                    tenant_id=tenant_id, type=type, data=data or {"text": "halo"}, device_id=device_id
                )

        return committed(work)  # type: ignore[no-any-return]

    return run


@pytest.fixture
def run_due(committed: Callable[..., Any]) -> Callable[[datetime], list[WebhookAttempt]]:
    """What the worker and the sweeper do at time ``at``: every delivery due by then is attempted."""

    def run(at: datetime) -> list[WebhookAttempt]:
        attempts = []
        for delivery_id in deliveries_overdue(now=at, grace=timedelta(0), limit=1000):
            attempt = committed(lambda d=delivery_id: services.delivery_attempt(delivery_id=d, now=at))
            if attempt is not None:
                attempts.append(attempt)
        return attempts

    return run


def make_endpoint(tenant: Any, url: str, **fields: Any) -> WebhookEndpoint:
    return services.endpoint_create(tenant=tenant, url=url, **fields)
