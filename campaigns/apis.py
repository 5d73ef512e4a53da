"""Campaigns (SPEC §4, seed 001): ``/api/v1/campaigns`` and its actions, CSV template, preview and export.

snake_case fields; seed 001's camelCase names (``sessionId``, ``scheduledAt``, ``delayBetweenMessages`` …)
are accepted as aliases. Times are UTC; the send window is given in WIB."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import time
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from devices.gowa import GowaError
from devices.models import Device
from devices.selectors import device_of_tenant
from messaging.contacts import csv_cell
from messaging.phone_check import phone_check
from tenants.permissions import principal_of
from tenants.principal import Principal
from wavora.api.envelope import success
from wavora.api.errors import Forbidden, ValidationFailed
from wavora.api.views import ApiView, GenericApiView

from . import recipients as rlib
from . import selectors, services
from .models import Campaign, CampaignRecipient

# Seed 001's camelCase names → ours.
ALIASES = {
    "sessionId": "device_id",
    "deviceId": "device_id",
    "scheduledAt": "scheduled_at",
    "skipInvalidRows": "skip_invalid_rows",
    "delayBetweenMessages": "delay_between_messages",
    "jitterPercent": "jitter_percent",
    "sendWindow": "send_window",
    "dailyCap": "daily_cap_per_device",
    "dailyCapPerDevice": "daily_cap_per_device",
    "deviceIds": "device_ids",
    "rotationDeviceIds": "device_ids",
    "autoPauseFailureRate": "auto_pause_failure_rate",
    "autoPauseWindow": "auto_pause_window",
}


def snake(data: dict[str, Any]) -> dict[str, Any]:
    return {ALIASES.get(k, k): v for k, v in data.items()}


# --- serializers -----------------------------------------------------------------------------
class SendWindowInput(serializers.Serializer):
    start = serializers.TimeField(format="%H:%M", help_text="WIB, e.g. 08:00")
    end = serializers.TimeField(format="%H:%M", help_text="WIB, e.g. 20:00 (before start: wraps midnight)")


class CampaignSettingsInput(serializers.Serializer):
    delay_between_messages = serializers.IntegerField(
        min_value=0,
        max_value=3_600_000,
        required=False,
        help_text="Milliseconds between two messages (default CAMPAIGN_DEFAULT_DELAY_MS); the device's own "
        "pacing still applies when it is slower",
    )
    jitter_percent = serializers.IntegerField(
        min_value=0, max_value=100, default=30, help_text="Random extra delay, up to this % of the delay"
    )
    send_window = SendWindowInput(
        required=False, allow_null=True, help_text="Only send between these WIB times"
    )
    daily_cap_per_device = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="At most this many outgoing messages a day (WIB) per device, all sources counted",
    )
    device_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=20,
        help_text="More of the tenant's devices to rotate across, besides device_id",
    )
    auto_pause_failure_rate = serializers.FloatField(
        min_value=0.01,
        max_value=1.0,
        default=0.5,
        help_text="Pause when this share of the last N sends failed",
    )
    auto_pause_window = serializers.IntegerField(
        min_value=0,
        max_value=1000,
        default=20,
        help_text="N: how many settled sends are looked at (0: never)",
    )

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(snake(data) if isinstance(data, dict) else data)


class CampaignInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    device_id = serializers.UUIDField(help_text="The sending device (seed 001: sessionId)")
    message = serializers.DictField(
        help_text='A single-send body with its type, without device_id/to: {"type": "text", "content": '
        '"Halo {{Name}}"} (content = text, or caption for media); {{Column}} placeholders name '
        "recipient fields, case-insensitively"
    )
    recipients = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        help_text='[{"phone"|"number": "0812…", "name": "…", "companyName": "…", …}] (or a CSV file)',
    )
    settings = CampaignSettingsInput(required=False)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, help_text="UTC; send acts then")
    skip_invalid_rows = serializers.BooleanField(
        default=False, help_text="Import the valid rows and report the others, instead of a 400"
    )

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(snake(data) if isinstance(data, dict) else data)


class CampaignMultipartInput(serializers.Serializer):
    name = serializers.CharField()
    device_id = serializers.UUIDField()
    message = serializers.CharField(help_text="The message object as a JSON string")
    settings = serializers.CharField(required=False, help_text="The settings object as a JSON string")
    scheduled_at = serializers.DateTimeField(required=False)
    skip_invalid_rows = serializers.BooleanField(required=False)
    file = serializers.FileField(help_text="Recipients CSV (UTF-8, comma or semicolon)")


class CampaignUpdateInput(CampaignInput):
    name = serializers.CharField(max_length=200, required=False)
    device_id = serializers.UUIDField(required=False)
    message = serializers.DictField(required=False)


class SendWindowOutput(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    timezone = serializers.CharField()


class CampaignSettingsOutput(serializers.Serializer):
    delay_between_messages = serializers.IntegerField()
    jitter_percent = serializers.IntegerField()
    send_window = SendWindowOutput(allow_null=True)
    daily_cap_per_device = serializers.IntegerField(allow_null=True)
    device_ids = serializers.ListField(child=serializers.CharField(), help_text="Rotation, after device_id")
    auto_pause_failure_rate = serializers.FloatField()
    auto_pause_window = serializers.IntegerField()


class CampaignStatisticsOutput(serializers.Serializer):
    pending = serializers.IntegerField(help_text="Not sent yet (waiting, or being sent)")
    sent = serializers.IntegerField(help_text="Accepted by WhatsApp, no receipt yet")
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    total = serializers.IntegerField()


class CampaignOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Campaign.Status.choices)
    device_id = serializers.UUIDField()
    message = serializers.DictField()
    settings = CampaignSettingsOutput()
    columns = serializers.ListField(child=serializers.CharField(), help_text="Recipient fields (normalised)")
    recipient_count = serializers.IntegerField()
    statistics = CampaignStatisticsOutput()
    scheduled_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    paused_at = serializers.DateTimeField(allow_null=True)
    pause_reason = serializers.CharField(help_text="Why it paused (set for automatic pauses)")
    waiting_reason = serializers.CharField(
        help_text="Why a running campaign is waiting (window, cap, device)"
    )
    next_run_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ImportReportOutput(serializers.Serializer):
    imported = serializers.IntegerField()
    invalid = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.ListField(  # type: ignore[assignment]  # the metaclass pops declared fields
        child=serializers.DictField(), help_text="{row, field, message, value}"
    )
    duplicate_rows = serializers.ListField(child=serializers.DictField(), help_text="{row, phone, first_row}")


class CampaignCreatedOutput(CampaignOutput):
    import_report = ImportReportOutput()


class RetryOutput(CampaignOutput):
    retried = serializers.IntegerField(help_text="Failed recipients queued again")


class RecipientOutput(serializers.Serializer):
    id = serializers.IntegerField()
    phone = serializers.CharField()
    name = serializers.CharField()
    fields = serializers.DictField()  # type: ignore[assignment]  # the metaclass pops declared fields
    row_number = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=selectors.RECIPIENT_STATUS_CHOICES)
    message_id = serializers.UUIDField(allow_null=True)
    device_id = serializers.UUIDField(allow_null=True)
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    queued_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)


class RecipientListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=selectors.RECIPIENT_STATUS_CHOICES, required=False)
    phone = serializers.CharField(required=False, max_length=30, help_text="Digits the phone contains")


class CampaignListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Campaign.Status.choices, required=False)


CHECK_NUMBERS_MAX = 100


class NumberCheckOutput(serializers.Serializer):
    checked = serializers.IntegerField()
    not_on_whatsapp = serializers.ListField(child=serializers.DictField(), help_text="{row, phone}")
    error = serializers.CharField(allow_null=True, help_text="Why checking stopped early, if it did")


class PreviewOutput(serializers.Serializer):
    recipients = serializers.ListField(
        child=serializers.DictField(), help_text="Normalised recipients (the first 1000)"
    )
    valid = serializers.IntegerField()
    invalid = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text="More valid recipients than listed")
    columns = serializers.ListField(child=serializers.CharField(), help_text="The CSV header")
    delimiter = serializers.CharField()
    errors = serializers.ListField(  # type: ignore[assignment]  # the metaclass pops declared fields
        child=serializers.DictField(), help_text="{row, field, message, value}"
    )
    duplicate_rows = serializers.ListField(child=serializers.DictField(), help_text="{row, phone, first_row}")
    number_check = NumberCheckOutput(allow_null=True, help_text="With check_numbers=true")


class PreviewInput(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,  # the CSV reader says what an empty file lacks
        help_text="CSV, UTF-8 with or without BOM, comma or semicolon separated",
    )
    check_numbers = serializers.BooleanField(
        default=False,
        help_text="Also ask WhatsApp (through device_id, cached like POST /phone/validate) whether the "
        f"first {CHECK_NUMBERS_MAX} recipients are on WhatsApp",
    )
    device_id = serializers.UUIDField(required=False, help_text="The device that checks (with check_numbers)")


# --- helpers ---------------------------------------------------------------------------------
def _principal(request: Request) -> Principal:
    principal = principal_of(request)
    assert principal.tenant is not None
    return principal


def _hhmm(value: time | None) -> str:
    return value.strftime("%H:%M") if value else ""


def campaign_data(campaign: Campaign) -> dict[str, Any]:
    window = (
        {"start": _hhmm(campaign.window_start), "end": _hhmm(campaign.window_end), "timezone": "Asia/Jakarta"}
        if campaign.window_start and campaign.window_end
        else None
    )
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "device_id": campaign.device_id,
        "message": campaign.message,
        "settings": {
            "delay_between_messages": campaign.delay_ms,
            "jitter_percent": campaign.jitter_percent,
            "send_window": window,
            "daily_cap_per_device": campaign.daily_cap_per_device,
            "device_ids": list(campaign.rotation_device_ids or []),
            "auto_pause_failure_rate": campaign.failure_rate_threshold,
            "auto_pause_window": campaign.failure_window,
        },
        "columns": campaign.columns,
        "recipient_count": campaign.recipient_count,
        "statistics": selectors.campaign_statistics(campaign_id=campaign.pk),
        "scheduled_at": campaign.scheduled_at,
        "started_at": campaign.started_at,
        "paused_at": campaign.paused_at,
        "pause_reason": campaign.pause_reason,
        "waiting_reason": campaign.waiting_reason,
        "next_run_at": campaign.next_run_at,
        "completed_at": campaign.completed_at,
        "cancelled_at": campaign.cancelled_at,
        "created_at": campaign.created_at,
        "updated_at": campaign.updated_at,
    }


def _device(principal: Principal, device_id: Any, field: str = "device_id") -> Device:
    assert principal.tenant is not None
    device = device_of_tenant(tenant_id=principal.tenant.pk, device_id=device_id)
    if not principal.can_use_device(device.pk):
        raise Forbidden("This API key is restricted to other devices.", details={field: ["Not allowed."]})
    return device


def _options(
    principal: Principal, raw: dict[str, Any] | None, base: Campaign | None = None
) -> services.CampaignSettings:
    """Validated settings; for an update, fields not given keep the campaign's values."""
    given = dict(raw or {})
    options = services.CampaignSettings(
        delay_ms=base.delay_ms if base else settings.CAMPAIGN_DEFAULT_DELAY_MS,
        jitter_percent=base.jitter_percent if base else 30,
        window_start=base.window_start if base else None,
        window_end=base.window_end if base else None,
        daily_cap_per_device=base.daily_cap_per_device if base else None,
        failure_rate_threshold=base.failure_rate_threshold if base else 0.5,
        failure_window=base.failure_window if base else 20,
    )
    if base is not None:
        options.rotation_devices = [
            _device(principal, i, "settings.device_ids") for i in base.rotation_device_ids or []
        ]
    if "delay_between_messages" in given:
        options.delay_ms = given["delay_between_messages"]
    if "jitter_percent" in given:
        options.jitter_percent = given["jitter_percent"]
    if "send_window" in given:
        window = given["send_window"]
        options.window_start = window["start"] if window else None
        options.window_end = window["end"] if window else None
    if "daily_cap_per_device" in given:
        options.daily_cap_per_device = given["daily_cap_per_device"]
    if "device_ids" in given:
        options.rotation_devices = [_device(principal, i, "settings.device_ids") for i in given["device_ids"]]
    if "auto_pause_failure_rate" in given:
        options.failure_rate_threshold = given["auto_pause_failure_rate"]
    if "auto_pause_window" in given:
        options.failure_window = given["auto_pause_window"]
    return options


