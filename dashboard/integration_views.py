"""Webhooks and API keys pages. Every action goes through the services the API uses
(`webhooks.services`, `tenants.services`); reads through their selectors, scoped to the tenant."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from devices.models import Device
from devices.selectors import devices_of_tenant
from tenants.models import ApiKey
from tenants.selectors import api_keys_of_tenant
from tenants.services import api_key_create, api_key_revoke, api_key_rotate
from wavora.api.errors import WavoraError
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import (
    deliveries_of_endpoint,
    delivery_of_tenant,
    endpoint_of_tenant,
    endpoints_of_tenant,
)

from .integration_forms import (
    ApiKeyCreateForm,
    DeliveryFilterForm,
    WebhookEndpointForm,
    WebhookRotateForm,
)
from .service_bridge import ServiceNotFoundAs404Mixin, add_service_errors, remember_once, take_once
from .tenancy import MANAGERS, TenantViewMixin

DELIVERIES_PER_PAGE = 25


def _uuid_or_404(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404("Not found.")


def _device_names(devices: list[Device]) -> dict[str, str]:
    return {str(device.pk): device.name for device in devices}


def _no_store(response: HttpResponse) -> HttpResponse:
    """A page that showed a secret must not come back from the browser's cache either."""
    add_never_cache_headers(response)
    response["Cache-Control"] += ", no-store"
    return response


class TenantPage(TenantViewMixin, ServiceNotFoundAs404Mixin, TemplateView):
    """A dashboard page whose selectors' 404s are Django 404s."""


class TenantAction(TenantViewMixin, ServiceNotFoundAs404Mixin, View):
    """A POST-only action that redirects back to a page."""

    http_method_names = ["post"]


# --- webhooks --------------------------------------------------------------------------------
class WebhookPageMixin:
    tenant: Any
    kwargs: dict[str, Any]

    def get_endpoint(self) -> WebhookEndpoint:
        return endpoint_of_tenant(
            tenant_id=self.tenant.pk, endpoint_id=_uuid_or_404(self.kwargs["webhook_id"])
        )

    def get_devices(self) -> list[Device]:
        return list(devices_of_tenant(tenant_id=self.tenant.pk).order_by("name"))


def _endpoint_fields(form: WebhookEndpointForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "url": data["url"],
        "events": data["events"],
        "device_ids": data["device_ids"],
        "description": data["description"],
        "is_active": data["is_active"],
    }


class WebhookListView(WebhookPageMixin, TenantPage):
    template_name = "dashboard/webhooks/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        names = _device_names(self.get_devices())
        context["endpoints"] = [
            {"endpoint": endpoint, "devices": [names.get(d, d) for d in endpoint.device_ids]}
            for endpoint in endpoints_of_tenant(tenant_id=self.tenant.pk)
        ]
        return context


class WebhookFormView(WebhookPageMixin, TenantPage):
    template_name = "dashboard/webhooks/form.html"
    endpoint: WebhookEndpoint | None = None

    def get_form(self, data: Any = None) -> WebhookEndpointForm:
        initial = None
        if self.endpoint is not None:
            initial = {
                "url": self.endpoint.url,
                "description": self.endpoint.description,
                "events": self.endpoint.events,
                "device_ids": self.endpoint.device_ids,
                "is_active": self.endpoint.is_active,
            }
        return WebhookEndpointForm(data, initial=initial, devices=self.get_devices())

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=self.get_form(), endpoint=self.endpoint))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form(request.POST)
        if form.is_valid():
            try:
                return self.save(form)
            except WavoraError as exc:
                if exc.status_code == 404:
                    raise
                add_service_errors(form, exc)
        return self.render_to_response(self.get_context_data(form=form, endpoint=self.endpoint))

    def save(self, form: WebhookEndpointForm) -> HttpResponse:
        raise NotImplementedError


class WebhookCreateView(WebhookFormView):
    def save(self, form: WebhookEndpointForm) -> HttpResponse:
        endpoint = webhook_services.endpoint_create(tenant=self.tenant, **_endpoint_fields(form))
        remember_once(self.request, f"webhook:{endpoint.pk}", endpoint.secret)
        messages.success(
            self.request, _("Webhook endpoint created. Store the secret now: it is not shown again.")
        )
        return redirect("dashboard:webhook_detail", webhook_id=endpoint.pk)


