"""Writes for tenants, memberships and API keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from wavora.api.errors import ValidationFailed, WavoraError

from .models import ApiKey, Invitation, Membership, Tenant
from .principal import ALL_SCOPES

KEY_PREFIX = "wv_live_"
VISIBLE_PREFIX_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast unsalted hash is enough and lets us look them up.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "tenant"
    slug = base
    while Tenant.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


@transaction.atomic
def tenant_create(*, name: str, owner_email: str, owner_password: str | None, language: str = "id") -> Tenant:
    """Sign-up: a new user owns a new tenant. An existing user becomes owner of the new tenant."""
    name = name.strip()
    owner_email = owner_email.strip().lower()
    if not name:
        raise ValidationFailed("name: This field may not be blank.", details={"name": ["Required."]})
    if "@" not in owner_email:
        raise ValidationFailed(
            "owner_email: Enter a valid email address.", details={"owner_email": ["Invalid."]}
        )
    User = get_user_model()
    user = User.objects.filter(email__iexact=owner_email).first()
    if user is None:
        user = User.objects.create_user(username=owner_email, email=owner_email, password=owner_password)
    tenant = Tenant.objects.create(name=name, slug=_unique_slug(name), language=language)
    Membership.objects.create(tenant=tenant, user=user, role=Membership.Role.OWNER)
    return tenant


def _validate_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(dict.fromkeys(scopes))
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown:
        raise ValidationFailed(
            f"scopes: unknown scope {unknown[0]!r}",
            details={"scopes": [f"Unknown scope: {s}" for s in unknown]},
        )
    return scopes


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant | None,
    name: str,
    scopes: Iterable[str] | None = None,
    device_ids: Iterable[uuid.UUID] = (),
    expires_at: datetime | None = None,
    allow_sync_send: bool = False,
    is_platform_admin: bool = False,
    rate_limit_per_minute: int | None = None,
    created_by: Any = None,
) -> tuple[ApiKey, str]:
    """Returns the key row and the plaintext, which is never stored and never shown again."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name.strip() or "API key",
        prefix=raw[:VISIBLE_PREFIX_LENGTH],
        key_hash=hash_api_key(raw),
        scopes=_validate_scopes(sorted(ALL_SCOPES) if scopes is None else scopes),
        device_ids=[str(d) for d in device_ids],
        expires_at=expires_at,
        allow_sync_send=allow_sync_send,
        is_platform_admin=is_platform_admin,
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def api_key_rotate(*, key: ApiKey) -> tuple[ApiKey, str]:
    """A new secret with the same name, scopes and limits; the old one stops working now."""
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    api_key_revoke(key=locked)
    return api_key_create(
        tenant=locked.tenant,
        name=locked.name,
        scopes=locked.scopes,
        device_ids=[uuid.UUID(d) for d in locked.device_ids],
        # An expiry still ahead carries over; rotating an expired key gives a working one.
        expires_at=locked.expires_at if locked.expires_at and locked.expires_at > timezone.now() else None,
        allow_sync_send=locked.allow_sync_send,
        is_platform_admin=locked.is_platform_admin,
        rate_limit_per_minute=locked.rate_limit_per_minute,
    )


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, at most once a minute per key so that hot keys do not write on every request."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


# --- partner provisioning (internal API, seed 002) ---------------------------------------------
PARTNER_KEY_NAME = "Partner API key"
PROVISION_FIELDS = ("name", "expires_at", "max_devices", "max_messages", "created_by")


class ExternalIdTaken(WavoraError):
    status_code = 409
    code = "EXTERNAL_ID_CONFLICT"
    default_detail = "This external_id belongs to another source."


@transaction.atomic
def tenant_provision(
    *,
    external_id: str,
    source: str = "",
    caller_source: str | None,
    plan: str | None = None,
    owner_email: str = "",
    **fields: Any,
) -> tuple[Tenant, str | None, bool]:
    """Upsert by ``external_id``: ``(tenant, api key or None, created)``. The key is returned only when
    the tenant is created. A scoped caller only ever touches its own source's tenants; ``plan`` is
    handed to billing through ``tenant_provisioned`` in this same transaction."""
    from .signals import tenant_provisioned

    external_id = external_id.strip()
    if not external_id:
        raise ValidationFailed("external_id: required.", details={"external_id": ["Required."]})
    source = caller_source if caller_source is not None else source.strip()
    tenant = Tenant.objects.select_for_update().filter(external_id=external_id).first()
    if tenant is not None and caller_source is not None and tenant.source != caller_source:
        raise ExternalIdTaken(f"external_id {external_id!r} is already used by another source.")
    raw_key: str | None = None
    created = tenant is None
    if tenant is None:
        name = (fields.get("name") or external_id).strip()
        tenant = Tenant.objects.create(
            name=name, slug=_unique_slug(name), external_id=external_id, source=source
        )
        if owner_email:
            User = get_user_model()
            email = owner_email.strip().lower()
            user = User.objects.filter(email__iexact=email).first() or User.objects.create_user(
                username=email, email=email, password=None
            )
            Membership.objects.create(tenant=tenant, user=user, role=Membership.Role.OWNER)
        _, raw_key = api_key_create(tenant=tenant, name=PARTNER_KEY_NAME)
    elif caller_source is None and source:
        tenant.source = source
    for key in PROVISION_FIELDS:
        if key in fields and fields[key] is not None:
            setattr(tenant, key, fields[key])
    if "expires_at" in fields:
        tenant.expires_at = fields["expires_at"]
    tenant.save()
    tenant_provisioned.send(
        sender=Tenant, tenant=tenant, plan_code=plan, actor=f"partner:{source or 'global'}"
    )
    return tenant, raw_key, created


