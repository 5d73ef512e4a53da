"""The renewal / expiry / downgrade cycle under a frozen clock, run as Celery beat runs it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from billing.models import Invoice, Payment, Plan, Subscription
from billing.selectors import active_plan_for_device
from billing.tasks import run_billing_cycle
from devices.models import Device
from tests.conftest import Actor
from webhooks.models import Event

START = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)


def cycle(at: datetime, capture: Any) -> dict[str, int]:
    with time_machine.travel(at, tick=False), capture(execute=True):
        return run_billing_cycle()


def paid_pro_device(alice: Actor, device_of: Callable[..., Device], admin_api: Any) -> Device:
    """Alice buys Pro for a device on START by bank transfer, approved by an admin."""
    device = device_of(alice)
    with time_machine.travel(START, tick=False):
        invoice = alice.api.post(
            "/api/v1/billing/subscriptions", {"device_id": str(device.pk), "plan_code": "pro"}, format="json"
        ).json()["data"]
        payment = alice.api.post(f"/api/v1/billing/invoices/{invoice['id']}/pay/bank-transfer").json()["data"]
        Payment.objects.filter(pk=payment["payment_id"]).update(status="pending_verification")
        Invoice.objects.filter(pk=invoice["id"]).update(status="pending_verification")
        assert admin_api.post(f"/admin/billing/payments/{payment['payment_id']}/approve").status_code == 200
    return device


def test_renewal_then_expiry_then_grace_then_downgrade_to_free(
    alice: Actor,
    device_of: Callable[..., Device],
    pro_plan: Plan,
    admin_api: Any,
    mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.BILLING_RENEWAL_LEAD_DAYS = 7
    settings.BILLING_GRACE_DAYS = 3
    device = paid_pro_device(alice, device_of, admin_api)
    subscription = Subscription.objects.get(device=device)
    end = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
    assert (subscription.plan.code, subscription.current_period_end) == ("pro", end)

    # nothing to do mid-period
    assert cycle(START + timedelta(days=10), django_capture_on_commit_callbacks) == {
        "renewals": 0,
        "expired": 0,
        "past_due": 0,
        "downgraded": 0,
    }
    # a week before the end: one renewal invoice, due at the period end; the tenant is told
    mailoutbox.clear()
    assert cycle(end - timedelta(days=7), django_capture_on_commit_callbacks)["renewals"] == 1
    assert cycle(end - timedelta(days=6), django_capture_on_commit_callbacks)["renewals"] == 0  # idempotent
    renewal = Invoice.objects.get(kind="renewal")
    assert (renewal.status, renewal.period_start, renewal.due_at, renewal.total) == (
        "open",
        end,
        end,
        166_500,
    )
    assert Event.objects.filter(type="invoice.created", data__invoice_id=str(renewal.pk)).exists()
    assert len(mailoutbox) == 1 and renewal.number in mailoutbox[0].subject

    # the period ends unpaid: past due (still sending on Pro during the grace), invoice expired
    mailoutbox.clear()
    result = cycle(end + timedelta(minutes=5), django_capture_on_commit_callbacks)
    assert (result["expired"], result["past_due"]) == (1, 1)
    subscription.refresh_from_db()
    renewal.refresh_from_db()
    assert (subscription.status, renewal.status) == ("past_due", "expired")
    with time_machine.travel(end + timedelta(days=1), tick=False):
        assert active_plan_for_device(device_id=device.pk) == pro_plan
    assert {e.type for e in Event.objects.filter(created_at__gte=end)} >= {
        "invoice.expired",
        "subscription.past_due",
    }
    assert len(mailoutbox) == 2

    # after the grace period: back on the free plan (footer back, quota shrinks); the tenant is told
    mailoutbox.clear()
    assert cycle(end + timedelta(days=3, minutes=10), django_capture_on_commit_callbacks)["downgraded"] == 1
    subscription.refresh_from_db()
    assert (subscription.plan.code, subscription.status, subscription.current_period_end) == (
        "free",
        "active",
        None,
    )
    free = active_plan_for_device(device_id=device.pk)
    assert free is not None and free.branding_footer and free.message_quota < pro_plan.message_quota
    assert Event.objects.get(type="subscription.downgraded").data["previous_plan_code"] == "pro"
    assert len(mailoutbox) == 1 and "free plan" in mailoutbox[0].subject
    # and nothing more happens afterwards
    assert cycle(end + timedelta(days=40), django_capture_on_commit_callbacks) == {
        "renewals": 0,
        "expired": 0,
        "past_due": 0,
        "downgraded": 0,
    }


def test_a_renewal_paid_in_time_continues_the_period(
    alice: Actor,
    device_of: Callable[..., Device],
    pro_plan: Plan,
    admin_api: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    device = paid_pro_device(alice, device_of, admin_api)
    end = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
    cycle(end - timedelta(days=5), django_capture_on_commit_callbacks)
    renewal = Invoice.objects.get(kind="renewal")
    with time_machine.travel(end - timedelta(days=2), tick=False):
        payment = alice.api.post(f"/api/v1/billing/invoices/{renewal.pk}/pay/qris-manual").json()["data"]
        Payment.objects.filter(pk=payment["payment_id"]).update(status="pending_verification")
        assert admin_api.post(f"/admin/billing/payments/{payment['payment_id']}/approve").status_code == 200
    subscription = Subscription.objects.get(device=device)
    assert (subscription.current_period_start, subscription.current_period_end) == (
        end,
        datetime(2027, 1, 10, 3, 0, tzinfo=UTC),
    )
    assert cycle(end + timedelta(hours=1), django_capture_on_commit_callbacks)["past_due"] == 0


def test_a_lapsed_paid_period_beyond_the_grace_counts_as_free_even_before_the_beat_runs(
    alice: Actor, device_of: Callable[..., Device], pro_plan: Plan, admin_api: Any, settings: Any
) -> None:
    settings.BILLING_GRACE_DAYS = 3
    device = paid_pro_device(alice, device_of, admin_api)
    with time_machine.travel(datetime(2026, 12, 14, tzinfo=UTC), tick=False):
        plan = active_plan_for_device(device_id=device.pk)
    assert plan is not None and plan.code == "free"
