"""Who is using the dashboard: the signed-in user, the tenant they act for and their role.

Every dashboard view goes through `TenantViewMixin`, so tenant scoping and role checks live in one
place. Another tenant's object is a 404 (never a 403); a role that may not use a page is a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from tenants.models import Membership, Tenant
from tenants.selectors import membership_for_user

OWNER = Membership.Role.OWNER
ADMIN = Membership.Role.ADMIN
MEMBER = Membership.Role.MEMBER
# Members use the product; owners and admins also manage billing, API keys and the team.
MANAGERS = frozenset({OWNER, ADMIN})
EVERYONE = frozenset({OWNER, ADMIN, MEMBER})


class TenantViewMixin(LoginRequiredMixin):
    """Sets `self.tenant` and `self.membership`; refuses roles outside `allowed_roles` with 403."""

    allowed_roles: frozenset[str] = EVERYONE
    request: HttpRequest
    tenant: Tenant
    membership: Membership

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = membership_for_user(request.user)
        if membership is None:
            if request.user.is_staff:
                # The platform admin `make run` prints has no tenant: their place is the back office.
                return HttpResponseRedirect(reverse("admin:index"))
            raise PermissionDenied("This account belongs to no tenant.")
        if membership.role not in self.allowed_roles:
            raise PermissionDenied("Your role cannot use this page.")
        self.membership = membership
        self.tenant = membership.tenant
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,return-value]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(tenant=self.tenant, membership=self.membership)
        return context
