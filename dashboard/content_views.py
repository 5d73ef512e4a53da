"""Auto-replies and contacts pages, through `messaging.autoreply` and `messaging.contacts` (the same
functions the API calls)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from devices.gowa import GowaError
from devices.models import Device
from devices.selectors import device_of_tenant, devices_of_tenant
from messaging import autoreply, contacts
from messaging.apis import _sync_error
from messaging.models import AutoReplyRule
from wavora.api.errors import WavoraError

from .integration_forms import AutoReplyRuleForm, ContactSearchForm
from .integration_views import TenantAction, TenantPage
from .service_bridge import add_service_errors
from .service_messages import error_message

CONTACTS_PER_PAGE = 50


# --- auto-replies ----------------------------------------------------------------------------
class AutoReplyPageMixin:
    tenant: Any
    kwargs: dict[str, Any]

    def get_rule(self) -> AutoReplyRule:
        return autoreply.rule_of_tenant(tenant_id=self.tenant.pk, rule_id=self.kwargs["rule_id"])

    def get_devices(self) -> list[Device]:
        return list(devices_of_tenant(tenant_id=self.tenant.pk).order_by("name"))


def _text_of(rule: AutoReplyRule) -> str | None:
    """The reply's text when it is a text reply (the only kind this page edits)."""
    reply = rule.reply if isinstance(rule.reply, dict) else {}
    return str(reply.get("text") or "") if reply.get("type") == "text" else None


class AutoReplyListView(AutoReplyPageMixin, TenantPage):
    template_name = "dashboard/auto_replies/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rules = autoreply.rules_of_tenant(tenant_id=self.tenant.pk).select_related("device")
        context["rules"] = [{"rule": rule, "text": _text_of(rule)} for rule in rules]
        return context


class AutoReplyFormView(AutoReplyPageMixin, TenantPage):
    template_name = "dashboard/auto_replies/form.html"
    rule: AutoReplyRule | None = None

    def get_form(self, data: Any = None) -> AutoReplyRuleForm:
        rule = self.rule
        initial = None
        keeps_other_reply = False
        if rule is not None:
            text = _text_of(rule)
            keeps_other_reply = text is None
            initial = {
                "keyword": rule.keyword,
                "match": rule.match,
                "reply_text": text or "",
                "device_id": str(rule.device_id) if rule.device_id else "",
                "priority": rule.priority,
                "reply_to_groups": rule.reply_to_groups,
                "enabled": rule.enabled,
            }
        return AutoReplyRuleForm(
            data, initial=initial, devices=self.get_devices(), keeps_other_reply=keeps_other_reply
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=self.get_form(), rule=self.rule))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            fields: dict[str, Any] = {
                "keyword": data["keyword"],
                "match": data["match"],
                "device": (
                    device_of_tenant(tenant_id=self.tenant.pk, device_id=data["device_id"])
                    if data["device_id"]
                    else None
                ),
                "priority": data["priority"],
                "reply_to_groups": data["reply_to_groups"],
                "enabled": data["enabled"],
            }
            if data["reply_text"]:
                fields["reply"] = {"type": "text", "text": data["reply_text"]}
            try:
                self.save(fields)
            except WavoraError as exc:
                if exc.status_code == 404:
                    raise
                add_service_errors(form, exc, field_map=AutoReplyRuleForm.SERVICE_FIELDS)
            else:
                return redirect("dashboard:auto_replies")
        return self.render_to_response(self.get_context_data(form=form, rule=self.rule))

    def save(self, fields: dict[str, Any]) -> None:
        raise NotImplementedError


class AutoReplyCreateView(AutoReplyFormView):
    def save(self, fields: dict[str, Any]) -> None:
        autoreply.rule_create(tenant=self.tenant, **fields)
        messages.success(self.request, _("Auto-reply rule created."))


