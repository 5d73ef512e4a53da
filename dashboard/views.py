"""Dashboard pages: thin views over the same services and selectors the API uses."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from devices import services as device_services
from devices.models import Device
from devices.selectors import devices_of_tenant
from messaging import compose
from messaging import services as message_services
from messaging.models import Message
from messaging.selectors import message_logs_of_tenant
from tenants import services as tenant_services
from tenants.authentication import principal_for_user
from tenants.selectors import (
    invitation_of_tenant,
    member_of_tenant,
    members_of_tenant,
    pending_invitations_of_tenant,
)
from wavora.api.errors import WavoraError
from wavora.phones import normalize_recipient

from . import selectors
from .errors import add_service_error
from .forms import (
    DeviceCreateForm,
    DeviceSettingsForm,
    InviteForm,
    MessageFilterForm,
    PairingCodeForm,
    RoleForm,
    SendForm,
)
from .service_messages import error_message
from .templatetags.wavora import status_label
from .tenancy import MANAGERS, TenantViewMixin

WIB = ZoneInfo("Asia/Jakarta")
PAGE_SIZE = 25


class OverviewView(TenantViewMixin, TemplateView):
    template_name = "dashboard/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        devices = selectors.devices_for_overview(tenant_id=self.tenant.id)
        chart = selectors.chart_of_tenant(tenant_id=self.tenant.id)
        usage = selectors.usage_of_tenant(tenant=self.tenant, devices=devices)
        context.update(
            devices=devices,
            device_rows=[(device, usage.devices.get(device.pk)) for device in devices],
            connected=sum(1 for d in devices if d.status == Device.Status.CONNECTED),
            usage=usage,
            chart=chart,
            svg=selectors.chart_svg_bars(chart),
            legend=[
                (name, selectors.SERIES_COLORS[name], chart.totals[name])
                for name, _ in selectors.CHART_SERIES
            ],
            failures=selectors.recent_failures(tenant_id=self.tenant.id),
        )
        return context


# --- devices -----------------------------------------------------------------------------------
class DevicesView(TenantViewMixin, View):
    template_name = "dashboard/devices/list.html"

    def _render(self, request: HttpRequest, form: DeviceCreateForm, status: int = 200) -> HttpResponse:
        devices = devices_of_tenant(tenant_id=self.tenant.id).order_by("name")
        context = {
            "devices": devices,
            "form": form,
            "tenant": self.tenant,
            "membership": self.membership,
            "device_limit": self.tenant.device_limit,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, DeviceCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = DeviceCreateForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        try:
            device = device_services.device_create(tenant=self.tenant, name=form.cleaned_data["name"])
        except WavoraError as exc:
            add_service_error(form, exc)
            return self._render(request, form, status=400)
        messages.success(request, _("Device created. Scan the QR code to link your WhatsApp."))
        return redirect("dashboard:device_detail", device_id=device.pk)


def _device_or_404(tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device:
    device = devices_of_tenant(tenant_id=tenant_id).filter(pk=device_id).first()
    if device is None:
        raise Http404(_("Device not found."))
    return device


class DeviceDetailView(TenantViewMixin, View):
    """The device page; POST ``action`` = qr | code | reconnect | logout | delete | settings."""

    template_name = "dashboard/devices/detail.html"

    def _render(self, request: HttpRequest, device: Device, status: int = 200, **extra: Any) -> HttpResponse:
        context: dict[str, Any] = {
            "device": device,
            "tenant": self.tenant,
            "membership": self.membership,
            "settings_form": DeviceSettingsForm(
                initial={
                    "name": device.name,
                    "auto_read_enabled": device.auto_read_enabled,
                    "typing_enabled": device.typing_enabled,
                    "auto_reply_enabled": device.auto_reply_enabled,
                    "send_interval_ms": device.send_interval_ms,
                }
            ),
            "code_form": PairingCodeForm(),
            "ws_path": f"/ws/?device_id={device.pk}",
        }
        context.update(extra)
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, device_id: uuid.UUID) -> HttpResponse:
        return self._render(request, _device_or_404(self.tenant.id, device_id))

    def post(self, request: HttpRequest, device_id: uuid.UUID) -> HttpResponse:
        device = _device_or_404(self.tenant.id, device_id)
        action = request.POST.get("action", "")
        handler = {
            "qr": self._qr,
            "code": self._code,
            "reconnect": self._reconnect,
            "logout": self._logout,
            "delete": self._delete,
            "settings": self._settings,
        }.get(action)
        if handler is None:
            messages.error(request, _("Unknown action."))
            return self._render(request, device, status=400)
        return handler(request, device)

    def _qr(self, request: HttpRequest, device: Device) -> HttpResponse:
        try:
            qr = device_services.device_login_qr(device=device)
        except WavoraError as exc:
            messages.error(request, error_message(exc))
            return redirect("dashboard:device_detail", device_id=device.pk)
        device.refresh_from_db()
        return self._render(request, device, qr_image=qr.data_url, qr_seconds=qr.duration_seconds)

    def _code(self, request: HttpRequest, device: Device) -> HttpResponse:
        form = PairingCodeForm(request.POST)
        if not form.is_valid():
            return self._render(request, device, status=400, code_form=form)
        try:
            phone = normalize_recipient(form.cleaned_data["phone"], field="phone")
            code = device_services.device_login_code(device=device, phone=phone)
        except WavoraError as exc:
            add_service_error(form, exc)
            return self._render(request, device, status=400, code_form=form)
        device.refresh_from_db()
        return self._render(request, device, pairing_code=code, code_form=form)

    def _reconnect(self, request: HttpRequest, device: Device) -> HttpResponse:
        return self._run(request, device, device_services.device_reconnect, _("Reconnect requested."))

    def _logout(self, request: HttpRequest, device: Device) -> HttpResponse:
        done = _("The device was logged out of WhatsApp.")
        return self._run(request, device, device_services.device_logout, done)

    def _run(self, request: HttpRequest, device: Device, service: Any, done: str) -> HttpResponse:
        """A device service whose outcome is a flash message on the device page."""
        try:
            service(device=device)
            messages.success(request, done)
        except WavoraError as exc:
            messages.error(request, error_message(exc))
        return redirect("dashboard:device_detail", device_id=device.pk)

    def _delete(self, request: HttpRequest, device: Device) -> HttpResponse:
        try:
            device_services.device_delete(device=device)
        except WavoraError as exc:
            messages.error(request, error_message(exc))
            return redirect("dashboard:device_detail", device_id=device.pk)
        messages.success(request, _("Device %(name)s deleted.") % {"name": device.name})
        return redirect("dashboard:devices")

    def _settings(self, request: HttpRequest, device: Device) -> HttpResponse:
        form = DeviceSettingsForm(request.POST)
        if not form.is_valid():
            return self._render(request, device, status=400, settings_form=form)
        device_services.device_update(device=device, **form.cleaned_data)
        messages.success(request, _("Settings saved."))
        return redirect("dashboard:device_detail", device_id=device.pk)


class DeviceStatusView(TenantViewMixin, View):
    """The device's status as JSON: the page's fallback when the WebSocket is unavailable."""

    def get(self, request: HttpRequest, device_id: uuid.UUID) -> HttpResponse:
        device = _device_or_404(self.tenant.id, device_id)
        return JsonResponse(
            {"status": device.status, "label": _status_label(device.status), "phone": device.phone}
        )


def _status_label(status: str) -> str:
    return str(status_label(status))


# --- send --------------------------------------------------------------------------------------
class SendView(TenantViewMixin, View):
    template_name = "dashboard/send.html"

    def _render(self, request: HttpRequest, form: SendForm, status: int = 200, **extra: Any) -> HttpResponse:
        context = {
            "form": form,
            "tenant": self.tenant,
            "membership": self.membership,
            "fields_by_type": SendForm.FIELDS_BY_TYPE,
            **extra,
        }
        return render(request, self.template_name, context, status=status)

    def _devices(self) -> list[Device]:
        return list(devices_of_tenant(tenant_id=self.tenant.id).order_by("name"))

    def get(self, request: HttpRequest) -> HttpResponse:
        devices = self._devices()
        initial = {"device_id": request.GET.get("device", "")}
        return self._render(request, SendForm(devices=devices, initial=initial), no_devices=not devices)

    def post(self, request: HttpRequest) -> HttpResponse:
        devices = self._devices()
        form = SendForm(request.POST, request.FILES, devices=devices)
        if not form.is_valid():
            return self._render(request, form, status=400)
        principal = principal_for_user(request.user)
        assert principal is not None
        message_type = form.cleaned_data["type"]
        body = form.api_body()
        try:
            attrs = compose.validate_item(message_type, body)
            item = compose.build_outgoing(
                principal=principal, message_type=message_type, attrs=attrs, original=compose.json_safe(body)
            )
            message = message_services.message_accept(principal=principal, item=item)
        except WavoraError as exc:
            add_service_error(
                form,
                exc,
                aliases={"media": "file", "buttons": "choices", "sections": "choices", "phone": "to"},
            )
            return self._render(request, form, status=400)
        messages.success(request, _("Message queued for delivery."))
        return redirect("dashboard:message_detail", message_id=message.pk)


# --- message logs ------------------------------------------------------------------------------
def _wib_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=WIB)


class MessagesView(TenantViewMixin, View):
    template_name = "dashboard/messages/list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        devices = list(devices_of_tenant(tenant_id=self.tenant.id).order_by("name"))
        form = MessageFilterForm(request.GET or None, devices=devices)
        filters: dict[str, Any] = {}
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            phone = ""
            if data["phone"]:
                try:
                    phone = normalize_recipient(data["phone"], field="phone")
                except WavoraError as exc:
                    add_service_error(form, exc)
            filters = {
                "device_id": uuid.UUID(data["device"]) if data["device"] else None,
                "direction": data["direction"],
                "status": data["status"],
                "type": data["type"],
                "phone": phone,
                "created_from": _wib_midnight(data["date_from"]) if data["date_from"] else None,
                "created_before": (
                    _wib_midnight(data["date_to"] + dt.timedelta(days=1)) if data["date_to"] else None
                ),
            }
        invalid = form.is_bound and bool(form.errors)
        logs = (
            Message.objects.none() if invalid else message_logs_of_tenant(tenant_id=self.tenant.id, **filters)
        )
        page = Paginator(logs, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "tenant": self.tenant,
            "membership": self.membership,
        }
        return render(request, self.template_name, context, status=400 if invalid else 200)


class MessageDetailView(TenantViewMixin, View):
    template_name = "dashboard/messages/detail.html"

    def get(self, request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
        message = (
            message_logs_of_tenant(tenant_id=self.tenant.id)
            .prefetch_related("history")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            raise Http404(_("Message not found."))
        context = {
            "message": message,
            "tenant": self.tenant,
            "membership": self.membership,
            "text": (message.original_payload_json or {}).get("text"),
        }
        return render(request, self.template_name, context)


# --- team --------------------------------------------------------------------------------------
class TeamView(TenantViewMixin, View):
    """Members, their roles and pending invitations. Owners and admins only."""

    allowed_roles = MANAGERS
    template_name = "dashboard/team.html"

    def _render(self, request: HttpRequest, form: InviteForm, status: int = 200) -> HttpResponse:
        members = members_of_tenant(tenant=self.tenant)
        context = {
            "members": [(m, RoleForm(initial={"role": m.role}, prefix=f"m{m.pk}")) for m in members],
            "invitations": pending_invitations_of_tenant(tenant=self.tenant),
            "form": form,
            "tenant": self.tenant,
            "membership": self.membership,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, InviteForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = InviteForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        try:
            invitation, token = tenant_services.invitation_create(
                tenant=self.tenant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                acting_role=self.membership.role,
            )
            accept_url = request.build_absolute_uri(reverse("accounts:invitation_accept", args=[token]))
            tenant_services.invitation_send_email(invitation=invitation, accept_url=accept_url)
        except WavoraError as exc:
            add_service_error(form, exc)
            return self._render(request, form, status=400)
        messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
        return redirect("dashboard:team")


class TeamMemberView(TenantViewMixin, View):
    """POST ``action`` = role | remove for one membership of the tenant."""

    allowed_roles = MANAGERS

    def post(self, request: HttpRequest, membership_id: int) -> HttpResponse:
        member = member_of_tenant(tenant=self.tenant, membership_id=membership_id)
        if member is None:
            raise Http404(_("Member not found."))
        try:
            if request.POST.get("action") == "remove":
                tenant_services.membership_remove(membership=member, acting_role=self.membership.role)
                messages.success(
                    request, _("%(email)s was removed from the team.") % {"email": member.user.email}
                )
            else:
                form = RoleForm(request.POST, prefix=f"m{member.pk}")
                if not form.is_valid():
                    messages.error(request, _("Choose a valid role."))
                    return redirect("dashboard:team")
                tenant_services.membership_change_role(
                    membership=member, role=form.cleaned_data["role"], acting_role=self.membership.role
                )
                messages.success(request, _("Role updated."))
        except WavoraError as exc:
            messages.error(request, error_message(exc))
        return redirect("dashboard:team")


class InvitationRevokeView(TenantViewMixin, View):
    allowed_roles = MANAGERS

    def post(self, request: HttpRequest, invitation_id: uuid.UUID) -> HttpResponse:
        invitation = invitation_of_tenant(tenant=self.tenant, invitation_id=invitation_id)
        if invitation is None:
            raise Http404(_("Invitation not found."))
        tenant_services.invitation_revoke(invitation=invitation)
        messages.success(request, _("Invitation to %(email)s revoked.") % {"email": invitation.email})
        return redirect("dashboard:team")
