"""Writes for campaigns: create/update/delete, the lifecycle verbs, and the scheduler tick that hands
the next slice of recipients to messaging's batch accept as pacing, the send window and caps allow."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from devices.models import Device
from messaging.compose import build_outgoing, json_safe, validate_item
from messaging.models import Message
from messaging.services import Outgoing, check_can_send, messages_accept_batch
from messaging.types import TYPES
from tenants.models import Tenant
from tenants.principal import Principal
from wavora.api.errors import ValidationFailed, WavoraError
from webhooks.events import event_emit

from . import recipients as rlib
from . import schedule
from .models import Campaign, CampaignRecipient
from .selectors import campaign_statistics

INSERT_CHUNK = 2000
MAX_REPORTED = 100
# The body field a seed-001 ``content`` fills, per message type.
CONTENT_FIELD = {
    "text": "text",
    "image": "caption",
    "video": "caption",
    "file": "caption",
    "link": "caption",
    "interactive": "text",
}
IN_FLIGHT = (Message.Status.PENDING, Message.Status.SENDING)
SETTLED = (
    Message.Status.SENT,
    Message.Status.DELIVERED,
    Message.Status.READ,
    Message.Status.PLAYED,
    Message.Status.FAILED,
    Message.Status.CANCELLED,
)
FAILED_RECIPIENTS = (
    Q(status=CampaignRecipient.Status.FAILED)
    | Q(status=CampaignRecipient.Status.QUEUED, message__status__in=("failed", "cancelled"))
    | Q(status=CampaignRecipient.Status.QUEUED, message__isnull=True)
)
EDITABLE = (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED, Campaign.Status.PAUSED)


class InvalidState(WavoraError):
    status_code = 409
    code = "INVALID_STATE"
    default_detail = "The campaign's status does not allow this."


class PayloadTooLarge(WavoraError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_detail = "The upload is too large."


@dataclass
class CampaignSettings:
    delay_ms: int
    jitter_percent: int = 30
    window_start: time | None = None
    window_end: time | None = None
    daily_cap_per_device: int | None = None
    rotation_devices: list[Device] = field(default_factory=list)
    failure_rate_threshold: float = 0.5
    failure_window: int = 20


@dataclass
class ImportReport:
    imported: int = 0
    invalid: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    duplicate_rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "errors": self.errors,
            "duplicate_rows": self.duplicate_rows,
        }


# --- templates -------------------------------------------------------------------------------
def message_template(raw: Any) -> dict[str, Any]:
    """A campaign's ``message`` (``{type, content|text|caption|…}``) → the stored template."""
    if not isinstance(raw, dict):
        raise ValidationFailed(
            'message: expected an object such as {"type": "text", "content": "Halo {{Name}}"}.',
            details={"message": ["Expected an object."]},
        )
    body = json_safe({str(k): v for k, v in raw.items() if k not in ("device_id", "to")}, "message")
    mtype = str(body.get("type") or "text")
    if mtype not in TYPES:
        raise ValidationFailed(
            f"message.type: unknown message type {mtype!r}.",
            details={"message.type": [f"One of: {', '.join(sorted(TYPES))}."]},
        )
    body["type"] = mtype
    content = body.pop("content", None)
    if content is not None:
        target = CONTENT_FIELD.get(mtype)
        if target is None:
            raise ValidationFailed(
                f"message.content: a {mtype} message has no text to put it in.",
                details={"message.content": [f"Not used by type {mtype}."]},
            )
        body.setdefault(target, content)
    if "file" in body:
        raise ValidationFailed(
            "message.file: upload the file with POST /api/v1/media and pass media_id.",
            details={"message.file": ["Use media_id."]},
        )
    return body


def _prefixed(exc: WavoraError, prefix: str) -> WavoraError:
    details = {f"{prefix}.{k}": v for k, v in exc.details.items()}
    return WavoraError(f"{prefix}.{exc.message}", code=exc.code, status=exc.status_code, details=details)