class AutoReplyEditView(AutoReplyFormView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.rule = self.get_rule()
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.rule = self.get_rule()
        return super().post(request, *args, **kwargs)

    def save(self, fields: dict[str, Any]) -> None:
        assert self.rule is not None
        autoreply.rule_update(rule=self.rule, **fields)
        messages.success(self.request, _("Auto-reply rule saved."))


class AutoReplyToggleView(AutoReplyPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rule = self.get_rule()
        rule = autoreply.rule_update(rule=rule, enabled=not rule.enabled)
        if rule.enabled:
            messages.success(request, _("Rule “%(keyword)s” enabled.") % {"keyword": rule.keyword})
        else:
            messages.success(request, _("Rule “%(keyword)s” disabled.") % {"keyword": rule.keyword})
        return redirect("dashboard:auto_replies")


class AutoReplyDeleteView(AutoReplyPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rule = self.get_rule()
        keyword = rule.keyword
        autoreply.rule_delete(rule=rule)
        messages.success(request, _("Rule “%(keyword)s” deleted.") % {"keyword": keyword})
        return redirect("dashboard:auto_replies")


# --- contacts --------------------------------------------------------------------------------
class ContactsMixin:
    tenant: Any
    request: HttpRequest

    def chosen_device(self, raw: str | None, devices: list[Device]) -> Device | None:
        """The device named in the request (another tenant's: 404), else the first one."""
        if raw:
            return device_of_tenant(tenant_id=self.tenant.pk, device_id=raw)
        return devices[0] if devices else None


def _contacts_url(device: Device) -> str:
    return f"{reverse('dashboard:contacts')}?{urlencode({'device': str(device.pk)})}"


class ContactListView(ContactsMixin, TenantPage):
    template_name = "dashboard/contacts/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        devices = list(devices_of_tenant(tenant_id=self.tenant.pk).order_by("name"))
        device = self.chosen_device(self.request.GET.get("device"), devices)
        form = ContactSearchForm(self.request.GET or None)
        search = form.cleaned_data.get("q", "") if form.is_valid() else ""
        page = None
        if device is not None:
            listed = contacts.contacts_of_device(device=device, search=search)
            page = Paginator(listed, CONTACTS_PER_PAGE).get_page(self.request.GET.get("page"))
        query = {"device": str(device.pk)} if device else {}
        if search:
            query["q"] = search
        context.update(
            devices=devices,
            device=device,
            form=form,
            search=search,
            page=page,
            query=urlencode(query),
        )
        return context


class ContactSyncView(ContactsMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        device = device_of_tenant(tenant_id=self.tenant.pk, device_id=request.POST.get("device", ""))
        try:
            try:
                result = contacts.contacts_sync(device=device)
            except GowaError as exc:
                raise _sync_error(exc) from exc
        except WavoraError as exc:
            if exc.code == "DEVICE_NOT_CONNECTED":
                messages.error(request, _("Contacts can only be synced from a connected device."))
            else:
                messages.error(request, _("The sync failed: %(reason)s") % {"reason": error_message(exc)})
        else:
            messages.success(
                request,
                _("Synced %(total)s contacts from WhatsApp: %(created)s new, %(updated)s renamed.")
                % {"total": result.total, "created": result.created, "updated": result.updated},
            )
        return HttpResponseRedirect(_contacts_url(device))


class ContactExportView(ContactsMixin, TenantPage):
    """The same CSV as `GET /api/v1/devices/{id}/contacts?format=csv` (formulas escaped)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:  # type: ignore[override]
        device = device_of_tenant(tenant_id=self.tenant.pk, device_id=request.GET.get("device", ""))
        form = ContactSearchForm(request.GET)
        search = form.cleaned_data.get("q", "") if form.is_valid() else ""
        listed = contacts.contacts_of_device(device=device, search=search)
        response = StreamingHttpResponse(
            contacts.contacts_csv_lines(listed), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="contacts-{device.pk}.csv"'
        return response
