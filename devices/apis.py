from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing.selectors import active_plan_for_device
from tenants.permissions import principal_of
from wavora.api.envelope import success
from wavora.api.errors import Forbidden, InvalidPhone, ValidationFailed
from wavora.api.schema import DEVICE_NOT_CONNECTED, UPSTREAM_ERROR, DeletedOutput, error_response
from wavora.api.views import ApiView, GenericApiView
from wavora.phones import normalize_recipient

from . import services
from .models import Device
from .selectors import device_of_tenant, devices_of_tenant


class DeviceOutput(serializers.ModelSerializer):
    node = serializers.SerializerMethodField()
    settings = serializers.SerializerMethodField()
    stats = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = [
            "id",
            "name",
            "status",
            "health",
            "phone",
            "jid",
            "display_name",
            "node",
            "settings",
            "stats",
            "connected_at",
            "last_seen_at",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]

    def get_node(self, device: Device) -> dict[str, Any]:
        return {"id": device.node_id, "name": device.node.name}

    def get_settings(self, device: Device) -> dict[str, Any]:
        return {
            "auto_read_enabled": device.auto_read_enabled,
            "typing_enabled": device.typing_enabled,
            "auto_reply_enabled": device.auto_reply_enabled,
            "send_interval_ms": device.send_interval_ms,  # null: the plan's (or platform's) default
        }

    def get_health(self, device: Device) -> dict[str, Any]:
        """What a user needs beyond the status: why it is unhealthy, whether sending is paused."""
        return {
            "note": device.health_note or None,
            "paused_until": device.paused_until,
            "paused_reason": device.paused_reason or None,
            "needs_rescan": device.status == Device.Status.LOGGED_OUT,
            "reconnect_attempts": device.reconnect_attempts,
        }

    def get_stats(self, device: Device) -> dict[str, int]:
        return {
            "sent": device.messages_sent,
            "delivered": device.messages_delivered,
            "read": device.messages_read,
            "failed": device.messages_failed,
            "received": device.messages_received,
        }


class DeviceDetailOutput(DeviceOutput):
    plan = serializers.SerializerMethodField()

    class Meta(DeviceOutput.Meta):
        fields = [*DeviceOutput.Meta.fields, "plan"]

    def get_plan(self, device: Device) -> dict[str, Any] | None:
        plan = active_plan_for_device(device_id=device.pk)
        return {"code": plan.code, "name": plan.name, "message_quota": plan.message_quota} if plan else None


class DeviceSettingsInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    auto_read_enabled = serializers.BooleanField(required=False)
    typing_enabled = serializers.BooleanField(required=False)
    auto_reply_enabled = serializers.BooleanField(required=False)
    send_interval_ms = serializers.IntegerField(
        required=False, min_value=0, max_value=600_000, allow_null=True
    )


class DeviceCreateInput(DeviceSettingsInput):
    name = serializers.CharField(max_length=100)


def _device(request: Request, device_id: Any) -> Device:
    principal = principal_of(request)
    assert principal.tenant is not None
    device = device_of_tenant(tenant_id=principal.tenant.pk, device_id=device_id)
    if not principal.can_use_device(device.pk):
        raise Forbidden("This API key is restricted to other devices.")
    return device