def campaign_principal(campaign: Campaign) -> Principal:
    return Principal(tenant=campaign.tenant, scopes=frozenset({"messages:send"}), api_key=campaign.api_key)


def render_outgoing(
    *,
    principal: Principal,
    template: dict[str, Any],
    device: Device,
    recipient: rlib.Recipient,
    devices: dict[str, Device],
    campaign_id: uuid.UUID | None = None,
) -> Outgoing:
    """The recipient's message, validated exactly like the same body sent alone."""
    mtype = template["type"]
    body = rlib.render({k: v for k, v in template.items() if k != "type"}, rlib.lookup_of(recipient))
    if mtype == "interactive" and "interactive_type" in body:
        body["type"] = body.pop("interactive_type")
    body["device_id"] = str(device.pk)
    body["to"] = recipient.phone
    attrs = validate_item(mtype, body)
    original = json_safe({"type": mtype, **body})
    if campaign_id is not None:
        original["campaign_id"] = str(campaign_id)
    return build_outgoing(
        principal=principal, message_type=mtype, attrs=attrs, original=original, devices=devices
    )


def check_template(
    *,
    principal: Principal,
    template: dict[str, Any],
    device: Device,
    columns: Iterable[str],
    sample: rlib.Recipient | None,
) -> None:
    """400 naming an unknown ``{{placeholder}}`` or the template field a send would refuse."""
    known = set(columns)
    unknown = rlib.unknown_placeholders(template, known)
    if unknown:
        fields = ", ".join(sorted(known | {"name", "phone"}))
        raise ValidationFailed(
            f"message: unknown placeholder {{{{{unknown[0]}}}}}; no recipient has that column "
            f"(known: {fields}).",
            details={"message": [f"Unknown placeholder {{{{{p}}}}}." for p in unknown]},
        )
    if sample is None:
        sample = rlib.Recipient(phone="6281234567890", name="x", fields={k: "x" for k in known})
    try:
        render_outgoing(
            principal=principal,
            template=template,
            device=device,
            recipient=sample,
            devices={str(device.pk): device},
        )
    except WavoraError as exc:
        raise _prefixed(exc, "message")


# --- creating --------------------------------------------------------------------------------
def _insert_recipients(
    *, campaign: Campaign, items: Iterable[rlib.Item], report: ImportReport, skip_invalid: bool
) -> tuple[set[str], rlib.Recipient | None]:
    """Bulk inserts in chunks as the rows stream in; returns the columns seen and the first recipient."""
    columns: set[str] = set()
    first: rlib.Recipient | None = None
    chunk: list[CampaignRecipient] = []
    for item in items:
        if isinstance(item, rlib.RowError):
            report.invalid += 1
            if len(report.errors) < MAX_REPORTED:
                report.errors.append(item.as_dict())
            continue
        if isinstance(item, rlib.Duplicate):
            report.duplicates += 1
            if len(report.duplicate_rows) < MAX_REPORTED:
                report.duplicate_rows.append(item.as_dict())
            continue
        if first is None:
            first = item
        columns.update(rlib.norm_key(k) for k in item.fields)
        report.imported += 1
        if report.imported > settings.CAMPAIGN_MAX_RECIPIENTS:
            raise ValidationFailed(
                f"recipients: at most {settings.CAMPAIGN_MAX_RECIPIENTS} per campaign.",
                details={"recipients": [f"At most {settings.CAMPAIGN_MAX_RECIPIENTS}."]},
            )
        chunk.append(
            CampaignRecipient(
                campaign=campaign, phone=item.phone, name=item.name, fields=item.fields, row_number=item.row
            )
        )
        if len(chunk) >= INSERT_CHUNK:
            CampaignRecipient.objects.bulk_create(chunk)
            chunk = []
    if chunk:
        CampaignRecipient.objects.bulk_create(chunk)
    if report.invalid and not skip_invalid:
        first_error = report.errors[0]
        raise ValidationFailed(
            f"recipients: row {first_error['row']} {first_error['field']}: {first_error['message']} "
            f"({report.invalid} invalid rows; fix them or pass skip_invalid_rows=true).",
            details={f"recipients[{e['row']}].{e['field']}": [e["message"]] for e in report.errors},
        )
    if not report.imported:
        raise ValidationFailed(
            "recipients: no valid recipient.", details={"recipients": ["At least one valid recipient."]}
        )
    return columns, first


