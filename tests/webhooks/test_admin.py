"""The back office lists endpoints, deliveries, attempts and events without a query per row, and
never lets staff edit a delivery or read a signing secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.conftest import Actor
from tests.factories import UserFactory
from webhooks.models import WebhookDelivery

from . import Receiver
from .conftest import make_endpoint


@pytest.fixture
def staff() -> Client:
    user = UserFactory.create(username="ops@wavora.local", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "page", ["webhookendpoint", "webhookdelivery", "webhookattempt", "event"], ids=lambda page: page
)
def test_list_pages_do_not_query_per_row(
    alice: Actor,
    charlie: Actor,
    receiver: Receiver,
    emit: Callable[..., Any],
    staff: Client,
    django_assert_max_num_queries: Any,
    page: str,
) -> None:
    def fill(actor: Actor, count: int) -> None:
        make_endpoint(actor.tenant, receiver.url(f"/{actor.tenant.slug}"))
        for _ in range(count):
            emit(actor.tenant.pk)

    fill(alice, 2)
    staff.get(f"/backoffice/webhooks/{page}/")  # warm up (session, content types)
    with django_assert_max_num_queries(12) as few:
        assert staff.get(f"/backoffice/webhooks/{page}/").status_code == 200
    fill(charlie, 6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert staff.get(f"/backoffice/webhooks/{page}/").status_code == 200


def test_deliveries_are_read_only_and_secrets_are_not_shown(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], staff: Client
) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    delivery = WebhookDelivery.objects.get(event=emit(alice.tenant.pk))

    page = staff.get(f"/backoffice/webhooks/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert b'name="status"' not in page.content  # shown, not editable
    assert staff.get("/backoffice/webhooks/webhookdelivery/add/").status_code == 403

    endpoint_page = staff.get(f"/backoffice/webhooks/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint_page.status_code == 200
    assert endpoint.secret.encode() not in endpoint_page.content
