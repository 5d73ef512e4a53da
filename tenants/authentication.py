"""API key (Bearer, X-API-Key, ?api_key=) and dashboard-session authentication for DRF."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

from .principal import ALL_SCOPES, MEMBER_SCOPES, Principal
from .selectors import api_key_by_secret, membership_for_user
from .services import api_key_touch


def raw_key_from_request(request: Any) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if request.META.get("HTTP_X_API_KEY"):
        return str(request.META["HTTP_X_API_KEY"]).strip()
    return request.GET.get("api_key") or None


def principal_for_key(raw_key: str) -> Principal:
    key = api_key_by_secret(raw_key)
    if key is None:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    if key.revoked_at is not None:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    if not key.is_usable:
        raise exceptions.AuthenticationFailed("This API key has expired.")
    if key.tenant is not None and not key.tenant.is_active:
        raise exceptions.AuthenticationFailed("This tenant is suspended.")
    api_key_touch(key=key)
    return Principal(
        tenant=key.tenant,
        scopes=frozenset(key.scopes),
        api_key=key,
        device_ids=frozenset(uuid.UUID(d) for d in key.device_ids),
        allow_sync_send=key.allow_sync_send,
        is_platform_admin=key.is_platform_admin,
    )


def principal_for_user(user: Any) -> Principal | None:
    membership = membership_for_user(user)
    if membership is None:
        if getattr(user, "is_staff", False):
            return Principal(tenant=None, scopes=frozenset(), user=user, is_platform_admin=True)
        return None
    scopes = MEMBER_SCOPES if membership.role == "member" else ALL_SCOPES
    return Principal(
        tenant=membership.tenant,
        scopes=scopes,
        user=user,
        role=membership.role,
        is_platform_admin=bool(getattr(user, "is_staff", False)),
    )


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Principal, Any] | None:
        raw = raw_key_from_request(request._request)
        if raw is None:
            return None
        principal = principal_for_key(raw)
        return principal, principal.api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing or wrong.
        return 'Bearer realm="wavora"'


class TenantSessionAuthentication(SessionAuthentication):
    """The dashboard's session cookie (CSRF enforced by the parent class)."""

    def authenticate(self, request: Request) -> tuple[Principal, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        principal = principal_for_user(result[0])
        if principal is None:
            raise exceptions.AuthenticationFailed("This user belongs to no tenant.")
        return principal, None
