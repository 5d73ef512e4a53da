"""No list page of the back office costs a query per row: each changelist is rendered with a few
rows and again with several times as many, and the second may not make more queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from .conftest import fill

CHANGELISTS = sorted(
    f"{model._meta.app_label}/{model._meta.model_name}"
    for model in admin.site._registry
    if model._meta.app_label in {"tenants", "devices", "messaging", "webhooks"}
)


@pytest.mark.parametrize("page", CHANGELISTS)
def test_changelist_query_count_does_not_grow_with_rows(
    staff: Client, django_assert_max_num_queries: Any, page: str
) -> None:
    url = f"/backoffice/{page}/"
    for _ in range(2):
        fill()
    staff.get(url)  # warm up (session, content types)
    with django_assert_max_num_queries(15) as few:
        first = staff.get(url)
    assert first.status_code == 200

    for _ in range(8):
        fill()
    with django_assert_max_num_queries(len(few.captured_queries)):
        many = staff.get(url)
    assert many.status_code == 200
    # The rows really are on the page (10 of each model, 20 status changes of messages).
    assert many.context["cl"].result_count >= 10


def test_the_pages_under_test_cover_every_model_of_the_four_apps() -> None:
    assert {
        "tenants/tenant",
        "tenants/apikey",
        "devices/gowanode",
        "devices/device",
        "messaging/message",
        "messaging/gowaevent",
        "messaging/contact",
        "messaging/autoreplyrule",
        "webhooks/webhookendpoint",
        "webhooks/webhookdelivery",
        "webhooks/webhookattempt",
        "webhooks/event",
    } <= set(CHANGELISTS)


def test_change_page_of_a_delivery_lists_its_attempts_without_a_query_each(
    staff: Client, django_assert_max_num_queries: Any
) -> None:
    from webhooks.models import WebhookAttempt

    delivery = fill()["webhookdelivery"]
    url = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
    staff.get(url)
    with django_assert_max_num_queries(20) as few:
        assert staff.get(url).status_code == 200
    for number in range(2, 12):
        WebhookAttempt.objects.create(delivery=delivery, number=number, started_at=delivery.created_at)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert staff.get(url).status_code == 200