def _json_field(value: Any, name: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ValidationFailed(f"{name}: not valid JSON.", details={name: ["Must be a JSON object."]})


def _upload(request: Request, field: str = "file") -> UploadedFile | None:
    upload = request.FILES.get(field) if hasattr(request, "FILES") else None
    if upload is None:
        return None
    if upload.size and upload.size > settings.CAMPAIGN_CSV_MAX_BYTES:
        raise services.PayloadTooLarge(
            f"file: {upload.size} bytes; CSV uploads are capped at {settings.CAMPAIGN_CSV_MAX_BYTES} bytes.",
            details={"file": [f"At most {settings.CAMPAIGN_CSV_MAX_BYTES} bytes."]},
        )
    return upload


def _body(request: Request) -> tuple[dict[str, Any], UploadedFile | None]:
    """JSON, or multipart with ``message``/``settings`` as JSON strings and the CSV in ``file``."""
    upload = _upload(request)
    if hasattr(request.data, "getlist"):
        data = {k: request.data.get(k) for k in request.data if k != "file"}
        for name in ("message", "settings"):
            if name in data:
                data[name] = _json_field(data[name], name)
    elif isinstance(request.data, dict):
        data = dict(request.data)
    else:
        raise ValidationFailed("The body must be a JSON object.", details={"body": ["Expected an object."]})
    return data, upload


def _recipient_source(
    data: dict[str, Any], upload: UploadedFile | None, *, required: bool
) -> rlib.CsvReader | Iterator[rlib.Item] | None:
    if upload is not None and data.get("recipients") is not None:
        raise ValidationFailed(
            "recipients: give either a CSV file or a recipients list, not both.",
            details={"recipients": ["Either file or recipients."]},
        )
    if upload is not None:
        return rlib.CsvReader(upload)
    if data.get("recipients") is not None:
        return rlib.from_json(data["recipients"])
    if required:
        raise ValidationFailed(
            "recipients: a recipients list or a CSV file is required.",
            details={"recipients": ["This field is required."]},
        )
    return None


def _validated(serializer: serializers.Serializer) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _settings_given(data: dict[str, Any]) -> dict[str, Any] | None:
    raw = data.get("settings")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationFailed("settings: expected an object.", details={"settings": ["Expected an object."]})
    parsed = _validated(CampaignSettingsInput(data=raw))
    given = set(snake(raw))
    return {k: v for k, v in parsed.items() if k in given}


_CREATE_EXAMPLE = OpenApiExample(
    "Seed 001",
    value={
        "name": "Promo Desember",
        "sessionId": "9b0c…",
        "scheduledAt": "2026-12-01T03:00:00Z",
        "message": {"type": "text", "content": "Halo {{Name}}, promo di {{Company}}!"},
        "recipients": [{"number": "081234567890", "name": "Budi", "companyName": "Toko Maju"}],
        "settings": {"delayBetweenMessages": 3000, "send_window": {"start": "08:00", "end": "20:00"}},
    },
    request_only=True,
)


# --- views -----------------------------------------------------------------------------------
class CampaignListCreateApi(GenericApiView):
    required_scopes = {"GET": "campaigns:read", "POST": "campaigns:write"}
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    serializer_class = CampaignOutput

    @extend_schema(
        operation_id="api_v1_campaigns_list",
        parameters=[CampaignListQuery],
        responses={200: CampaignOutput(many=True)},
        description="The tenant's campaigns, newest first, with statistics.",
    )
    def get(self, request: Request) -> Response:
        query = _validated(CampaignListQuery(data=request.query_params.dict()))
        campaigns = selectors.campaigns_of(_principal(request))
        if query.get("status"):
            campaigns = campaigns.filter(status=query["status"])
        page = self.paginate_queryset(campaigns)
        return self.get_paginated_response(
            CampaignOutput([campaign_data(c) for c in page or []], many=True).data
        )

    @extend_schema(
        operation_id="api_v1_campaigns_create",
        request={"application/json": CampaignInput, "multipart/form-data": CampaignMultipartInput},
        responses={201: CampaignCreatedOutput},
        examples=[_CREATE_EXAMPLE],
        description="A draft campaign (send it with POST …/{id}/send). Recipients as a JSON list or a CSV "
        "`file` (multipart; `message`/`settings` then JSON strings). Invalid rows → 400 naming the row, "
        "unless `skip_invalid_rows`; duplicates are dropped and reported in `import_report`. An unknown "
        "`{{placeholder}}` → 400 naming it. 413 PAYLOAD_TOO_LARGE beyond CAMPAIGN_CSV_MAX_BYTES.",
    )
    def post(self, request: Request) -> Response:
        principal = _principal(request)
        data, upload = _body(request)
        fields = _validated(CampaignInput(data={k: v for k, v in data.items() if k != "recipients"}))
        device = _device(principal, fields["device_id"])
        options = _options(principal, _settings_given(snake(data)))
        source = _recipient_source(snake(data), upload, required=True)
        assert source is not None
        campaign, report = services.campaign_create(
            principal=principal,
            name=fields["name"],
            device=device,
            message=fields["message"],
            recipients=source,
            options=options,
            scheduled_at=fields.get("scheduled_at"),
            skip_invalid=fields["skip_invalid_rows"],
        )
        body = {**campaign_data(campaign), "import_report": report.as_dict()}
        return Response(
            success(CampaignCreatedOutput(body).data, f"Campaign created with {report.imported} recipients."),
            status=status.HTTP_201_CREATED,
        )


class CampaignDetailApi(ApiView):
    required_scopes = {"GET": "campaigns:read", "PATCH": "campaigns:write", "DELETE": "campaigns:write"}
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(operation_id="api_v1_campaigns_retrieve", responses={200: CampaignOutput})
    def get(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_of(_principal(request), campaign_id)
        return Response(success(CampaignOutput(campaign_data(campaign)).data))

    @extend_schema(
        operation_id="api_v1_campaigns_partial_update",
        request={"application/json": CampaignUpdateInput, "multipart/form-data": CampaignMultipartInput},
        responses={200: CampaignCreatedOutput},
        description="Draft, scheduled or paused campaigns (409 INVALID_STATE otherwise); recipients can be "
        "replaced only before the campaign started. `scheduled_at: null` clears the schedule.",
    )
    def patch(self, request: Request, campaign_id: str) -> Response:
        principal = _principal(request)
        campaign = selectors.campaign_of(principal, campaign_id)
        data, upload = _body(request)
        fields = _validated(CampaignUpdateInput(data={k: v for k, v in data.items() if k != "recipients"}))
        given = set(snake(data))
        settings_given = _settings_given(snake(data))
        campaign, report = services.campaign_update(
            principal=principal,
            campaign=campaign,
            name=fields.get("name"),
            device=_device(principal, fields["device_id"]) if "device_id" in fields else None,
            message=fields.get("message"),
            options=_options(principal, settings_given, base=campaign)
            if settings_given is not None
            else None,
            scheduled_at=fields.get("scheduled_at") if "scheduled_at" in given else False,
            recipients=_recipient_source(snake(data), upload, required=False),
            skip_invalid=fields["skip_invalid_rows"],
        )
        body = {**campaign_data(campaign), "import_report": (report or services.ImportReport()).as_dict()}
        return Response(success(CampaignCreatedOutput(body).data, "Campaign updated."))

    @extend_schema(
        operation_id="api_v1_campaigns_destroy",
        responses={200: None},
        description="409 INVALID_STATE while running (pause or cancel first). Its messages stay in the log.",
    )
    def delete(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_of(_principal(request), campaign_id)
        deleted = str(campaign.pk)
        services.campaign_delete(campaign=campaign)
        return Response(success({"id": deleted}, "Campaign deleted."))


def _action_view(action: str, description: str) -> type[ApiView]:
    class CampaignActionApi(ApiView):
        required_scopes = "campaigns:write"

        @extend_schema(
            operation_id=f"api_v1_campaigns_{action}",
            request=None,
            responses={200: RetryOutput if action == "retry" else CampaignOutput},
            description=description,
        )
        def post(self, request: Request, campaign_id: str) -> Response:
            principal = _principal(request)
            campaign = selectors.campaign_of(principal, campaign_id)
            extra: dict[str, Any] = {}
            if action == "send":
                campaign = services.campaign_send(principal=principal, campaign=campaign)
                message = (
                    "Campaign scheduled."
                    if campaign.status == Campaign.Status.SCHEDULED
                    else "Campaign started."
                )
            elif action == "pause":
                campaign = services.campaign_pause(campaign=campaign)
                message = "Campaign paused."
            elif action == "resume":
                campaign = services.campaign_resume(campaign=campaign)
                message = "Campaign resumed."
            elif action == "cancel":
                campaign = services.campaign_cancel(campaign=campaign)
                message = "Campaign cancelled."
            elif action == "retry":
                campaign, count = services.campaign_retry(campaign=campaign)
                extra["retried"] = count
                message = f"{count} failed recipients queued again."
            else:
                campaign = services.campaign_clone(principal=principal, campaign=campaign)
                message = "Campaign cloned as a draft."
                body = CampaignOutput(campaign_data(campaign)).data
                return Response(success(body, message), status=status.HTTP_201_CREATED)
            serializer = RetryOutput if action == "retry" else CampaignOutput
            return Response(success(serializer({**campaign_data(campaign), **extra}).data, message))

    CampaignActionApi.__name__ = f"Campaign{action.title()}Api"
    CampaignActionApi.__qualname__ = CampaignActionApi.__name__
    return CampaignActionApi


ACTIONS = {
    "send": "Draft/scheduled → running now, or scheduled when scheduled_at is ahead. 409 INVALID_STATE "
    "otherwise; 403 SUBSCRIPTION_INACTIVE / 429 QUOTA_EXCEEDED when the device cannot send that many.",
    "pause": "Running/scheduled → paused; takes effect within one pacing interval (messages already handed "
    "to the send queue still go).",
    "resume": "Paused → running (or scheduled when it never started); a worker restart needs no resume.",
    "cancel": "Stops for good; recipients not yet sent are never sent.",
    "retry": "Only the failed recipients go again (a completed campaign runs again for them). "
    "409 INVALID_STATE when none failed.",
    "clone": "A new draft with the same message, settings and recipients → 201.",
}
ACTION_VIEWS = {name: _action_view(name, text) for name, text in ACTIONS.items()}


class _QueryFormatIsOurs(DefaultContentNegotiation):
    # The export answers errors with the envelope; the CSV is a streamed response of its own.
    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class CsvTemplateApi(ApiView):
    required_scopes = "campaigns:read"
    content_negotiation_class = _QueryFormatIsOurs

    @extend_schema(
        operation_id="api_v1_campaigns_csv_template",
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description="A sample recipients CSV: phone, name, companyName, jobTitle (any other column can be "
        "used as a {{placeholder}}).",
    )
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(rlib.csv_template(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="whatsapp_campaign_template.csv"'
        return response


class PreviewCsvApi(ApiView):
    required_scopes = "campaigns:write"
    parser_classes = [MultiPartParser]
    PREVIEW_ROWS = 1000

    @extend_schema(
        operation_id="api_v1_campaigns_preview_csv",
        request={"multipart/form-data": PreviewInput},
        responses={200: PreviewOutput},
        description="Reads a recipients CSV without storing it: phones normalised (0812… → 62812…), "
        "errors by row number (the header is row 1), duplicates reported and dropped. "
        "413 PAYLOAD_TOO_LARGE beyond CAMPAIGN_CSV_MAX_BYTES.",
    )
    def post(self, request: Request) -> Response:
        upload = _upload(request)
        if upload is None:
            raise ValidationFailed(
                "file: a CSV file is required.", details={"file": ["This field is required."]}
            )
        fields = {k: request.data.get(k) for k in request.data if k != "file"}
        options = _validated(PreviewInput(data={**fields, "file": upload}))
        checker: Device | None = None
        if options["check_numbers"]:
            if not options.get("device_id"):
                raise ValidationFailed(
                    "device_id: required to check numbers.",
                    details={"device_id": ["Required with check_numbers."]},
                )
            checker = _device(_principal(request), options["device_id"])
        reader = rlib.CsvReader(upload)
        seen = rlib.preview(reader, keep=self.PREVIEW_ROWS, keep_problems=self.PREVIEW_ROWS)
        listed = [{"row": r.row, "phone": r.phone, "name": r.name, **r.fields} for r in seen.recipients]
        counts = {"valid": seen.valid, "invalid": seen.invalid, "duplicates": seen.duplicates}
        body = {
            "recipients": listed,
            **counts,
            "truncated": counts["valid"] > len(listed),
            "columns": reader.header,
            "delimiter": reader.delimiter,
            "errors": seen.errors,
            "duplicate_rows": seen.duplicate_rows,
            "number_check": _check_numbers(request, checker, listed) if checker else None,
        }
        return Response(
            success(
                PreviewOutput(body).data,
                f"{counts['valid']} recipients, {counts['invalid']} invalid rows, "
                f"{counts['duplicates']} duplicates dropped.",
            )
        )


def _check_numbers(request: Request, device: Device, listed: list[dict[str, Any]]) -> dict[str, Any]:
    """The first recipients asked through the device (cached answers first); stops at GOWA's first error."""
    principal = _principal(request)
    assert principal.tenant is not None
    missing: list[dict[str, Any]] = []
    checked, error = 0, None
    for row in listed[:CHECK_NUMBERS_MAX]:
        if "@" in row["phone"]:
            continue
        try:
            answer = phone_check(tenant_id=principal.tenant.pk, device=device, phone=row["phone"])
        except GowaError as exc:
            error = f"{exc.code}: {exc.message}"
            break
        checked += 1
        if not answer.is_on_whatsapp:
            missing.append({"row": row["row"], "phone": row["phone"]})
    return {"checked": checked, "not_on_whatsapp": missing, "error": error}


def recipient_data(row: CampaignRecipient) -> dict[str, Any]:
    message = row.message
    return {
        "id": row.pk,
        "phone": row.phone,
        "name": row.name,
        "fields": row.fields,
        "row_number": row.row_number,
        "status": selectors.recipient_status(row),
        "message_id": message.pk if message else None,
        "device_id": row.device_id,
        "error_code": (message.error_code if message else "") or row.error_code,
        "error_message": (message.error_message if message else "") or row.error_message,
        "queued_at": row.queued_at,
        "sent_at": message.sent_at if message else None,
        "delivered_at": message.delivered_at if message else None,
        "read_at": message.read_at if message else None,
        "failed_at": message.failed_at if message else None,
    }


class CampaignRecipientListApi(GenericApiView):
    required_scopes = "campaigns:read"
    serializer_class = RecipientOutput

    @extend_schema(
        operation_id="api_v1_campaigns_recipients_list",
        parameters=[RecipientListQuery],
        responses={200: RecipientOutput(many=True)},
        description="The campaign's recipients in list order with their message's status and times.",
    )
    def get(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_of(_principal(request), campaign_id)
        query = _validated(RecipientListQuery(data=request.query_params.dict()))
        rows = selectors.recipients_of(
            campaign=campaign, status=query.get("status"), phone=query.get("phone", "")
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(
            RecipientOutput([recipient_data(r) for r in page or []], many=True).data
        )


EXPORT_HEADER = [
    "row",
    "phone",
    "name",
    "status",
    "message_id",
    "device_id",
    "error_code",
    "error_message",
    "queued_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


def export_rows(campaign: Campaign) -> Iterator[list[str]]:
    yield EXPORT_HEADER
    for row in selectors.recipients_of(campaign=campaign).iterator(chunk_size=2000):
        data = recipient_data(row)
        yield [
            str(row.row_number or ""),
            csv_cell(row.phone),
            csv_cell(row.name),
            data["status"],
            str(data["message_id"] or ""),
            str(data["device_id"] or ""),
            csv_cell(data["error_code"]),
            csv_cell(data["error_message"]),
            *(_iso(data[k]) for k in ("queued_at", "sent_at", "delivered_at", "read_at", "failed_at")),
        ]


class CampaignExportApi(ApiView):
    required_scopes = "campaigns:read"
    content_negotiation_class = _QueryFormatIsOurs

    @extend_schema(
        operation_id="api_v1_campaigns_export",
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description="Every recipient with status, message id, error and times (UTC), streamed as CSV; "
        "cells starting with = + - @ get a leading '.",
    )
    def get(self, request: Request, campaign_id: str) -> StreamingHttpResponse:
        campaign = selectors.campaign_of(_principal(request), campaign_id)
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in export_rows(campaign)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
        return response
