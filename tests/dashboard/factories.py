"""Factories for the dashboard tests: messages with their status history (rows only, no GOWA)."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from messaging.models import Message, MessageStatusChange
from tests.factories import DeviceFactory


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message
        skip_postgeneration_save = True

    device = factory.SubFactory(DeviceFactory)
    tenant = factory.SelfAttribute("device.tenant")
    direction = Message.Direction.OUT
    type = "text"
    recipient = factory.Sequence(lambda n: f"62812{n:07d}")
    status = Message.Status.DELIVERED
    original_payload_json = factory.LazyAttribute(lambda m: {"text": "Halo dari Wavora"})

    @factory.post_generation
    def created(self: Any, create: bool, extracted: object, **kwargs: object) -> None:
        # created_at is auto_now_add: a test that needs another time passes created=<datetime>.
        if create and extracted is not None:
            Message.objects.filter(pk=self.pk).update(created_at=extracted)
            self.created_at = extracted  # type: ignore[assignment]


class StatusChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageStatusChange

    message = factory.SubFactory(MessageFactory)
    status = "sent"
    at = factory.LazyFunction(timezone.now)
