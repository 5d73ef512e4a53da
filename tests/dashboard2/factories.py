"""Factories of the dashboard page tests."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from messaging.models import Contact


class ContactFactory(factory.django.DjangoModelFactory):
    """A contact row of a device, as capture or sync would store it."""

    class Meta:
        model = Contact

    device = factory.SubFactory("tests.factories.DeviceFactory")
    tenant = factory.LazyAttribute(lambda contact: contact.device.tenant)
    phone = factory.Sequence(lambda n: f"62812{n:08d}")
    jid = factory.LazyAttribute(lambda contact: f"{contact.phone}@s.whatsapp.net")
    name = factory.Sequence(lambda n: f"Customer {n}")
    source = Contact.Source.INBOUND
    first_seen_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    last_seen_at = factory.LazyFunction(timezone.now)