class WebhookEditView(WebhookFormView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.endpoint = self.get_endpoint()
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.endpoint = self.get_endpoint()
        return super().post(request, *args, **kwargs)

    def save(self, form: WebhookEndpointForm) -> HttpResponse:
        assert self.endpoint is not None
        webhook_services.endpoint_update(endpoint=self.endpoint, **_endpoint_fields(form))
        messages.success(self.request, _("Webhook endpoint saved."))
        return redirect("dashboard:webhook_detail", webhook_id=self.endpoint.pk)


class WebhookDetailView(WebhookPageMixin, TenantPage):
    template_name = "dashboard/webhooks/detail.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        context = self.get_context_data(**kwargs)
        response = self.render_to_response(context)
        return _no_store(response) if context["secret"] else response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        endpoint = self.get_endpoint()
        names = _device_names(self.get_devices())
        filters = DeliveryFilterForm(self.request.GET or None)
        chosen = filters.cleaned_data if filters.is_valid() else {}
        deliveries = deliveries_of_endpoint(
            endpoint=endpoint, status=chosen.get("status") or None, event_type=chosen.get("event") or None
        ).prefetch_related("attempt_log")
        page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(self.request.GET.get("page"))
        context.update(
            endpoint=endpoint,
            endpoint_devices=[names.get(d, d) for d in endpoint.device_ids],
            secret=take_once(self.request, f"webhook:{endpoint.pk}"),
            test=self._test_result(endpoint),
            filters=filters,
            page=page,
            rows=[{"delivery": d, "last": _last_attempt(d)} for d in page.object_list],
            query=_query_without_page(self.request),
            rotate_form=WebhookRotateForm(),
        )
        return context

    def _test_result(self, endpoint: WebhookEndpoint) -> dict[str, Any] | None:
        """The attempt of the test delivery named by ``?test=`` (it belongs to this endpoint)."""
        raw = self.request.GET.get("test")
        if not raw:
            return None
        delivery = delivery_of_tenant(tenant_id=self.tenant.pk, delivery_id=_uuid_or_404(raw))
        if delivery.endpoint_id != endpoint.pk:
            raise Http404("Not found.")
        return {"delivery": delivery, "attempt": _last_attempt(delivery)}


def _last_attempt(delivery: WebhookDelivery) -> Any:
    attempts = list(delivery.attempt_log.all())
    return attempts[-1] if attempts else None


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("test", None)
    return query.urlencode()


class WebhookToggleView(WebhookPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        endpoint = self.get_endpoint()
        endpoint = webhook_services.endpoint_update(endpoint=endpoint, is_active=not endpoint.is_active)
        if endpoint.is_active:
            messages.success(request, _("Webhook endpoint activated."))
        else:
            messages.success(request, _("Webhook endpoint deactivated: no events are sent to it."))
        return redirect("dashboard:webhook_detail", webhook_id=endpoint.pk)


class WebhookDeleteView(WebhookPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        webhook_services.endpoint_delete(endpoint=self.get_endpoint())
        messages.success(request, _("Webhook endpoint deleted."))
        return redirect("dashboard:webhooks")


class WebhookRotateView(WebhookPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        endpoint = self.get_endpoint()
        form = WebhookRotateForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
            return redirect("dashboard:webhook_detail", webhook_id=endpoint.pk)
        endpoint = webhook_services.endpoint_rotate_secret(
            endpoint=endpoint, grace=timedelta(hours=form.cleaned_data["grace_period_hours"])
        )
        remember_once(request, f"webhook:{endpoint.pk}", endpoint.secret)
        messages.success(request, _("Secret rotated. Store the new secret now: it is not shown again."))
        return redirect("dashboard:webhook_detail", webhook_id=endpoint.pk)


class WebhookTestView(WebhookPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        attempt = webhook_services.webhook_test_send(endpoint=self.get_endpoint())
        url = reverse("dashboard:webhook_detail", kwargs={"webhook_id": attempt.delivery.endpoint_id})
        return HttpResponseRedirect(f"{url}?test={attempt.delivery_id}#test-result")


class WebhookDeliveryDetailView(TenantPage):
    template_name = "dashboard/webhooks/delivery.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        delivery = delivery_of_tenant(
            tenant_id=self.tenant.pk, delivery_id=_uuid_or_404(self.kwargs["delivery_id"])
        )
        context.update(
            delivery=delivery,
            endpoint=delivery.endpoint,
            attempts=list(delivery.attempt_log.all()),
            payload=json.dumps(delivery.event.envelope(), indent=2, ensure_ascii=False),
        )
        return context


class WebhookRedeliverView(TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        delivery = delivery_of_tenant(
            tenant_id=self.tenant.pk, delivery_id=_uuid_or_404(kwargs["delivery_id"])
        )
        try:
            webhook_services.delivery_redeliver(delivery=delivery)
        except WavoraError as exc:
            if exc.status_code == 404:
                raise
            messages.error(request, _("This webhook endpoint is disabled; activate it before redelivering."))
        else:
            messages.success(request, _("Redelivery queued: a new attempt is made now."))
        return redirect("dashboard:webhook_delivery", delivery_id=delivery.pk)


# --- API keys --------------------------------------------------------------------------------
class ApiKeyPageMixin:
    allowed_roles: frozenset[str] = MANAGERS
    tenant: Any
    kwargs: dict[str, Any]

    def get_key(self) -> ApiKey:
        key = api_keys_of_tenant(tenant=self.tenant).filter(pk=_uuid_or_404(self.kwargs["key_id"])).first()
        if key is None:
            raise Http404("API key not found.")
        return key

    def get_devices(self) -> list[Device]:
        return list(devices_of_tenant(tenant_id=self.tenant.pk).order_by("name"))


class ApiKeyListView(ApiKeyPageMixin, TenantPage):
    template_name = "dashboard/api_keys/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        names = _device_names(self.get_devices())
        context["keys"] = [
            {"key": key, "devices": [names.get(d, d) for d in key.device_ids]}
            for key in api_keys_of_tenant(tenant=self.tenant).order_by("-created_at")
        ]
        return context


class ApiKeyCreateView(ApiKeyPageMixin, TenantPage):
    template_name = "dashboard/api_keys/form.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ApiKeyCreateForm(devices=self.get_devices())
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ApiKeyCreateForm(request.POST, devices=self.get_devices())
        if form.is_valid():
            data = form.cleaned_data
            try:
                key, raw = api_key_create(
                    tenant=self.tenant,
                    name=data["name"],
                    scopes=data["scopes"],
                    device_ids=[uuid.UUID(d) for d in data["device_ids"]],
                    expires_at=data["expires_at"],
                    created_by=request.user,
                )
            except WavoraError as exc:
                add_service_errors(form, exc)
            else:
                remember_once(request, f"api_key:{key.pk}", raw)
                return redirect("dashboard:api_key_created", key_id=key.pk)
        return self.render_to_response(self.get_context_data(form=form))


class ApiKeyCreatedView(ApiKeyPageMixin, TenantPage):
    """The one page that shows a new key; a reload finds it gone."""

    template_name = "dashboard/api_keys/created.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = self.get_key()
        raw = take_once(request, f"api_key:{key.pk}")
        return _no_store(self.render_to_response(self.get_context_data(key=key, raw_key=raw)))


class ApiKeyRevokeView(ApiKeyPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = api_key_revoke(key=self.get_key())
        messages.success(request, _("API key %(name)s revoked: it no longer works.") % {"name": key.name})
        return redirect("dashboard:api_keys")


class ApiKeyRotateView(ApiKeyPageMixin, TenantAction):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = self.get_key()
        if key.revoked_at is not None:
            messages.error(request, _("A revoked key cannot be rotated; create a new key instead."))
            return redirect("dashboard:api_keys")
        new_key, raw = api_key_rotate(key=key)
        remember_once(request, f"api_key:{new_key.pk}", raw)
        messages.success(request, _("API key rotated. The old key no longer works."))
        return redirect("dashboard:api_key_created", key_id=new_key.pk)
