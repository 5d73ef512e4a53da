"""``GET /api/v1/devices/{id}/contacts`` (JSON pages or a CSV export) and ``POST …/contacts/sync``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from devices.gowa import GowaError
from devices.models import Device
from devices.selectors import device_of_tenant
from tenants.permissions import principal_of
from wavora.api.envelope import success
from wavora.api.errors import Forbidden, WavoraError
from wavora.api.pagination import EnvelopePagination
from wavora.api.views import ApiView, GenericApiView

from . import contacts
from .apis import GOWA_ERRORS, _sync_error
from .models import Contact


class ContactOutput(serializers.ModelSerializer):
    device_id = serializers.UUIDField()
    phone = serializers.CharField(help_text="Digits with country code; empty when WhatsApp hides it (LID)")
    name = serializers.CharField(help_text="Push name (from their messages) or contact name (from a sync)")

    class Meta:
        model = Contact
        fields = ["id", "device_id", "phone", "name", "jid", "source", "first_seen_at", "last_seen_at"]


class ContactListQuery(serializers.Serializer):
    sync = serializers.BooleanField(
        default=True,
        help_text="Sync from WhatsApp first (default, as in seed 002; skipped when the last sync is "
        "under a minute old, and falls back to the stored list if the device is offline). "
        "false: the stored list only.",
    )
    format = serializers.ChoiceField(
        choices=["json", "csv"],
        default="json",
        help_text="csv: every matching contact as a CSV download (no paging), header "
        "phone,name,jid,source,first_seen_at,last_seen_at",
    )
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default="", help_text="Name, JID or phone"
    )


class ContactSyncOutput(serializers.Serializer):
    total = serializers.IntegerField(help_text="Contacts in WhatsApp's list")
    created = serializers.IntegerField(help_text="New to Wavora")
    updated = serializers.IntegerField(help_text="Already known, name changed")


class _QueryFormatIsOurs(DefaultContentNegotiation):
    # ``?format=csv`` is this endpoint's own parameter, not DRF's renderer override: always answer
    # with the envelope renderer (errors included); the CSV is a streamed response of its own.
    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


def _usable_device(request: Request, device_id: Any) -> Device:
    principal = principal_of(request)
    assert principal.tenant is not None
    device = device_of_tenant(tenant_id=principal.tenant.pk, device_id=device_id)
    if not principal.can_use_device(device.pk):
        raise Forbidden(
            "This API key is restricted to other devices.", details={"device_id": ["Not allowed."]}
        )
    return device


def _sync(device: Device) -> contacts.SyncResult:
    try:
        return contacts.contacts_sync(device=device)
    except GowaError as exc:
        raise _sync_error(exc) from exc


def _sync_before_listing(device: Device, requested: bool, explicit: bool) -> dict[str, Any]:
    """``meta.sync`` of the list: what the sync did, or why there was none."""
    if not requested:
        return {"synced": False, "reason": "sync=false", "result": None}
    if not explicit and contacts.contacts_sync_is_recent(device=device):
        return {"synced": False, "reason": "synced less than a minute ago", "result": None}
    try:
        result = _sync(device)
    except WavoraError as exc:
        if explicit:
            raise
        # The default sync is best effort: an offline device still lists what Wavora knows.
        return {"synced": False, "reason": f"{exc.code}: {exc.message}", "result": None}
    return {"synced": True, "reason": None, "result": asdict(result)}


class DeviceContactListApi(GenericApiView):
    required_scopes = "contacts:read"
    pagination_class = EnvelopePagination
    content_negotiation_class = _QueryFormatIsOurs

    @extend_schema(
        operation_id="api_v1_devices_contacts_list",
        parameters=[ContactListQuery],
        responses={
            (200, "application/json"): ContactOutput(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            **GOWA_ERRORS,
        },
        description="The device's contacts, most recently seen first: senders of 1:1 messages and "
        "WhatsApp's contact list. `meta.sync` says whether a sync ran first and its counts. "
        "`format=csv` downloads all of them; cells starting with = + - @ (or a tab/CR) get a leading `'`. "
        "404 DEVICE_NOT_FOUND: not this tenant's device. With an explicit `sync=true`: "
        "409 DEVICE_NOT_CONNECTED, 502 UPSTREAM_ERROR.",
    )
    def get(self, request: Request, device_id: Any) -> Any:
        device = _usable_device(request, device_id)
        query = ContactListQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        fields = query.validated_data
        sync = _sync_before_listing(device, fields["sync"], explicit="sync" in request.query_params)
        listed = contacts.contacts_of_device(device=device, search=fields["search"])
        if fields["format"] == "csv":
            response = StreamingHttpResponse(
                contacts.contacts_csv_lines(listed), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="contacts-{device.pk}.csv"'
            return response
        page = self.paginate_queryset(listed)
        paged = self.get_paginated_response(ContactOutput(page, many=True).data)
        paged.data["meta"]["sync"] = sync
        if sync["synced"]:
            paged.data["message"] = "Contacts synced from WhatsApp"
        return paged


class DeviceContactSyncApi(ApiView):
    required_scopes = "contacts:read"

    @extend_schema(
        operation_id="api_v1_devices_contacts_sync",
        request=None,
        responses={200: ContactSyncOutput, **GOWA_ERRORS},
        description="Pull WhatsApp's contact list into Wavora now (new contacts get `source: sync`); "
        "emits `contacts.sync` with the counts. 409 DEVICE_NOT_CONNECTED, 502 UPSTREAM_ERROR.",
    )
    def post(self, request: Request, device_id: Any) -> Response:
        result = _sync(_usable_device(request, device_id))
        return Response(success(ContactSyncOutput(result).data, "Contacts synced from WhatsApp"))
