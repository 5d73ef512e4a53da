"""``/ws/``: a tenant's live events. Auth by session cookie or ``?api_key=``; optional device filter."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import AuthenticationFailed

from .realtime import tenant_group

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _principal_from_scope(scope: dict[str, Any]) -> Any:
    from tenants.authentication import principal_for_key, principal_for_user

    query = parse_qs(scope.get("query_string", b"").decode())
    raw_key = (query.get("api_key") or [None])[0]
    if raw_key:
        try:
            return principal_for_key(raw_key)
        except AuthenticationFailed:
            return None
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        return principal_for_user(user)
    return None


@database_sync_to_async
def _tenant_owns_device(tenant_id: uuid.UUID, device_id: str) -> bool:
    from django.apps import apps

    try:
        parsed = uuid.UUID(device_id)
    except ValueError:
        return False
    device_model = apps.get_model("devices", "Device")
    return device_model.objects.filter(pk=parsed, tenant_id=tenant_id, deleted_at__isnull=True).exists()


class EventsConsumer(AsyncJsonWebsocketConsumer):
    tenant_id: uuid.UUID | None = None
    device_filter: str | None = None

    async def connect(self) -> None:
        principal = await _principal_from_scope(self.scope)
        if principal is None or principal.tenant is None:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        self.tenant_id = principal.tenant.pk
        self.allowed_devices = {str(d) for d in principal.device_ids}
        query = parse_qs(self.scope.get("query_string", b"").decode())
        device_id = (query.get("device_id") or [None])[0]
        await self.accept()
        if device_id and not await self._subscribe(device_id):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.channel_layer.group_add(tenant_group(self.tenant_id), self.channel_name)
        await self.send_json({"event": "ready", "data": {"device_id": self.device_filter}})

    async def _subscribe(self, device_id: str | None) -> bool:
        if device_id is None:
            self.device_filter = None
            return True
        assert self.tenant_id is not None
        if self.allowed_devices and device_id not in self.allowed_devices:
            return False
        if not await _tenant_owns_device(self.tenant_id, device_id):
            return False
        self.device_filter = device_id
        return True

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("action") == "subscribe":
            device_id = content.get("device_id")
            ok = await self._subscribe(str(device_id) if device_id else None)
            await self.send_json(
                {
                    "event": "subscribed" if ok else "error",
                    "data": {"device_id": self.device_filter} if ok else {"code": "DEVICE_NOT_FOUND"},
                }
            )
        elif content.get("action") == "ping":
            await self.send_json({"event": "pong"})

    async def disconnect(self, code: int) -> None:
        if self.tenant_id is not None:
            await self.channel_layer.group_discard(tenant_group(self.tenant_id), self.channel_name)

    async def wavora_event(self, message: dict[str, Any]) -> None:
        device_id = message.get("device_id")
        if self.device_filter and device_id != self.device_filter:
            return
        if self.allowed_devices and device_id and device_id not in self.allowed_devices:
            return
        body = {k: message[k] for k in ("event", "device_id", "data", "timestamp")}
        if message.get("id"):
            body["id"] = message["id"]
        await self.send_json(body)
