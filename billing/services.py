from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from tenants.models import Tenant

from .models import Plan, Subscription
from .plans import FREE_PLAN_CODE, FREE_PLAN_DEFAULTS


def free_plan() -> Plan:
    plan, _ = Plan.objects.get_or_create(code=FREE_PLAN_CODE, defaults=FREE_PLAN_DEFAULTS)
    return plan


@transaction.atomic
def subscription_start_free(*, tenant: Tenant, device_id: uuid.UUID) -> Subscription:
    """Every new device starts on the free plan (with its branding footer)."""
    plan = free_plan()
    subscription, _ = Subscription.objects.get_or_create(
        device_id=device_id,
        defaults={"tenant": tenant, "plan": plan, "current_period_start": timezone.now()},
    )
    return subscription