def partner_api_key(*, tenant: Tenant) -> ApiKey | None:
    return (
        ApiKey.objects.filter(tenant=tenant, name=PARTNER_KEY_NAME, revoked_at__isnull=True)
        .order_by("-created_at")
        .first()
    )


@transaction.atomic
def partner_api_key_rotate(*, tenant: Tenant) -> tuple[ApiKey, str]:
    """The partner's customer key gets a new secret (the old one stops now); one is made if none is left."""
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
    key = partner_api_key(tenant=locked)
    if key is None:
        return api_key_create(tenant=locked, name=PARTNER_KEY_NAME)
    return api_key_rotate(key=key)
# --- team: invitations and memberships ---------------------------------------------------------
INVITATION_TTL = timedelta(days=7)
INVITABLE_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.MEMBER)


def hash_invitation_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def _team_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details={field: [message]})


def _may_grant(*, acting_role: str, role: str) -> bool:
    # Admins run the team day to day; only an owner can make (or unmake) another owner.
    return acting_role == Membership.Role.OWNER or role != Membership.Role.OWNER


@transaction.atomic
def invitation_create(
    *, tenant: Tenant, email: str, role: str, invited_by: Any, acting_role: str
) -> tuple[Invitation, str]:
    """Returns the invitation and its token; only the token's SHA-256 is stored, the token goes in the
    emailed link. A new invitation to the same address replaces a pending one."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise _team_error("email", "Enter a valid email address.")
    if role not in INVITABLE_ROLES:
        raise _team_error("role", f"One of: {', '.join(INVITABLE_ROLES)}.")
    if not _may_grant(acting_role=acting_role, role=role):
        raise _team_error("role", "Only an owner can invite another owner.")
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise _team_error("email", "This person is already in the team.")
    now = timezone.now()
    Invitation.objects.filter(
        tenant=tenant, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email,
        role=role,
        token_hash=hash_invitation_token(raw),
        invited_by=invited_by if getattr(invited_by, "pk", None) else None,
        expires_at=now + INVITATION_TTL,
    )
    return invitation, raw


def invitation_send_email(*, invitation: Invitation, accept_url: str) -> None:
    """Sends the link after the invitation commits (a rolled-back invitation sends nothing)."""
    inviter = getattr(invitation.invited_by, "email", "") or "A team owner"
    subject = f"You are invited to {invitation.tenant.name} on Wavora"
    body = (
        f"{inviter} invited you to join {invitation.tenant.name} on Wavora as {invitation.role}.\n\n"
        f"Accept the invitation: {accept_url}\n\n"
        f"The link works until {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
        "If you did not expect it, ignore this email."
    )
    recipient = invitation.email
    transaction.on_commit(lambda: send_mail(subject, body, None, [recipient]))


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


@transaction.atomic
def invitation_accept(*, raw_token: str, user: Any) -> Membership:
    """The signed-in user joins the inviting tenant with the invited role.

    The account's email must be the invited address, so a forwarded link cannot be used by someone
    else; a dashboard user acts for one tenant, so an account already in another team is refused."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("tenant")
        .filter(token_hash=hash_invitation_token(raw_token))
        .first()
    )
    if invitation is None or not invitation.is_pending or not invitation.tenant.is_active:
        raise _team_error("token", "This invitation is invalid, expired or already used.")
    if (user.email or "").lower() != invitation.email.lower():
        raise _team_error("email", f"This invitation is for {invitation.email}. Sign in with that address.")
    other = Membership.objects.filter(user=user).exclude(tenant=invitation.tenant).first()
    if other is not None:
        raise _team_error("email", "This account already belongs to another team.")
    membership, _ = Membership.objects.get_or_create(
        tenant=invitation.tenant, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


def _owners_left_without(membership: Membership) -> int:
    return (
        Membership.objects.filter(tenant_id=membership.tenant_id, role=Membership.Role.OWNER)
        .exclude(pk=membership.pk)
        .count()
    )


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, acting_role: str) -> Membership:
    if role not in INVITABLE_ROLES:
        raise _team_error("role", f"One of: {', '.join(INVITABLE_ROLES)}.")
    # Lock the tenant's owners so two concurrent demotions cannot leave it without one.
    list(
        Membership.objects.select_for_update().filter(
            tenant_id=membership.tenant_id, role=Membership.Role.OWNER
        )
    )
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not (
        _may_grant(acting_role=acting_role, role=role)
        and _may_grant(acting_role=acting_role, role=membership.role)
    ):
        raise _team_error("role", "Only an owner can change an owner's role or make someone owner.")
    demoting_owner = membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER
    if demoting_owner and _owners_left_without(membership) == 0:
        raise _team_error("role", "The last owner cannot be demoted. Make someone else owner first.")
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, acting_role: str) -> None:
    list(
        Membership.objects.select_for_update().filter(
            tenant_id=membership.tenant_id, role=Membership.Role.OWNER
        )
    )
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not _may_grant(acting_role=acting_role, role=membership.role):
        raise _team_error("member", "Only an owner can remove an owner.")
    if membership.role == Membership.Role.OWNER and _owners_left_without(membership) == 0:
        raise _team_error("member", "The last owner cannot be removed.")
    membership.delete()


@transaction.atomic
def invitation_accept_new_account(*, raw_token: str, password: str) -> Membership:
    """Accepting an invitation without an account: the account is created for the invited address."""
    invitation = (
        Invitation.objects.select_for_update()
        .filter(token_hash=hash_invitation_token(raw_token))
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise _team_error("token", "This invitation is invalid, expired or already used.")
    User = get_user_model()
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise _team_error("email", "An account with this email exists. Log in to accept the invitation.")
    user = User.objects.create_user(username=invitation.email, email=invitation.email, password=password)
    return invitation_accept(raw_token=raw_token, user=user)
