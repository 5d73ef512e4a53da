from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .principal import Principal


def principal_of(request: Request) -> Principal:
    user = request.user
    assert isinstance(user, Principal)
    return user


class IsTenantMember(BasePermission):
    """Authenticated for a tenant, holding the scope the view names for this method."""

    message = "This API key lacks the required scope."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, Principal):
            return False
        if user.tenant is None:
            self.message = "This endpoint needs a tenant API key or a tenant member's session."
            return False
        required = getattr(view, "required_scopes", {})
        scope = required.get(request.method or "GET") if isinstance(required, dict) else required
        if scope and not user.has_scope(scope):
            self.message = f"This API key lacks the scope {scope}."
            return False
        return True


class IsPlatformAdmin(BasePermission):
    message = "Platform administrators only."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return isinstance(user, Principal) and user.is_platform_admin
