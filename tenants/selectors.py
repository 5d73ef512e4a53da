from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import ApiKey, Membership, Tenant
from .services import KEY_PREFIX, hash_api_key


def api_key_by_secret(raw_key: str) -> ApiKey | None:
    if not raw_key.startswith(KEY_PREFIX):
        return None
    return ApiKey.objects.select_related("tenant").filter(key_hash=hash_api_key(raw_key)).first()


def api_keys_of_tenant(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant)


def membership_for_user(user: Any) -> Membership | None:
    """The tenant a dashboard user acts for: the first one they joined."""
    if not getattr(user, "pk", None):
        return None
    return (
        Membership.objects.select_related("tenant")
        .filter(user=user, tenant__is_active=True)
        .order_by("created_at")
        .first()
    )
