"""Who is calling: a tenant API key, a dashboard session, or a platform admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import ApiKey, Tenant

ALL_SCOPES = frozenset(
    {
        "devices:read",
        "devices:write",
        "messages:send",
        "messages:read",
        "webhooks:read",
        "webhooks:write",
        "campaigns:read",
        "campaigns:write",
        "contacts:read",
        "autoreply:write",
        "billing:read",
        "billing:write",
        "keys:write",
    }
)
# Members use the product but do not manage money, keys or the team.
MEMBER_SCOPES = ALL_SCOPES - {"billing:write", "keys:write"}


@dataclass
class Principal:
    tenant: Tenant | None
    scopes: frozenset[str]
    api_key: ApiKey | None = None
    user: Any = None
    role: str | None = None
    device_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    allow_sync_send: bool = False
    is_platform_admin: bool = False

    is_authenticated = True
    is_anonymous = False

    @property
    def rate_key(self) -> str:
        if self.api_key is not None:
            return f"key:{self.api_key.pk}"
        return f"user:{getattr(self.user, 'pk', 'anon')}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def can_use_device(self, device_id: uuid.UUID) -> bool:
        return not self.device_ids or device_id in self.device_ids

    @property
    def pk(self) -> Any:
        return getattr(self.user, "pk", None)
