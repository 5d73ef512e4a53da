"""Campaign pages: list, create from a CSV (upload → preview with row errors → confirm), detail with a
live progress bar, the lifecycle buttons and the export. Every write goes through `campaigns.services`
(the same functions the API calls); times are entered and shown in WIB."""

from __future__ import annotations

import csv
import uuid
from datetime import datetime, time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from campaigns import recipients as rlib
from campaigns import selectors, services
from campaigns.apis import export_rows, recipient_data
from campaigns.models import Campaign
from devices.models import Device
from devices.selectors import device_of_tenant, devices_of_tenant
from tenants.principal import ALL_SCOPES, MEMBER_SCOPES, Principal
from wavora.api.errors import WavoraError

from .integration_forms import device_choices
from .integration_views import TenantAction, TenantPage
from .service_bridge import add_service_errors
from .tenancy import MANAGERS

CAMPAIGNS_PER_PAGE = 25
RECIPIENTS_PER_PAGE = 50
PREVIEW_ROWS = 20
_UPLOAD_SESSION_KEY = "dashboard_campaign_upload"
STATUS_LABELS = {
    "draft": _lazy("Draft"),
    "scheduled": _lazy("Scheduled"),
    "running": _lazy("Running"),
    "paused": _lazy("Paused"),
    "completed": _lazy("Completed"),
    "cancelled": _lazy("Cancelled"),
}
RECIPIENT_LABELS = {
    "pending": _lazy("Pending"),
    "sent": _lazy("Sent"),
    "delivered": _lazy("Delivered"),
    "read": _lazy("Read"),
    "failed": _lazy("Failed"),
}


def principal_for(view: Any) -> Principal:
    """The signed-in member as the services know callers (the dashboard has no API key)."""
    role = view.membership.role
    scopes = ALL_SCOPES if role in MANAGERS else MEMBER_SCOPES
    return Principal(tenant=view.tenant, scopes=frozenset(scopes), user=view.request.user, role=role)


