"""A tenant sees its plans, changes a device's plan (→ invoice) and reads its invoices; isolation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rest_framework.test import APIClient

from billing.models import BillingEvent, Invoice, Plan, Subscription
from devices.models import Device
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor
from webhooks.models import Event

from .conftest import subscription_of


def change_plan(actor: Actor, device: Device, plan_code: str) -> Any:
    return actor.api.post(
        "/api/v1/billing/subscriptions", {"device_id": str(device.pk), "plan_code": plan_code}, format="json"
    )


def test_plan_overview_lists_public_plans_each_devices_plan_and_the_settings(
    alice: Actor, device_of: Callable[..., Device], pro_plan: Plan
) -> None:
    device = device_of(alice, name="Kasir")
    Plan.objects.create(code="secret", name="Hidden", price=1, is_public=False)
    data = assert_ok(alice.api.get("/api/v1/billing/plan"))
    assert [p["code"] for p in data["plans"]] == ["free", "pro"]
    [subscription] = data["subscriptions"]
    assert (subscription["device_id"], subscription["device_name"]) == (str(device.pk), "Kasir")
    assert subscription["plan"]["code"] == "free" and subscription["status"] == "active"
    assert data["settings"]["tax_rate_percent"] == "11"
    assert data["settings"]["allowed_payment_methods"] == ["doku", "qris_manual", "bank_transfer_manual"]


def test_a_paid_plan_answers_201_with_a_numbered_invoice_with_line_items_and_11_percent_tax(
    alice: Actor,
    device_of: Callable[..., Device],
    pro_plan: Plan,
    mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    device = device_of(alice, name="Kasir")
    with django_capture_on_commit_callbacks(execute=True):
        invoice = assert_ok(change_plan(alice, device, "pro"), 201)
    assert re.fullmatch(r"INV-\d{6}-000001", invoice["number"])
    assert (invoice["status"], invoice["kind"], invoice["plan_code"]) == ("open", "subscription", "pro")
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (150_000, 16_500, 166_500)
    assert invoice["lines"] == [
        {
            "description": "Pro plan, monthly — device Kasir",
            "quantity": 1,
            "unit_price": 150_000,
            "amount": 150_000,
        }
    ]
    # the plan starts only when paid
    assert Subscription.objects.get(device=device).plan.code == "free"
    assert Event.objects.filter(tenant=alice.tenant, type="invoice.created").count() == 1
    [mail] = mailoutbox
    assert mail.to == ["alice@example.com"] and "Rp 166.500" in mail.body
    audit = BillingEvent.objects.get(action="invoice.created")
    assert audit.actor == f"key:{alice.key.prefix}" and audit.to_status == "open"


def test_invoice_numbers_are_sequential_and_a_new_plan_change_voids_the_open_invoice(
    alice: Actor, device_of: Callable[..., Device], pro_plan: Plan
) -> None:
    device = device_of(alice)
    first = assert_ok(change_plan(alice, device, "pro"), 201)
    Plan.objects.create(code="business", name="Business", price=400_000, device_limit=20)
    second = assert_ok(change_plan(alice, device, "business"), 201)
    assert int(second["number"][-6:]) == int(first["number"][-6:]) + 1
    assert Invoice.objects.get(pk=first["id"]).status == "void"
    assert second["total"] == 444_000


def test_the_free_plan_applies_at_once_without_an_invoice(
    alice: Actor, device_of: Callable[..., Device], pro_plan: Plan
) -> None:
    device = device_of(alice)
    Subscription.objects.filter(device=device).update(plan=pro_plan)
    data = assert_ok(change_plan(alice, device, "free"))
    assert data["plan"]["code"] == "free" and data["current_period_end"] is None
    assert not Invoice.objects.exists()


def test_bad_plan_or_device_is_a_clear_4xx(
    alice: Actor, charlie: Actor, device_of: Callable[..., Device], pro_plan: Plan
) -> None:
    device = device_of(alice)
    error = assert_error(change_plan(alice, device, "platinum"), 400, "VALIDATION_ERROR")
    assert "plan_code" in error["details"]
    assert_error(change_plan(charlie, device, "pro"), 404, "DEVICE_NOT_FOUND")
    response = alice.api.post("/api/v1/billing/subscriptions", {"device_id": "nope"}, format="json")
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"device_id", "plan_code"}


def test_a_member_reads_billing_but_cannot_change_plans(
    alice: Actor, bob: Actor, device_of: Callable[..., Device], order_invoice: Invoice
) -> None:
    device = subscription_of(order_invoice).device
    session = APIClient()
    session.force_login(bob.user)  # a member's dashboard session: billing:read only
    response = session.post(
        "/api/v1/billing/subscriptions", {"device_id": str(device.pk), "plan_code": "pro"}, format="json"
    )
    assert_error(response, 403, "FORBIDDEN")
    assert_ok(session.get(f"/api/v1/billing/invoices/{order_invoice.pk}"))
    assert_error(session.post(f"/api/v1/billing/invoices/{order_invoice.pk}/pay/doku"), 403, "FORBIDDEN")


def test_invoices_are_listed_per_tenant_and_another_tenants_invoice_is_404(
    alice: Actor, charlie: Actor, device_of: Callable[..., Device], order_invoice: Invoice
) -> None:
    charlie_device = device_of(charlie)
    assert_ok(change_plan(charlie, charlie_device, "pro"), 201)
    listed = alice.api.get("/api/v1/billing/invoices")
    assert [i["id"] for i in assert_ok(listed)] == [str(order_invoice.pk)]
    assert listed.json()["meta"]["pagination"]["total"] == 1
    assert assert_ok(alice.api.get("/api/v1/billing/invoices?status=paid")) == []
    assert_error(alice.api.get("/api/v1/billing/invoices?status=bogus"), 400, "VALIDATION_ERROR")
    detail = assert_ok(alice.api.get(f"/api/v1/billing/invoices/{order_invoice.pk}"))
    assert detail["number"] == order_invoice.number and detail["payments"] == []
    assert_error(charlie.api.get(f"/api/v1/billing/invoices/{order_invoice.pk}"), 404, "NOT_FOUND")
    assert_error(charlie.api.post(f"/api/v1/billing/invoices/{order_invoice.pk}/pay/doku"), 404, "NOT_FOUND")
    assert_error(alice.api.get("/api/v1/billing/invoices/not-a-uuid"), 404, "NOT_FOUND")