def _apply_settings(campaign: Campaign, options: CampaignSettings) -> None:
    campaign.delay_ms = options.delay_ms
    campaign.jitter_percent = options.jitter_percent
    campaign.window_start = options.window_start
    campaign.window_end = options.window_end
    campaign.daily_cap_per_device = options.daily_cap_per_device
    campaign.rotation_device_ids = [str(d.pk) for d in options.rotation_devices if d.pk != campaign.device_id]
    campaign.failure_rate_threshold = options.failure_rate_threshold
    campaign.failure_window = options.failure_window


@transaction.atomic
def campaign_create(
    *,
    principal: Principal,
    name: str,
    device: Device,
    message: dict[str, Any],
    recipients: Iterable[rlib.Item],
    options: CampaignSettings,
    scheduled_at: datetime | None = None,
    skip_invalid: bool = False,
) -> tuple[Campaign, ImportReport]:
    """A draft with its recipients (streamed in); nothing is sent until ``campaign_send``."""
    assert principal.tenant is not None
    template = message_template(message)
    campaign = Campaign(
        tenant=principal.tenant,
        device=device,
        name=name,
        message=template,
        scheduled_at=scheduled_at,
        api_key=principal.api_key,
        created_by=principal.user if getattr(principal.user, "pk", None) else None,
    )
    _apply_settings(campaign, options)
    campaign.delay_ms = options.delay_ms
    campaign.save()
    report = ImportReport()
    columns, first = _insert_recipients(
        campaign=campaign, items=recipients, report=report, skip_invalid=skip_invalid
    )
    check_template(principal=principal, template=template, device=device, columns=columns, sample=first)
    campaign.columns = sorted(columns)
    campaign.recipient_count = report.imported
    campaign.save(update_fields=["columns", "recipient_count", "updated_at"])
    return campaign, report


def _locked(campaign: Campaign) -> Campaign:
    # Only the campaign's row: locking its device too would deadlock with a tick inserting messages.
    return (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("tenant", "device")
        .get(pk=campaign.pk)
    )