class DeviceListCreateApi(GenericApiView):
    required_scopes = {"GET": "devices:read", "POST": "devices:write"}
    serializer_class = DeviceOutput

    def get_queryset(self) -> Any:
        principal = principal_of(self.request)
        assert principal.tenant is not None
        devices = devices_of_tenant(tenant_id=principal.tenant.pk)
        if principal.device_ids:
            devices = devices.filter(pk__in=principal.device_ids)
        status_filter = self.request.query_params.get("status")
        if status_filter and status_filter not in Device.Status.values:
            allowed = ", ".join(Device.Status.values)
            raise ValidationFailed(f"status: one of {allowed}.", details={"status": [f"One of: {allowed}."]})
        return devices.filter(status=status_filter) if status_filter else devices

    @extend_schema(
        operation_id="api_v1_devices_list",
        parameters=[OpenApiParameter("status", str, OpenApiParameter.QUERY, enum=Device.Status.values)],
        responses={200: DeviceOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DeviceOutput(page, many=True).data)

    @extend_schema(request=DeviceCreateInput, responses={201: DeviceDetailOutput, 502: UPSTREAM_ERROR})
    def post(self, request: Request) -> Response:
        principal = principal_of(request)
        assert principal.tenant is not None
        if principal.device_ids:
            raise Forbidden("A key restricted to some devices cannot create devices.")
        data = DeviceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_create(tenant=principal.tenant, **data.validated_data)
        return Response(
            success(DeviceDetailOutput(device).data, "Device created. Link it with login-qr."),
            status=status.HTTP_201_CREATED,
        )


class DeviceDetailApi(ApiView):
    required_scopes = {"GET": "devices:read", "PATCH": "devices:write", "DELETE": "devices:write"}

    @extend_schema(responses={200: DeviceDetailOutput})
    def get(self, request: Request, device_id: Any) -> Response:
        return Response(success(DeviceDetailOutput(_device(request, device_id)).data))

    @extend_schema(request=DeviceSettingsInput, responses={200: DeviceDetailOutput})
    def patch(self, request: Request, device_id: Any) -> Response:
        device = _device(request, device_id)
        data = DeviceSettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        device = services.device_update(device=device, **data.validated_data)
        return Response(success(DeviceDetailOutput(device).data, "Device updated."))

    @extend_schema(responses={200: DeletedOutput, 502: UPSTREAM_ERROR})
    def delete(self, request: Request, device_id: Any) -> Response:
        device = _device(request, device_id)
        services.device_delete(device=device)
        return Response(success({"id": str(device.pk)}, "Device deleted and its WhatsApp session removed."))


_ALREADY_LINKED = error_response("ALREADY_LOGGED_IN: the device is already connected; log it out first")


class LoginQrOutput(serializers.Serializer):
    qr_image = serializers.CharField(help_text="data:image/png;base64,…")
    expires_in = serializers.IntegerField(help_text="Seconds until this QR code expires")


class LoginCodeOutput(serializers.Serializer):
    pairing_code = serializers.CharField()
    phone = serializers.CharField()


class DeviceLoginQrApi(ApiView):
    required_scopes = "devices:write"

    @extend_schema(request=None, responses={200: LoginQrOutput, 409: _ALREADY_LINKED, 502: UPSTREAM_ERROR})
    def post(self, request: Request, device_id: Any) -> Response:
        qr = services.device_login_qr(device=_device(request, device_id))
        return Response(
            success(
                {"qr_image": qr.data_url, "expires_in": qr.duration_seconds},
                "Scan the QR code in WhatsApp → Linked devices. New codes follow on the WebSocket.",
            )
        )


class DeviceLoginCodeApi(ApiView):
    required_scopes = "devices:write"

    class LoginCodeInput(serializers.Serializer):  # unique name: it is an OpenAPI component
        phone = serializers.CharField()

    @extend_schema(
        request=LoginCodeInput, responses={200: LoginCodeOutput, 409: _ALREADY_LINKED, 502: UPSTREAM_ERROR}
    )
    def post(self, request: Request, device_id: Any) -> Response:
        device = _device(request, device_id)
        data = self.LoginCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        phone = normalize_recipient(data.validated_data["phone"], field="phone")
        if not phone.isdigit():
            raise InvalidPhone(
                "phone: give the phone number of the WhatsApp account, not a JID.",
                details={"phone": ["Phone number expected."]},
            )
        code = services.device_login_code(device=device, phone=phone)
        return Response(
            success(
                {"pairing_code": code, "phone": phone},
                "Enter the code in WhatsApp → Linked devices → Link with phone number.",
            )
        )


class DeviceReconnectApi(ApiView):
    required_scopes = "devices:write"

    @extend_schema(
        request=None, responses={200: DeviceDetailOutput, 409: DEVICE_NOT_CONNECTED, 502: UPSTREAM_ERROR}
    )
    def post(self, request: Request, device_id: Any) -> Response:
        device = services.device_reconnect(device=_device(request, device_id))
        return Response(success(DeviceDetailOutput(device).data, f"Device is {device.status}."))


class DeviceLogoutApi(ApiView):
    required_scopes = "devices:write"

    @extend_schema(request=None, responses={200: DeviceDetailOutput, 502: UPSTREAM_ERROR})
    def post(self, request: Request, device_id: Any) -> Response:
        device = services.device_logout(device=_device(request, device_id))
        return Response(success(DeviceDetailOutput(device).data, "Device logged out of WhatsApp."))
