from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiKey, Invitation, Membership, Tenant
from .services import KEY_PREFIX, hash_api_key, hash_invitation_token


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


def members_of_tenant(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("created_at")


def member_of_tenant(*, tenant: Tenant, membership_id: Any) -> Membership | None:
    """Another tenant's membership is the same as a missing one."""
    try:
        pk = int(membership_id)
    except (TypeError, ValueError):
        return None
    return members_of_tenant(tenant=tenant).filter(pk=pk).first()


def pending_invitations_of_tenant(*, tenant: Tenant) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def invitation_of_tenant(*, tenant: Tenant, invitation_id: Any) -> Invitation | None:
    try:
        pk = uuid.UUID(str(invitation_id))
    except ValueError:
        return None
    return Invitation.objects.filter(tenant=tenant, pk=pk).first()


def invitation_by_token(raw_token: str) -> Invitation | None:
    """A pending invitation for the token in an emailed link, else None."""
    invitation = (
        Invitation.objects.select_related("tenant")
        .filter(token_hash=hash_invitation_token(raw_token))
        .first()
    )
    if invitation is None or not invitation.is_pending:
        return None
    return invitation