@transaction.atomic
def campaign_update(
    *,
    principal: Principal,
    campaign: Campaign,
    name: str | None = None,
    device: Device | None = None,
    message: dict[str, Any] | None = None,
    options: CampaignSettings | None = None,
    scheduled_at: datetime | bool | None = False,
    recipients: Iterable[rlib.Item] | None = None,
    skip_invalid: bool = False,
) -> tuple[Campaign, ImportReport | None]:
    """Draft, scheduled or paused campaigns only; the recipient list only before it started.
    ``scheduled_at=False`` leaves the schedule as it is, ``None`` clears it."""
    campaign = _locked(campaign)
    if campaign.status not in EDITABLE:
        raise InvalidState(
            f"A {campaign.status} campaign cannot be changed"
            + (" — pause it first." if campaign.status == Campaign.Status.RUNNING else "."),
            details={"status": [campaign.status]},
        )
    if name is not None:
        campaign.name = name
    if device is not None:
        campaign.device = device
    if message is not None:
        campaign.message = message_template(message)
    if options is not None:
        _apply_settings(campaign, options)
    if scheduled_at is not False:
        campaign.scheduled_at = scheduled_at if isinstance(scheduled_at, datetime) else None
        if campaign.status == Campaign.Status.SCHEDULED:
            campaign.next_run_at = campaign.scheduled_at or timezone.now()
    report: ImportReport | None = None
    first: rlib.Recipient | None = None
    if recipients is not None:
        if campaign.status == Campaign.Status.PAUSED:
            raise InvalidState(
                "The recipients of a campaign that has started cannot be replaced; clone it instead.",
                details={"recipients": ["Campaign already started."]},
            )
        campaign.recipients.all().delete()
        report = ImportReport()
        columns, first = _insert_recipients(
            campaign=campaign, items=recipients, report=report, skip_invalid=skip_invalid
        )
        campaign.columns = sorted(columns)
        campaign.recipient_count = report.imported
    if first is None:
        row = campaign.recipients.order_by("id").first()
        first = rlib.Recipient(phone=row.phone, name=row.name, fields=row.fields) if row else None
    check_template(
        principal=principal,
        template=campaign.message,
        device=campaign.device,
        columns=campaign.columns,
        sample=first,
    )
    campaign.save()
    if campaign.status == Campaign.Status.SCHEDULED:
        due = campaign.scheduled_at or timezone.now()
        _schedule(campaign, max(0.0, (due - timezone.now()).total_seconds()))
    return campaign, report


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    campaign = _locked(campaign)
    if campaign.status == Campaign.Status.RUNNING:
        raise InvalidState(
            "A running campaign cannot be deleted; pause or cancel it first.",
            details={"status": [campaign.status]},
        )
    campaign.recipients.all().delete()
    campaign.delete()


@transaction.atomic
def campaign_clone(*, principal: Principal, campaign: Campaign) -> Campaign:
    """A new draft with the same message, settings and recipients (none of the results)."""
    assert principal.tenant is not None
    copy = Campaign.objects.get(pk=campaign.pk)
    copy.pk = uuid.uuid4()
    copy.name = f"{campaign.name} (copy)"[:200]
    copy.status = Campaign.Status.DRAFT
    for field_name in (
        "started_at",
        "paused_at",
        "resumed_at",
        "completed_at",
        "cancelled_at",
        "next_run_at",
    ):
        setattr(copy, field_name, None)
    copy.pause_reason = copy.waiting_reason = ""
    copy.tick_seq = copy.rotation_cursor = 0
    copy.scheduled_at = None
    copy.api_key = principal.api_key
    copy.created_by = principal.user if getattr(principal.user, "pk", None) else None
    copy.created_at = timezone.now()
    copy.save(force_insert=True)
    chunk: list[CampaignRecipient] = []
    rows = campaign.recipients.order_by("id").values_list("phone", "name", "fields", "row_number")
    for phone, name, fields, row_number in rows.iterator(chunk_size=INSERT_CHUNK):
        chunk.append(
            CampaignRecipient(campaign=copy, phone=phone, name=name, fields=fields, row_number=row_number)
        )
        if len(chunk) >= INSERT_CHUNK:
            CampaignRecipient.objects.bulk_create(chunk)
            chunk = []
    CampaignRecipient.objects.bulk_create(chunk)
    return copy


# --- lifecycle -------------------------------------------------------------------------------
def _event_data(campaign: Campaign, **extra: Any) -> dict[str, Any]:
    return {
        "campaign_id": str(campaign.pk),
        "name": campaign.name,
        "status": campaign.status,
        "statistics": campaign_statistics(campaign_id=campaign.pk),
        **extra,
    }


def _schedule(campaign: Campaign, delay_seconds: float, waiting_reason: str = "") -> None:
    """The next tick: recorded on the row (the beat scheduler's safety net) and, when near enough,
    parked in Redis as a countdown. A new ``tick_seq`` makes any older queued tick a no-op."""
    from .tasks import run_campaign

    delay_seconds = max(0.0, delay_seconds)
    campaign.next_run_at = timezone.now() + timedelta(seconds=delay_seconds)
    campaign.tick_seq += 1
    campaign.waiting_reason = waiting_reason[:300]
    campaign.save(update_fields=["next_run_at", "tick_seq", "waiting_reason", "updated_at"])
    if delay_seconds <= settings.CAMPAIGN_MAX_COUNTDOWN_SECONDS:
        args = (str(campaign.pk), campaign.tick_seq)
        transaction.on_commit(lambda: run_campaign.apply_async(args, countdown=delay_seconds))


