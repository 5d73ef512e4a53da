"""Paying with DOKU: the checkout URL, the notification (signature, idempotency, amount, failure,
unknown invoice), two identical notifications at the same moment, and the dev sandbox end to end."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client

from billing.models import BillingEvent, Invoice, Payment, Subscription
from billing.services import add_period
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor
from webhooks.models import Event

from .conftest import DOKU_PATH, doku_headers, notification, subscription_of


def start_doku(actor: Actor, invoice: Invoice) -> dict[str, Any]:
    return assert_ok(actor.api.post(f"/api/v1/billing/invoices/{invoice.pk}/pay/doku"), 201)


def test_pay_doku_in_dev_mode_returns_an_absolute_local_sandbox_url(
    alice: Actor, order_invoice: Invoice, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = "http://wavora.local:8000"
    data = start_doku(alice, order_invoice)
    payment = Payment.objects.get(pk=data["payment_id"])
    assert (
        data["payment_url"] == f"http://wavora.local:8000/billing/sandbox/doku/{payment.external_reference}"
    )
    assert (payment.method, payment.status, payment.amount) == ("doku", "pending", 166_500)
    assert payment.external_reference.startswith(order_invoice.number + "-")
    # each attempt has its own unique external reference
    again = start_doku(alice, order_invoice)
    assert Payment.objects.get(pk=again["payment_id"]).external_reference != payment.external_reference


def test_a_valid_notification_pays_the_invoice_and_extends_the_subscription(
    alice: Actor,
    order_invoice: Invoice,
    post_doku: Callable[..., Any],
    mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment = Payment.objects.get(pk=start_doku(alice, order_invoice)["payment_id"])
    with django_capture_on_commit_callbacks(execute=True):
        response = post_doku(notification(payment.external_reference, 166_500))
    assert response.status_code == 200, response.content
    payment.refresh_from_db()
    order_invoice.refresh_from_db()
    assert (payment.status, order_invoice.status) == ("paid", "paid")
    subscription = subscription_of(order_invoice)
    assert subscription.plan.code == "pro" and subscription.status == "active"
    assert subscription.current_period_end == add_period(subscription.current_period_start, "monthly")
    assert Event.objects.filter(tenant=alice.tenant, type="invoice.paid").count() == 1
    assert any("paid" in mail.subject for mail in mailoutbox)
    assert BillingEvent.objects.filter(payment=payment, action="payment.paid", actor="doku").count() == 1


def test_a_replayed_notification_changes_nothing_and_still_answers_2xx(
    alice: Actor, order_invoice: Invoice, post_doku: Callable[..., Any]
) -> None:
    payment = Payment.objects.get(pk=start_doku(alice, order_invoice)["payment_id"])
    body = notification(payment.external_reference, 166_500)
    assert post_doku(body).status_code == 200
    end = subscription_of(order_invoice).current_period_end
    audit = BillingEvent.objects.count()
    replay = post_doku(body)
    assert replay.status_code == 200 and "Already processed" in replay.json()["message"]
    assert BillingEvent.objects.count() == audit
    assert subscription_of(order_invoice).current_period_end == end
    assert Event.objects.filter(type="invoice.paid").count() == 1


def test_a_bad_signature_is_401_and_nothing_changes(
    alice: Actor, order_invoice: Invoice, post_doku: Callable[..., Any]
) -> None:
    payment = Payment.objects.get(pk=start_doku(alice, order_invoice)["payment_id"])
    body = notification(payment.external_reference, 166_500)
    assert_error(post_doku(body, secret="SK-attacker"), 401, "UNAUTHORIZED")
    # a genuine signature over another body: the body was changed in flight
    tampered = notification(payment.external_reference, 1)
    assert_error(post_doku(tampered, signed_body=body), 401, "UNAUTHORIZED")
    payment.refresh_from_db()
    order_invoice.refresh_from_db()
    assert (payment.status, order_invoice.status) == ("pending", "open")


def test_a_different_amount_never_pays_and_flags_the_payment_for_review(
    alice: Actor, order_invoice: Invoice, post_doku: Callable[..., Any], admin_api: Any
) -> None:
    payment = Payment.objects.get(pk=start_doku(alice, order_invoice)["payment_id"])
    response = post_doku(notification(payment.external_reference, 1_000))
    assert response.status_code == 200
    payment.refresh_from_db()
    order_invoice.refresh_from_db()
    assert (payment.status, payment.notified_amount, order_invoice.status) == ("needs_review", 1_000, "open")
    assert subscription_of(order_invoice).plan.code == "free"
    pending = assert_ok(admin_api.get("/admin/billing/payments/pending-verification"))
    assert [p["id"] for p in pending] == [str(payment.pk)]


def test_an_unknown_invoice_is_404(post_doku: Callable[..., Any], db: None) -> None:
    assert_error(post_doku(notification("INV-000000-000000-NOPE", 1)), 404, "NOT_FOUND")


def test_failed_marks_the_payment_failed_and_the_invoice_stays_open(
    alice: Actor, order_invoice: Invoice, post_doku: Callable[..., Any]
) -> None:
    payment = Payment.objects.get(pk=start_doku(alice, order_invoice)["payment_id"])
    assert post_doku(notification(payment.external_reference, 166_500, "FAILED")).status_code == 200
    payment.refresh_from_db()
    order_invoice.refresh_from_db()
    assert (payment.status, order_invoice.status) == ("failed", "open")
    assert Event.objects.filter(type="payment.failed").count() == 1
    # the customer retries in the same checkout and succeeds
    assert post_doku(notification(payment.external_reference, 166_500)).status_code == 200
    order_invoice.refresh_from_db()
    assert order_invoice.status == "paid"


def test_a_paid_invoice_cannot_be_paid_again(
    alice: Actor, order_invoice: Invoice, post_doku: Callable[..., Any]
) -> None:
    payment = Payment.objects.get(pk=start_doku(alice, order_invoice)["payment_id"])
    post_doku(notification(payment.external_reference, 166_500))
    for method in ("doku", "qris-manual", "bank-transfer"):
        response = alice.api.post(f"/api/v1/billing/invoices/{order_invoice.pk}/pay/{method}")
        assert_error(response, 409, "INVOICE_NOT_PAYABLE")


@pytest.mark.django_db(transaction=True)
def test_the_same_notification_twice_at_the_same_moment_pays_exactly_once(
    alice: Actor, device_of: Callable[..., Any], pro_plan: Any, doku_keys: dict[str, str]
) -> None:
    device = device_of(alice)
    invoice = assert_ok(
        alice.api.post(
            "/api/v1/billing/subscriptions", {"device_id": str(device.pk), "plan_code": "pro"}, format="json"
        ),
        201,
    )
    payment = Payment.objects.get(
        pk=assert_ok(alice.api.post(f"/api/v1/billing/invoices/{invoice['id']}/pay/doku"), 201)["payment_id"]
    )
    body = notification(payment.external_reference, 166_500)
    headers: Any = doku_headers(
        body, secret=doku_keys["DOKU_SECRET_KEY"], client_id=doku_keys["DOKU_CLIENT_ID"]
    )
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def deliver() -> None:
        try:
            barrier.wait()
            statuses.append(
                Client().post(DOKU_PATH, data=body, content_type="application/json", **headers).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200, 200]
    assert Invoice.objects.get(pk=invoice["id"]).status == "paid"
    assert BillingEvent.objects.filter(action="invoice.paid").count() == 1
    assert BillingEvent.objects.filter(action="subscription.extended").count() == 1
    assert Event.objects.filter(type="invoice.paid").count() == 1
    subscription = Subscription.objects.get(device=device)
    assert subscription.current_period_end == add_period(subscription.current_period_start, "monthly")


def test_the_dev_sandbox_pays_an_invoice_end_to_end(
    alice: Actor, order_invoice: Invoice, client: Client
) -> None:
    """API call → sandbox checkout page → its Pay button's signed notification → paid invoice."""
    url = start_doku(alice, order_invoice)["payment_url"]
    page = client.get(urlsplit(url).path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rp 166.500" in html and order_invoice.number in html
    match = re.search(r'<script id="notifications" type="application/json">(.*?)</script>', html, re.S)
    assert match is not None
    pay = json.loads(match.group(1))["pay"]
    # exactly what the page's script sends
    headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in pay["headers"].items()}
    response = client.post(DOKU_PATH, data=pay["body"].encode(), content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    order_invoice.refresh_from_db()
    assert order_invoice.status == "paid"
    assert (
        assert_ok(alice.api.get(f"/api/v1/billing/invoices/{order_invoice.pk}"))["payments"][0]["status"]
        == "paid"
    )


def test_the_sandbox_fail_button_fails_the_payment(
    alice: Actor, order_invoice: Invoice, client: Client
) -> None:
    data = start_doku(alice, order_invoice)
    reference = Payment.objects.get(pk=data["payment_id"]).external_reference
    html = client.get(f"/billing/sandbox/doku/{reference}").content.decode()
    fail = json.loads(re.search(r'application/json">(.*?)</script>', html, re.S).group(1))["fail"]  # type: ignore[union-attr]
    headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in fail["headers"].items()}
    assert (
        client.post(
            DOKU_PATH, data=fail["body"].encode(), content_type="application/json", **headers
        ).status_code
        == 200
    )
    assert Payment.objects.get(pk=data["payment_id"]).status == "failed"
    order_invoice.refresh_from_db()
    assert order_invoice.status == "open"


def test_the_sandbox_page_does_not_exist_with_real_doku_credentials(
    alice: Actor, order_invoice: Invoice, client: Client, settings: Any
) -> None:
    reference = Payment.objects.get(pk=start_doku(alice, order_invoice)["payment_id"]).external_reference
    settings.DOKU_DEV_SANDBOX = False
    assert client.get(f"/billing/sandbox/doku/{reference}").status_code == 404
