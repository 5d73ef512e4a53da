"""Billing decides: how many devices a tenant may create, how many messages a device may send, and
whether its subscription is active at all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from billing.models import BillingSettings, Plan, Subscription
from billing.selectors import device_limit_for_tenant
from devices.models import Device
from messaging.models import Message
from tests.api.helpers import assert_error
from tests.conftest import Actor

SEND = "/api/v1/messages/text"


def send(actor: Actor, device: Device, text: str = "Halo") -> Any:
    return actor.api.post(
        SEND, {"device_id": str(device.pk), "to": "081234567890", "text": text}, format="json"
    )


def test_device_limit_comes_from_partner_then_admin_override_then_paid_plans(
    alice: Actor, device_of: Callable[..., Device], pro_plan: Plan, settings: Any
) -> None:
    settings.TENANT_DEFAULT_MAX_DEVICES = 2
    assert device_limit_for_tenant(tenant=alice.tenant) == 2
    device = device_of(alice)
    Subscription.objects.filter(device=device).update(plan=pro_plan)  # Pro allows 10 devices
    assert device_limit_for_tenant(tenant=alice.tenant) == 10
    BillingSettings.objects.create(tenant=alice.tenant, device_limit_override=3)
    assert device_limit_for_tenant(tenant=alice.tenant) == 3
    alice.tenant.max_devices = 4
    assert device_limit_for_tenant(tenant=alice.tenant) == 4


def test_creating_a_device_beyond_the_billing_limit_is_refused(
    alice: Actor, make_device: Callable[..., Device]
) -> None:
    BillingSettings.objects.create(tenant=alice.tenant, device_limit_override=1)
    make_device(alice)
    response = alice.api.post("/api/v1/devices", {"name": "Second"}, format="json")
    error = assert_error(response, 403, "QUOTA_EXCEEDED")
    assert error["details"] == {"device_limit": 1, "devices": 1}


def test_an_expired_subscription_is_403_subscription_inactive_on_send(
    alice: Actor, make_device: Callable[..., Device]
) -> None:
    device = make_device(alice, connected=True, send_interval_ms=0)
    Subscription.objects.filter(device=device).update(status=Subscription.Status.EXPIRED)
    assert_error(send(alice, device), 403, "SUBSCRIPTION_INACTIVE")
    assert not Message.objects.exists()


def test_provisioned_access_that_ended_is_subscription_inactive(
    alice: Actor, make_device: Callable[..., Device]
) -> None:
    device = make_device(alice, connected=True, send_interval_ms=0)
    alice.tenant.expires_at = timezone.now() - timedelta(minutes=1)
    alice.tenant.save(update_fields=["expires_at"])
    assert_error(send(alice, device), 403, "SUBSCRIPTION_INACTIVE")


def test_a_partners_message_cap_counts_every_device_of_the_tenant(
    alice: Actor, make_device: Callable[..., Device]
) -> None:
    first = make_device(alice, connected=True, send_interval_ms=0)
    second = make_device(alice, name="Second", connected=True, phone="6281200000002", send_interval_ms=0)
    alice.tenant.max_messages = 2
    alice.tenant.save(update_fields=["max_messages"])
    assert send(alice, first).status_code == 202
    assert send(alice, second).status_code == 202
    error = assert_error(send(alice, first), 429, "QUOTA_EXCEEDED")
    assert error["details"] == {"quota": 2, "used": 2, "requested": 1}
    assert "for your account" in error["message"]


def test_a_paid_plans_quota_counts_over_its_paid_period(
    alice: Actor, make_device: Callable[..., Device], pro_plan: Plan
) -> None:
    device = make_device(alice, connected=True, send_interval_ms=0)
    Plan.objects.filter(pk=pro_plan.pk).update(message_quota=1)
    now = timezone.now()
    Subscription.objects.filter(device=device).update(
        plan=pro_plan,
        current_period_start=now - timedelta(days=1),
        current_period_end=now + timedelta(days=29),
    )
    response = send(alice, device)
    assert response.status_code == 202
    assert Message.objects.get().payload_json["message"] == "Halo"  # no branding footer on Pro
    refused = send(alice, device)
    assert_error(refused, 429, "QUOTA_EXCEEDED")
    assert 29 * 86400 - 120 < int(refused["Retry-After"]) <= 29 * 86400