def _start(campaign: Campaign, now: datetime) -> None:
    campaign.status = Campaign.Status.RUNNING
    campaign.started_at = campaign.started_at or now
    campaign.save(update_fields=["status", "started_at", "updated_at"])
    event_emit(
        tenant_id=campaign.tenant_id,
        type="campaign.started",
        device_id=campaign.device_id,
        data=_event_data(campaign, recipient_count=campaign.recipient_count),
    )


def _pause(campaign: Campaign, *, reason: str, auto: bool) -> None:
    campaign.status = Campaign.Status.PAUSED
    campaign.paused_at = timezone.now()
    campaign.pause_reason = reason[:300]
    campaign.next_run_at = None
    campaign.waiting_reason = ""
    campaign.save(
        update_fields=["status", "paused_at", "pause_reason", "next_run_at", "waiting_reason", "updated_at"]
    )
    event_emit(
        tenant_id=campaign.tenant_id,
        type="campaign.paused",
        device_id=campaign.device_id,
        data=_event_data(campaign, reason=campaign.pause_reason, automatic=auto),
    )


def _complete(campaign: Campaign, now: datetime) -> None:
    campaign.status = Campaign.Status.COMPLETED
    campaign.completed_at = now
    campaign.next_run_at = None
    campaign.waiting_reason = ""
    campaign.save(update_fields=["status", "completed_at", "next_run_at", "waiting_reason", "updated_at"])
    event_emit(
        tenant_id=campaign.tenant_id,
        type="campaign.completed",
        device_id=campaign.device_id,
        data=_event_data(campaign),
    )


