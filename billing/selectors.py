from __future__ import annotations

import uuid

from django.utils import timezone

from .models import Plan, Subscription


def active_plan_for_device(*, device_id: uuid.UUID) -> Plan | None:
    """The plan of the device's subscription while it is usable; ``None`` when it has lapsed."""
    subscription = Subscription.objects.select_related("plan").filter(device_id=device_id).first()
    if subscription is None or subscription.status not in (
        Subscription.Status.ACTIVE,
        Subscription.Status.PAST_DUE,
    ):
        return None
    lapsed = subscription.current_period_end is not None and subscription.current_period_end < timezone.now()
    if lapsed and subscription.status != Subscription.Status.PAST_DUE:
        return None
    return subscription.plan