class CampaignForm(forms.Form):
    name = forms.CharField(label=_lazy("Name"), max_length=200)
    device_id = forms.ChoiceField(label=_lazy("Sending device"))
    message = forms.CharField(
        label=_lazy("Message"),
        max_length=4096,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": "Halo {{Name}}, promo akhir tahun di {{Company}}!"}
        ),
        help_text=_lazy("{{Column}} is replaced by the recipient's value from the CSV (e.g. {{Name}})."),
    )
    file = forms.FileField(
        label=_lazy("Recipients (CSV)"), help_text=_lazy("UTF-8, comma or semicolon, a phone column.")
    )
    delay_seconds = forms.FloatField(
        label=_lazy("Delay between messages (seconds)"), min_value=0, max_value=3600, initial=3
    )
    window_start = forms.TimeField(
        label=_lazy("Send from (WIB)"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    window_end = forms.TimeField(
        label=_lazy("Send until (WIB)"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    daily_cap = forms.IntegerField(label=_lazy("Daily cap per device"), required=False, min_value=1)
    rotation_device_ids = forms.MultipleChoiceField(
        label=_lazy("Also rotate across"), required=False, widget=forms.CheckboxSelectMultiple
    )
    scheduled_at = forms.DateTimeField(
        label=_lazy("Start at (WIB)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_lazy("Empty: it starts when you press Send."),
    )

    def __init__(self, *args: Any, devices: list[Device], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = device_choices(devices)
        self.fields["device_id"].choices = choices  # type: ignore[attr-defined]
        self.fields["rotation_device_ids"].choices = choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("window_start")) != bool(data.get("window_end")):
            self.add_error("window_end", _("Give both ends of the send window, or neither."))
        upload = data.get("file")
        if upload is not None and upload.size > settings.CAMPAIGN_CSV_MAX_BYTES:
            self.add_error(
                "file", _("The file is larger than %(max)s bytes.") % {"max": settings.CAMPAIGN_CSV_MAX_BYTES}
            )
        return data

    def settings_payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "delay_ms": round(data["delay_seconds"] * 1000),
            "window_start": data["window_start"].strftime("%H:%M") if data.get("window_start") else None,
            "window_end": data["window_end"].strftime("%H:%M") if data.get("window_end") else None,
            "daily_cap": data.get("daily_cap"),
            "rotation": list(data.get("rotation_device_ids") or []),
        }


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        label=_lazy("Start at (WIB)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_lazy("Empty: it starts when you press Send."),
    )


class RecipientFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_lazy("Status"),
        required=False,
        choices=[("", _lazy("All")), *RECIPIENT_LABELS.items()],
    )


def _progress(campaign: Campaign) -> dict[str, Any]:
    stats = selectors.campaign_statistics(campaign_id=campaign.pk)
    done = stats["total"] - stats["pending"]
    return {
        "status": campaign.status,
        "status_label": str(STATUS_LABELS[campaign.status]),
        "statistics": stats,
        "percent": round(100 * done / stats["total"], 1) if stats["total"] else 0.0,
        "pause_reason": campaign.pause_reason,
        "waiting_reason": campaign.waiting_reason,
    }


class CampaignPageMixin:
    tenant: Any
    kwargs: dict[str, Any]
    membership: Any
    request: HttpRequest

    def get_campaign(self) -> Campaign:
        return selectors.campaign_of(principal_for(self), self.kwargs["campaign_id"])

    def get_devices(self) -> list[Device]:
        return list(devices_of_tenant(tenant_id=self.tenant.pk).order_by("name"))


class CampaignListView(CampaignPageMixin, TenantPage):
    template_name = "dashboard/campaigns/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = Paginator(selectors.campaigns_of(principal_for(self)), CAMPAIGNS_PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        context["rows"] = [{"campaign": c, **_progress(c)} for c in page.object_list]
        context["page"] = page
        return context


class CampaignCreateView(CampaignPageMixin, TenantPage):
    """Step 1: the form and the CSV. A valid upload is kept in storage and previewed (step 2)."""

    template_name = "dashboard/campaigns/new.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = CampaignForm(devices=self.get_devices())
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = CampaignForm(request.POST, request.FILES, devices=self.get_devices())
        if form.is_valid():
            try:
                preview = self._preview(form)
            except WavoraError as exc:
                add_service_errors(form, exc, field_map={"message": "message"})
            else:
                self.template_name = "dashboard/campaigns/preview.html"
                return self.render_to_response(self.get_context_data(preview=preview))
        return self.render_to_response(self.get_context_data(form=form))

    def _preview(self, form: CampaignForm) -> dict[str, Any]:
        upload = form.cleaned_data["file"]
        reader = rlib.CsvReader(upload)
        seen = rlib.preview(reader, keep=PREVIEW_ROWS, keep_problems=200)
        listed = seen.recipients
        template = {"type": "text", "text": form.cleaned_data["message"]}
        columns = {rlib.norm_key(h) for h in reader.header}
        unknown = rlib.unknown_placeholders(template, columns)
        if unknown:
            raise WavoraError(
                _("Unknown placeholder {{%(name)s}}: the CSV has no such column.") % {"name": unknown[0]},
                details={"message": [_("Unknown placeholder {{%(name)s}}.") % {"name": p} for p in unknown]},
            )
        if not seen.valid:
            raise WavoraError(
                _("The CSV has no valid recipient."), details={"file": [_("No valid recipient.")]}
            )
        upload.seek(0)
        key = default_storage.save(
            f"campaign-uploads/{self.tenant.pk}/{uuid.uuid4()}.csv", ContentFile(upload.read())
        )
        token = uuid.uuid4().hex
        data = form.cleaned_data
        self.request.session[_UPLOAD_SESSION_KEY] = {
            "token": token,
            "storage_key": key,
            "name": data["name"],
            "device_id": data["device_id"],
            "message": data["message"],
            "scheduled_at": data["scheduled_at"].isoformat() if data.get("scheduled_at") else None,
            **form.settings_payload(),
        }
        first = listed[0]
        return {
            "token": token,
            "name": data["name"],
            "header": reader.header,
            "recipients": listed,
            "sample_text": rlib.render(template["text"], rlib.lookup_of(first)),
            "errors": seen.errors,
            "duplicate_rows": seen.duplicate_rows,
            "valid": seen.valid,
            "invalid": seen.invalid,
            "duplicates": seen.duplicates,
        }


class CampaignConfirmView(CampaignPageMixin, TenantAction):
    """Step 2 → the campaign: the kept upload is imported (valid rows; bad rows and duplicates skipped)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        kept = request.session.get(_UPLOAD_SESSION_KEY)
        if not kept or kept.get("token") != request.POST.get("token"):
            messages.error(request, _("That upload is no longer available; upload the CSV again."))
            return redirect("dashboard:campaign_create")
        del request.session[_UPLOAD_SESSION_KEY]
        rotation = [device_of_tenant(tenant_id=self.tenant.pk, device_id=i) for i in kept["rotation"]]
        options = services.CampaignSettings(
            delay_ms=kept["delay_ms"],
            window_start=_time(kept["window_start"]),
            window_end=_time(kept["window_end"]),
            daily_cap_per_device=kept["daily_cap"],
            rotation_devices=rotation,
        )
        try:
            with default_storage.open(kept["storage_key"], "rb") as handle:
                campaign, report = services.campaign_create(
                    principal=principal_for(self),
                    name=kept["name"],
                    device=device_of_tenant(tenant_id=self.tenant.pk, device_id=kept["device_id"]),
                    message={"type": "text", "text": kept["message"]},
                    recipients=rlib.CsvReader(handle),
                    options=options,
                    scheduled_at=_datetime(kept["scheduled_at"]),
                    skip_invalid=True,
                )
        except WavoraError as exc:
            messages.error(request, exc.message)
            return redirect("dashboard:campaign_create")
        finally:
            default_storage.delete(kept["storage_key"])
        messages.success(
            request,
            _(
                "Campaign created with %(count)s recipients "
                "(%(invalid)s invalid rows and %(dupes)s duplicates skipped)."
            )
            % {"count": report.imported, "invalid": report.invalid, "dupes": report.duplicates},
        )
        return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)


def _time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class CampaignDetailView(CampaignPageMixin, TenantPage):
    template_name = "dashboard/campaigns/detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        campaign = self.get_campaign()
        filters = RecipientFilterForm(self.request.GET or None)
        status = filters.cleaned_data.get("status") if filters.is_valid() else ""
        rows = selectors.recipients_of(campaign=campaign, status=status or None)
        page = Paginator(rows, RECIPIENTS_PER_PAGE).get_page(self.request.GET.get("page"))
        names = {str(d.pk): d.name for d in self.get_devices()}
        context.update(
            campaign=campaign,
            progress=_progress(campaign),
            recipient_labels=RECIPIENT_LABELS,
            filters=filters,
            page=page,
            query=urlencode({"status": status}) if status else "",
            recipients=[recipient_data(r) for r in page.object_list],
            device_name=names.get(str(campaign.device_id), ""),
            rotation_names=[names.get(str(i), str(i)) for i in campaign.rotation_device_ids or []],
            actions=_actions_for(campaign.status),
            schedule_form=(
                ScheduleForm(initial={"scheduled_at": campaign.scheduled_at})
                if campaign.status in services.EDITABLE
                else None
            ),
            message_text=campaign.message.get("text") or campaign.message.get("caption") or "",
        )
        return context


def _actions_for(status: str) -> list[str]:
    return {
        "draft": ["send", "clone", "delete"],
        "scheduled": ["send", "pause", "cancel", "clone", "delete"],
        "running": ["pause", "cancel", "retry", "clone"],
        "paused": ["resume", "cancel", "retry", "clone", "delete"],
        "completed": ["retry", "clone", "delete"],
        "cancelled": ["clone", "delete"],
    }[status]


class CampaignScheduleView(CampaignPageMixin, TenantAction):
    """Sets or clears the start time (WIB) of a draft, scheduled or paused campaign."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        campaign = self.get_campaign()
        form = ScheduleForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for e in form.errors.get("scheduled_at", [])))
            return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)
        try:
            services.campaign_update(
                principal=principal_for(self),
                campaign=campaign,
                scheduled_at=form.cleaned_data["scheduled_at"],
            )
        except WavoraError as exc:
            if exc.status_code == 404:
                raise
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Schedule saved."))
        return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)