@transaction.atomic
def campaign_send(*, principal: Principal, campaign: Campaign) -> Campaign:
    """Now, or at ``scheduled_at`` when that is still ahead."""
    campaign = _locked(campaign)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise InvalidState(
            f"Only a draft or scheduled campaign can be sent; this one is {campaign.status}"
            + (" (use resume)." if campaign.status == Campaign.Status.PAUSED else "."),
            details={"status": [campaign.status]},
        )
    pending = campaign.recipients.filter(status=CampaignRecipient.Status.PENDING).count()
    check_can_send(principal=principal, device=campaign.device, count=pending)
    now = timezone.now()
    if campaign.scheduled_at and campaign.scheduled_at > now:
        campaign.status = Campaign.Status.SCHEDULED
        campaign.save(update_fields=["status", "updated_at"])
        _schedule(campaign, (campaign.scheduled_at - now).total_seconds())
    else:
        _start(campaign, now)
        _schedule(campaign, 0)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, reason: str = "Paused by the user.") -> Campaign:
    campaign = _locked(campaign)
    if campaign.status not in (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED):
        raise InvalidState(
            f"Only a running or scheduled campaign can be paused; this one is {campaign.status}.",
            details={"status": [campaign.status]},
        )
    _pause(campaign, reason=reason, auto=False)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status != Campaign.Status.PAUSED:
        raise InvalidState(
            f"Only a paused campaign can be resumed; this one is {campaign.status}.",
            details={"status": [campaign.status]},
        )
    now = timezone.now()
    campaign.status = Campaign.Status.RUNNING if campaign.started_at else Campaign.Status.SCHEDULED
    campaign.resumed_at = now
    campaign.pause_reason = ""
    campaign.save(update_fields=["status", "resumed_at", "pause_reason", "updated_at"])
    if campaign.status == Campaign.Status.SCHEDULED and campaign.scheduled_at and campaign.scheduled_at > now:
        _schedule(campaign, (campaign.scheduled_at - now).total_seconds())
    else:
        _schedule(campaign, 0)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stops for good: recipients not yet handed to messaging are never sent."""
    campaign = _locked(campaign)
    if campaign.status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED):
        raise InvalidState(
            f"A {campaign.status} campaign cannot be cancelled.", details={"status": [campaign.status]}
        )
    campaign.status = Campaign.Status.CANCELLED
    campaign.cancelled_at = timezone.now()
    campaign.next_run_at = None
    campaign.waiting_reason = ""
    campaign.save(update_fields=["status", "cancelled_at", "next_run_at", "waiting_reason", "updated_at"])
    return campaign


@transaction.atomic
def campaign_retry(*, campaign: Campaign) -> tuple[Campaign, int]:
    """The failed recipients (and only they) go again; a completed campaign runs again for them."""
    campaign = _locked(campaign)
    if campaign.status not in (Campaign.Status.COMPLETED, Campaign.Status.PAUSED, Campaign.Status.RUNNING):
        raise InvalidState(
            f"Only a started campaign can retry its failed recipients; this one is {campaign.status}.",
            details={"status": [campaign.status]},
        )
    failed_ids = campaign.recipients.filter(FAILED_RECIPIENTS).values_list("pk", flat=True)
    count = CampaignRecipient.objects.filter(pk__in=list(failed_ids)).update(
        status=CampaignRecipient.Status.PENDING,
        message=None,
        error_code="",
        error_message="",
        queued_at=None,
    )
    if not count:
        raise InvalidState(
            "No recipient of this campaign has failed.", details={"recipients": ["None failed."]}
        )
    campaign.resumed_at = timezone.now()  # older failures no longer count towards an auto-pause
    campaign.save(update_fields=["resumed_at", "updated_at"])
    if campaign.status == Campaign.Status.COMPLETED:
        campaign.status = Campaign.Status.RUNNING
        campaign.completed_at = None
        campaign.save(update_fields=["status", "completed_at", "updated_at"])
        _schedule(campaign, 0)
    return campaign, count


# --- the engine ------------------------------------------------------------------------------
def _jittered(campaign: Campaign) -> float:
    return campaign.delay_ms / 1000.0 * (1 + random.uniform(0, campaign.jitter_percent / 100.0))


def slice_size(campaign: Campaign) -> int:
    """About a second's worth of recipients (one when the delay is a second or more)."""
    if campaign.delay_ms >= 1000:
        return 1
    return max(1, min(settings.CAMPAIGN_SLICE_MAX, 1000 // max(1, campaign.delay_ms)))


def in_flight_count(campaign: Campaign) -> int:
    """Handed to messaging but not sent yet: few rows, found from the message status index."""
    return Message.objects.filter(status__in=IN_FLIGHT, campaign_recipient__campaign=campaign).count()


def failure_spike(campaign: Campaign) -> str:
    """The reason to auto-pause when the last N settled sends failed too often, else ''."""
    window = campaign.failure_window
    if not window:
        return ""
    recent = campaign.recipients.filter(status=CampaignRecipient.Status.QUEUED, message__status__in=SETTLED)
    if campaign.resumed_at:
        recent = recent.filter(queued_at__gte=campaign.resumed_at)
    statuses = list(recent.order_by("-queued_at", "-id").values_list("message__status", flat=True)[:window])
    if len(statuses) < window:
        return ""
    failed = sum(1 for s in statuses if s in ("failed", "cancelled"))
    if failed / window < campaign.failure_rate_threshold:
        return ""
    return (
        f"{failed} of the last {window} sends failed ({failed / window:.0%}, threshold "
        f"{campaign.failure_rate_threshold:.0%}); check the numbers and the device, then resume."
    )


def _devices(campaign: Campaign) -> list[Device]:
    rows = {
        str(d.pk): d
        for d in Device.objects.filter(
            pk__in=campaign.device_ids, tenant_id=campaign.tenant_id, deleted_at__isnull=True
        ).select_related("node")
    }
    return [rows[i] for i in campaign.device_ids if i in rows]


def sent_today(device: Device, now: datetime) -> int:
    return Message.objects.filter(
        device=device, direction=Message.Direction.OUT, created_at__gte=schedule.wib_day_start(now)
    ).count()


def campaign_tick(*, campaign_id: uuid.UUID, seq: int) -> int:
    """One step of the engine, under the campaign's row lock: checks, then one slice, then the next tick.

    A tick whose ``seq`` is not the campaign's current one is a duplicate (a redelivered or superseded
    task) and does nothing; a recipient is handed over only while it is ``pending``, in the same
    transaction that links it to its (unique) message, so nobody is sent twice. Returns how many
    recipients it handed over."""
    now = timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",))
            .select_related("tenant", "api_key")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None or campaign.tick_seq != seq:
            return 0
        if campaign.status == Campaign.Status.SCHEDULED:
            if campaign.scheduled_at and campaign.scheduled_at > now:
                _schedule(campaign, (campaign.scheduled_at - now).total_seconds())
                return 0
            _start(campaign, now)
        if campaign.status != Campaign.Status.RUNNING:
            return 0
        return _step(campaign, now)


def _step(campaign: Campaign, now: datetime) -> int:
    spike = failure_spike(campaign)
    if spike:
        _pause(campaign, reason=spike, auto=True)
        return 0
    devices = _devices(campaign)
    if not devices or all(d.status == Device.Status.LOGGED_OUT for d in devices):
        names = ", ".join(d.name for d in devices) or "its device"
        _pause(
            campaign,
            reason=f"The device ({names}) was logged out of WhatsApp or removed; link it again and resume.",
            auto=True,
        )
        return 0
    if not schedule.in_window(now, campaign.window_start, campaign.window_end):
        opens = schedule.next_window_open(now, campaign.window_start, campaign.window_end)
        _schedule(
            campaign,
            (opens - now).total_seconds(),
            f"Outside the send window {schedule.hhmm(campaign.window_start)}–"
            f"{schedule.hhmm(campaign.window_end)} WIB; continues {schedule.wib_label(opens)}.",
        )
        return 0
    size = slice_size(campaign)
    if in_flight_count(campaign) >= size:
        # The previous slice is still being sent (device pacing is slower than the campaign's delay).
        _schedule(campaign, max(0.5, _jittered(campaign)))
        return 0
    connected = [
        d
        for d in devices
        if d.status == Device.Status.CONNECTED and not (d.paused_until and d.paused_until > now)
    ]
    if not connected:
        _schedule(campaign, 10.0, "Waiting for the device to be connected.")
        return 0
    room: dict[uuid.UUID, int] = {}
    if campaign.daily_cap_per_device:
        room = {d.pk: campaign.daily_cap_per_device - sent_today(d, now) for d in connected}
        connected = [d for d in connected if room[d.pk] > 0]
        if not connected:
            midnight = schedule.next_wib_midnight(now)
            _schedule(
                campaign,
                (midnight - now).total_seconds(),
                f"Daily cap of {campaign.daily_cap_per_device} messages per device reached; "
                f"continues {schedule.wib_label(midnight)}.",
            )
            return 0
    batch = list(campaign.recipients.filter(status=CampaignRecipient.Status.PENDING).order_by("id")[:size])
    if not batch:
        if in_flight_count(campaign):
            _schedule(campaign, 2.0)
        else:
            _complete(campaign, now)
        return 0
    return _release(campaign, batch, connected, room, now)


def _release(
    campaign: Campaign,
    batch: list[CampaignRecipient],
    connected: list[Device],
    room: dict[uuid.UUID, int],
    now: datetime,
) -> int:
    principal = campaign_principal(campaign)
    cache = {str(d.pk): d for d in connected}
    items: list[tuple[int, Outgoing]] = []
    by_index: dict[int, CampaignRecipient] = {}
    refused_early: list[CampaignRecipient] = []
    for recipient in batch:
        usable = [d for d in connected if not room or room[d.pk] > 0]
        if not usable:
            break
        device = usable[campaign.rotation_cursor % len(usable)]
        campaign.rotation_cursor += 1
        if room:
            room[device.pk] -= 1
        try:
            outgoing = render_outgoing(
                principal=principal,
                template=campaign.message,
                device=device,
                recipient=rlib.Recipient(phone=recipient.phone, name=recipient.name, fields=recipient.fields),
                devices=cache,
                campaign_id=campaign.pk,
            )
        except WavoraError as exc:
            recipient.status = CampaignRecipient.Status.FAILED
            recipient.error_code = exc.code[:50]
            recipient.error_message = exc.message
            recipient.attempts += 1
            recipient.device = device
            refused_early.append(recipient)
            continue
        by_index[recipient.pk] = recipient
        items.append((recipient.pk, outgoing))
    _job, accepted, refused = (
        messages_accept_batch(principal=principal, items=items) if items else (None, [], {})
    )
    linked: list[CampaignRecipient] = []
    by_device: dict[uuid.UUID, list[int]] = {}
    for index, message in accepted:
        recipient = by_index[index]
        recipient.message = message
        linked.append(recipient)
        by_device.setdefault(message.device_id, []).append(recipient.pk)
    # The per-row link in one statement; what all rows share in plain UPDATEs (bulk_update of every
    # field costs twice the rest of the slice).
    CampaignRecipient.objects.bulk_update(linked, ["message"])
    for device_id, pks in by_device.items():
        CampaignRecipient.objects.filter(pk__in=pks).update(
            status=CampaignRecipient.Status.QUEUED,
            device_id=device_id,
            queued_at=now,
            attempts=F("attempts") + 1,
        )
    if refused_early:
        CampaignRecipient.objects.bulk_update(
            refused_early, ["status", "device", "attempts", "error_code", "error_message"]
        )
    campaign.save(update_fields=["rotation_cursor", "updated_at"])
    if refused:
        # Quota, subscription: nothing more can go until the tenant acts; the rest stays pending.
        refusal = next(iter(refused.values()))
        _pause(campaign, reason=f"{refusal.code}: {refusal.message}", auto=True)
        return len(linked)
    _schedule(campaign, sum(_jittered(campaign) for _ in range(max(1, len(batch)))))
    return len(linked)


def campaigns_wake_due(*, now: datetime | None = None, grace_seconds: float | None = None) -> int:
    """Beat's safety net: scheduled campaigns that are due and running ones whose tick was lost (a
    worker died, Redis restarted, the wait was too long to park) get a fresh tick."""
    now = now or timezone.now()
    grace = settings.CAMPAIGN_SCHEDULER_INTERVAL_SECONDS if grace_seconds is None else grace_seconds
    due = list(
        Campaign.objects.filter(
            status__in=(Campaign.Status.RUNNING, Campaign.Status.SCHEDULED),
            next_run_at__lte=now - timedelta(seconds=grace),
        ).values_list("pk", flat=True)[:500]
    )
    woken = 0
    for campaign_id in due:
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
            if campaign is None or campaign.status not in (
                Campaign.Status.RUNNING,
                Campaign.Status.SCHEDULED,
            ):
                continue
            if campaign.next_run_at is None or campaign.next_run_at > now - timedelta(seconds=grace):
                continue
            _schedule(campaign, 0, campaign.waiting_reason)
            woken += 1
    return woken


def tenant_campaign_devices(*, tenant: Tenant, ids: Iterable[Any]) -> list[Device]:
    from devices.selectors import device_of_tenant

    return [device_of_tenant(tenant_id=tenant.pk, device_id=i) for i in ids]
