"""Tenant webhooks API (SPEC §4): endpoints, secret rotation, test sends, deliveries, redelivery."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.permissions import principal_of
from tenants.principal import Principal
from wavora.api.envelope import success
from wavora.api.errors import Forbidden
from wavora.api.views import ApiView, GenericApiView

from . import services
from .events import CATALOG
from .models import WebhookDelivery, WebhookEndpoint
from .selectors import deliveries_of_endpoint, delivery_of_tenant, endpoint_of_tenant, endpoints_of_tenant

_EVENTS_HELP = "Event types to receive; empty = every event. One of: " + ", ".join(sorted(CATALOG))
_DEVICES_HELP = "Only events of these devices; empty = every device (and events without a device)"
_ISOLATION = "404 NOT_FOUND: no such webhook endpoint in this tenant."


# --- output ----------------------------------------------------------------------------------
class WebhookOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField(), help_text=_EVENTS_HELP)
    device_ids = serializers.ListField(child=serializers.UUIDField(), help_text=_DEVICES_HELP)
    secret_hint = serializers.SerializerMethodField(
        help_text="The secret's last characters, to tell keys apart"
    )
    previous_secret_expires_at = serializers.SerializerMethodField(
        help_text="While set, the previous secret also signs (X-Webhook-Signature-Previous) until this time"
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "device_ids",
            "is_active",
            "secret_hint",
            "previous_secret_expires_at",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]

    def get_secret_hint(self, endpoint: WebhookEndpoint) -> str:
        return f"whsec_…{endpoint.secret[-4:]}"

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_previous_secret_expires_at(self, endpoint: WebhookEndpoint) -> Any:
        if endpoint.signing_secrets(timezone.now())[1] is None or endpoint.previous_secret_expires_at is None:
            return None
        return serializers.DateTimeField().to_representation(endpoint.previous_secret_expires_at)


class WebhookWithSecretOutput(WebhookOutput):
    secret = serializers.CharField(help_text="The signing secret. Shown only now: store it.")

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]


class WebhookDeletedOutput(serializers.Serializer):
    id = serializers.UUIDField()


class WebhookEventPayload(serializers.Serializer):
    """The JSON body a receiver gets (and whose raw bytes are signed)."""

    id = serializers.CharField(help_text="evt_…; the same on every attempt (dedupe on it)")
    event = serializers.CharField()
    device_id = serializers.UUIDField(allow_null=True)
    data = serializers.DictField()  # type: ignore[assignment]  # the metaclass pops declared fields
    timestamp = serializers.DateTimeField(help_text="When the event happened")


class WebhookDeliveryOutput(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(source="endpoint_id")
    event_id = serializers.CharField()
    event_type = serializers.CharField(source="event.type")
    attempt_count = serializers.IntegerField(source="attempts")
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="Pending only: the next retry (or the end of the attempt in flight)"
    )
    first_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="Start of the retry window (a redelivery opens a new one)"
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "event_id",
            "event_type",
            "status",
            "attempt_count",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "first_attempt_at",
            "delivered_at",
            "created_at",
            "updated_at",
        ]


class WebhookAttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField(allow_null=True, help_text="Null: no answer was recorded")
    status_code = serializers.IntegerField(allow_null=True, help_text="Null: no HTTP answer")
    success = serializers.BooleanField()
    response_excerpt = serializers.CharField(help_text="The first 1 KB of the answer")
    error = serializers.CharField()


class WebhookDeliveryDetailOutput(WebhookDeliveryOutput):
    payload = serializers.SerializerMethodField()
    attempts = WebhookAttemptOutput(many=True, source="attempt_log")

    class Meta(WebhookDeliveryOutput.Meta):
        fields = [*WebhookDeliveryOutput.Meta.fields, "payload", "attempts"]

    @extend_schema_field(WebhookEventPayload)
    def get_payload(self, delivery: WebhookDelivery) -> dict[str, Any]:
        return delivery.event.envelope()


class WebhookTestOutput(serializers.Serializer):
    success = serializers.BooleanField(help_text="True when the receiver answered 2xx")
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    response_excerpt = serializers.CharField()
    error = serializers.CharField()
    delivery_id = serializers.UUIDField()
    event_id = serializers.CharField()


# --- input -----------------------------------------------------------------------------------
class WebhookCreateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="http(s) URL on the public internet")
    events = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, help_text=_EVENTS_HELP
    )
    device_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, help_text=_DEVICES_HELP
    )
    description = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    is_active = serializers.BooleanField(required=False, default=True)


class WebhookUpdateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, help_text=_EVENTS_HELP
    )
    device_ids = serializers.ListField(child=serializers.UUIDField(), required=False, help_text=_DEVICES_HELP)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False, help_text="true re-enables a disabled endpoint and clears its failure state"
    )


class WebhookRotateInput(serializers.Serializer):
    grace_period_hours = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=168,
        help_text="How long the previous secret keeps signing (default 24); 0 = it stops now",
    )


class WebhookTestInput(serializers.Serializer):
    webhook_id = serializers.UUIDField()


class WebhookDeliveryQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    event = serializers.ChoiceField(choices=sorted(CATALOG), required=False, help_text="Event type")


# --- helpers ---------------------------------------------------------------------------------
def _tenant_id(request: Request) -> uuid.UUID:
    tenant = principal_of(request).tenant
    assert tenant is not None
    return tenant.pk


def _endpoint(request: Request, webhook_id: uuid.UUID) -> WebhookEndpoint:
    return endpoint_of_tenant(tenant_id=_tenant_id(request), endpoint_id=webhook_id)


def _check_device_restriction(principal: Principal, device_ids: list[uuid.UUID] | list[str]) -> None:
    """A key restricted to some devices may not subscribe to other devices' (or all) events."""
    if not principal.device_ids:
        return
    wanted = {uuid.UUID(str(d)) for d in device_ids}
    if not wanted or wanted - principal.device_ids:
        raise Forbidden(
            "This API key is restricted to some devices; the endpoint's device_ids must be among them.",
            details={"device_ids": ["Not allowed for this key."]},
        )


