"""The sidebar: one entry per built page. A page appears only once its URL exists and only for the
roles that may use it, so unbuilt capabilities never show up as placeholders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from tenants.selectors import membership_for_user

from .tenancy import EVERYONE, MANAGERS


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: Any
    icon: str
    roles: frozenset[str] = EVERYONE


NAV_ITEMS = (
    NavItem("dashboard:overview", _("Overview"), "home"),
    NavItem("dashboard:devices", _("Devices"), "phone"),
    NavItem("dashboard:send", _("Send"), "send"),
    NavItem("dashboard:messages", _("Message logs"), "list"),
    NavItem("dashboard:campaigns", _("Campaigns"), "megaphone"),
    NavItem("dashboard:contacts", _("Contacts"), "users"),
    NavItem("dashboard:auto_replies", _("Auto-replies"), "reply"),
    NavItem("dashboard:webhooks", _("Webhooks"), "link"),
    NavItem("dashboard:api_keys", _("API keys"), "key", MANAGERS),
    NavItem("dashboard:billing", _("Billing"), "card", MANAGERS),
    NavItem("dashboard:team", _("Team"), "team", MANAGERS),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `nav` for signed-in tenant users on dashboard pages."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.path.startswith("/dashboard/"):
        return {}
    membership = membership_for_user(user)
    if membership is None:
        return {}
    items = []
    for item in NAV_ITEMS:
        if membership.role not in item.roles:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/dashboard/" else request.path.startswith(url)
        items.append({"url": url, "label": item.label, "icon": item.icon, "active": active})
    return {"nav": items, "nav_membership": membership}