class CampaignProgressView(CampaignPageMixin, TenantPage):
    """The small JSON the detail page polls for its progress bar and counts."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return JsonResponse(_progress(self.get_campaign()))


class CampaignActionView(CampaignPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        campaign = self.get_campaign()
        action = kwargs["action"]
        principal = principal_for(self)
        try:
            if action == "send":
                campaign = services.campaign_send(principal=principal, campaign=campaign)
                done = _("Campaign scheduled.") if campaign.status == "scheduled" else _("Campaign started.")
            elif action == "pause":
                services.campaign_pause(campaign=campaign)
                done = _("Campaign paused.")
            elif action == "resume":
                services.campaign_resume(campaign=campaign)
                done = _("Campaign resumed.")
            elif action == "cancel":
                services.campaign_cancel(campaign=campaign)
                done = _("Campaign cancelled.")
            elif action == "retry":
                _campaign, count = services.campaign_retry(campaign=campaign)
                done = _("%(count)s failed recipients queued again.") % {"count": count}
            elif action == "clone":
                copy = services.campaign_clone(principal=principal, campaign=campaign)
                messages.success(request, _("Campaign cloned as a draft."))
                return redirect("dashboard:campaign_detail", campaign_id=copy.pk)
            elif action == "delete":
                services.campaign_delete(campaign=campaign)
                messages.success(request, _("Campaign deleted."))
                return redirect("dashboard:campaigns")
            else:
                raise Http404("Unknown action.")
        except WavoraError as exc:
            if exc.status_code == 404:
                raise
            messages.error(request, exc.message)
        else:
            messages.success(request, done)
        return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)


class CsvTemplateView(TenantPage):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = HttpResponse(rlib.csv_template(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="whatsapp_campaign_template.csv"'
        return response


class _Echo:
    def write(self, value: str) -> str:
        return value


class CampaignExportView(CampaignPageMixin, TenantPage):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:  # type: ignore[override]
        campaign = self.get_campaign()
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in export_rows(campaign)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
        return response