# --- endpoints -------------------------------------------------------------------------------
class WebhookListCreateApi(GenericApiView):
    required_scopes = {"GET": "webhooks:read", "POST": "webhooks:write"}
    serializer_class = WebhookOutput

    def get_queryset(self) -> Any:
        return endpoints_of_tenant(tenant_id=_tenant_id(self.request))

    @extend_schema(operation_id="api_v1_webhooks_list", responses={200: WebhookOutput(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookOutput(page, many=True).data)

    @extend_schema(
        request=WebhookCreateInput,
        responses={201: WebhookWithSecretOutput},
        description="Creates an endpoint. The response carries the signing secret, shown only this once. "
        "400 VALIDATION_ERROR names `url` (refused by the SSRF guard), `events` or `device_ids`.",
    )
    def post(self, request: Request) -> Response:
        principal = principal_of(request)
        assert principal.tenant is not None
        data = WebhookCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        _check_device_restriction(principal, data.validated_data["device_ids"])
        endpoint = services.endpoint_create(tenant=principal.tenant, **data.validated_data)
        return Response(
            success(
                WebhookWithSecretOutput(endpoint).data,
                "Webhook endpoint created. Store the secret now: it is not shown again.",
            ),
            status=status.HTTP_201_CREATED,
        )


class WebhookDetailApi(ApiView):
    required_scopes = {"GET": "webhooks:read", "PATCH": "webhooks:write", "DELETE": "webhooks:write"}

    @extend_schema(responses={200: WebhookOutput}, description=_ISOLATION)
    def get(self, request: Request, webhook_id: uuid.UUID) -> Response:
        return Response(success(WebhookOutput(_endpoint(request, webhook_id)).data))

    @extend_schema(request=WebhookUpdateInput, responses={200: WebhookOutput}, description=_ISOLATION)
    def patch(self, request: Request, webhook_id: uuid.UUID) -> Response:
        endpoint = _endpoint(request, webhook_id)
        data = WebhookUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        _check_device_restriction(principal_of(request), fields.get("device_ids", endpoint.device_ids))
        endpoint = services.endpoint_update(endpoint=endpoint, **fields)
        return Response(success(WebhookOutput(endpoint).data, "Webhook endpoint updated."))

    @extend_schema(responses={200: WebhookDeletedOutput}, description=_ISOLATION)
    def delete(self, request: Request, webhook_id: uuid.UUID) -> Response:
        endpoint = _endpoint(request, webhook_id)
        _check_device_restriction(principal_of(request), endpoint.device_ids)
        services.endpoint_delete(endpoint=endpoint)
        return Response(success({"id": str(webhook_id)}, "Webhook endpoint deleted."))


class WebhookRotateSecretApi(ApiView):
    required_scopes = "webhooks:write"

    @extend_schema(
        request=WebhookRotateInput,
        responses={200: WebhookWithSecretOutput},
        description="A new secret signs from now on (X-Webhook-Signature); the previous one also signs "
        "(X-Webhook-Signature-Previous) during the grace period. The new secret is shown only now.",
    )
    def post(self, request: Request, webhook_id: uuid.UUID) -> Response:
        endpoint = _endpoint(request, webhook_id)
        data = WebhookRotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        hours = data.validated_data.get("grace_period_hours")
        endpoint = services.endpoint_rotate_secret(
            endpoint=endpoint, grace=timedelta(hours=hours) if hours is not None else None
        )
        return Response(
            success(
                WebhookWithSecretOutput(endpoint).data,
                "Secret rotated. Store the new secret now: it is not shown again.",
            )
        )


class WebhookTestApi(ApiView):
    required_scopes = "webhooks:write"

    @extend_schema(
        request=WebhookTestInput,
        responses={200: WebhookTestOutput},
        description="Sends a `webhook.test` event to the endpoint now and returns the receiver's answer "
        "(recorded as a delivery with one attempt; not retried). Works on a disabled endpoint too. "
        + _ISOLATION,
    )
    def post(self, request: Request) -> Response:
        data = WebhookTestInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = _endpoint(request, data.validated_data["webhook_id"])
        attempt = services.webhook_test_send(endpoint=endpoint)
        delivery = attempt.delivery
        result = {
            "success": attempt.success,
            "status_code": attempt.status_code,
            "duration_ms": attempt.duration_ms or 0,
            "response_excerpt": attempt.response_excerpt,
            "error": attempt.error,
            "delivery_id": str(delivery.pk),
            "event_id": delivery.event_id,
        }
        message = (
            f"The receiver answered HTTP {attempt.status_code}."
            if attempt.success
            else f"The test delivery failed: {attempt.error}"
        )
        return Response(success(result, message))


class WebhookDeliveryListApi(GenericApiView):
    required_scopes = "webhooks:read"
    serializer_class = WebhookDeliveryOutput

    @extend_schema(
        operation_id="api_v1_webhooks_deliveries_list",
        parameters=[WebhookDeliveryQuery],
        responses={200: WebhookDeliveryOutput(many=True)},
        description="Newest first. " + _ISOLATION,
    )
    def get(self, request: Request, webhook_id: uuid.UUID) -> Response:
        endpoint = _endpoint(request, webhook_id)
        # An empty value (``?status=``) means "no filter", as in an HTML form.
        query = WebhookDeliveryQuery(data={k: v for k, v in request.query_params.items() if v})
        query.is_valid(raise_exception=True)
        deliveries = deliveries_of_endpoint(
            endpoint=endpoint,
            status=query.validated_data.get("status"),
            event_type=query.validated_data.get("event"),
        )
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliveryOutput(page, many=True).data)


class WebhookDeliveryDetailApi(ApiView):
    required_scopes = "webhooks:read"

    @extend_schema(
        responses={200: WebhookDeliveryDetailOutput},
        description="The delivery with its payload and every attempt. 404 NOT_FOUND: not this tenant's.",
    )
    def get(self, request: Request, delivery_id: uuid.UUID) -> Response:
        delivery = delivery_of_tenant(tenant_id=_tenant_id(request), delivery_id=delivery_id)
        return Response(success(WebhookDeliveryDetailOutput(delivery).data))


class WebhookRedeliverApi(ApiView):
    required_scopes = "webhooks:write"

    @extend_schema(
        request=None,
        responses={202: WebhookDeliveryOutput},
        description="Queues a new attempt now (also for a delivery that succeeded) with a fresh retry "
        "window. 400 VALIDATION_ERROR: the endpoint is disabled. 404 NOT_FOUND: not this tenant's.",
    )
    def post(self, request: Request, delivery_id: uuid.UUID) -> Response:
        delivery = delivery_of_tenant(tenant_id=_tenant_id(request), delivery_id=delivery_id)
        delivery = services.delivery_redeliver(delivery=delivery)
        return Response(
            success(WebhookDeliveryOutput(delivery).data, "Redelivery queued."),
            status=status.HTTP_202_ACCEPTED,
        )
