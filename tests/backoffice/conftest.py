"""The back office's fixtures: a platform staff client, and rows made straight in the database
(no GOWA) so that changelists can be filled with many of them."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from devices.models import Device
from messaging.models import AutoReplyRule, Contact, GowaEvent, Media, Message, MessageStatusChange, SendJob
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.factories import DeviceFactory, GowaNodeFactory, MembershipFactory, TenantFactory, UserFactory
from webhooks.events import event_emit
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

_serial = itertools.count(1)


@pytest.fixture
def staff(db: None) -> Client:
    user = UserFactory.create(username="ops@wavora.local", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def fill(tenant: Tenant | None = None) -> dict[str, Any]:
    """One of everything the back office lists, for one (new) tenant, on a new GOWA node."""
    n = next(_serial)
    tenant = tenant or TenantFactory.create(source="partner-x", external_id=f"ext-{n}")
    MembershipFactory.create(tenant=tenant)
    key, _ = api_key_create(tenant=tenant, name=f"key {n}")
    node = GowaNodeFactory.create()
    device = DeviceFactory.create(
        tenant=tenant, node=node, status=Device.Status.CONNECTED, phone=f"62812{n:07d}"
    )
    now = timezone.now()
    job = SendJob.objects.create(tenant=tenant)
    message = Message.objects.create(
        tenant=tenant, device=device, job=job, recipient=f"62813{n:07d}", status=Message.Status.DELIVERED
    )
    for status in ("pending", "sending", "sent", "delivered"):
        MessageStatusChange.objects.create(message=message, status=status, at=now)
    event = GowaEvent.objects.create(
        node=node, event="message.ack", dedupe_key=f"ack-{n}", session_id=str(device.pk), payload={"n": n}
    )
    contact = Contact.objects.create(
        tenant=tenant,
        device=device,
        jid=f"62814{n:07d}@s.whatsapp.net",
        phone=f"62814{n:07d}",
        source="inbound",
        first_seen_at=now,
        last_seen_at=now,
    )
    rule = AutoReplyRule.objects.create(
        tenant=tenant, device=device, keyword=f"harga {n}", reply={"type": "text"}
    )
    media = Media.objects.create(
        tenant=tenant, file=f"media/x{n}.png", kind="image", content_type="image/png", size=1
    )
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant, url=f"https://hooks.example.com/{n}", secret=f"s3cr3t-{n}"
    )
    catalog_event = event_emit(tenant_id=tenant.pk, type="device.connected", data={}, device_id=device.pk)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=catalog_event,
        status=WebhookDelivery.Status.FAILED,
        attempts=1,
        next_attempt_at=now,
    )
    attempt = WebhookAttempt.objects.create(
        delivery=delivery, number=1, started_at=now - timedelta(seconds=1), duration_ms=12, status_code=500
    )
    return {
        "tenant": tenant,
        "apikey": key,
        "gowanode": node,
        "device": device,
        "message": message,
        "gowaevent": event,
        "contact": contact,
        "autoreplyrule": rule,
        "media": media,
        "webhookendpoint": endpoint,
        "event": catalog_event,
        "webhookdelivery": delivery,
        "webhookattempt": attempt,
        "sendjob": job,
    }
