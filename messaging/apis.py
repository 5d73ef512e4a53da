from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from devices.gowa import GowaError
from devices.selectors import device_of_tenant
from tenants.permissions import principal_of
from wavora.api.envelope import error, success
from wavora.api.errors import Forbidden, WavoraError
from wavora.api.views import ApiView
from wavora.phones import normalize_recipient

from . import services
from .models import Message
from .selectors import job_of_tenant, message_of_tenant


class HistoryOutput(serializers.Serializer):
    status = serializers.CharField()
    at = serializers.DateTimeField()
    detail = serializers.CharField()


class MessageOutput(serializers.ModelSerializer):
    job_id = serializers.UUIDField(allow_null=True)
    device_id = serializers.UUIDField()
    to = serializers.CharField(source="recipient")
    error = serializers.SerializerMethodField()
    text = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "job_id",
            "device_id",
            "direction",
            "type",
            "to",
            "sender",
            "status",
            "error",
            "text",
            "gowa_message_id",
            "reply_to_message_id",
            "attempts",
            "original_payload_json",
            "payload_json",
            "created_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "updated_at",
        ]

    def get_error(self, message: Message) -> dict[str, str] | None:
        if not message.error_code:
            return None
        return {"code": message.error_code, "message": message.error_message}

    def get_text(self, message: Message) -> str | None:
        value = (message.original_payload_json or {}).get("text")
        return value if isinstance(value, str) else None


class MessageDetailOutput(MessageOutput):
    history = HistoryOutput(many=True, read_only=True)

    class Meta(MessageOutput.Meta):
        fields = [*MessageOutput.Meta.fields, "history"]


class SendTextInput(serializers.Serializer):
    device_id = serializers.CharField()
    to = serializers.CharField()
    text = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=65_536)
    reply_to_message_id = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


def _sync_error(exc: GowaError) -> WavoraError:
    if exc.code == "INVALID_JID":
        return WavoraError(exc.message, code="INVALID_PHONE", status=400, details={"to": [exc.message]})
    # INVALID_WA_CLI: the slot has no WhatsApp client (logged out, e.g. unlinked from the phone).
    if exc.code in ("AUTHENTICATION_ERROR", "DEVICE_NOT_CONNECTED", "INVALID_WA_CLI"):
        return WavoraError(
            "The device's WhatsApp session is not logged in.", code="DEVICE_NOT_CONNECTED", status=409
        )
    if exc.code == "WA_REACHOUT_TIMELOCK":
        return WavoraError(
            "WhatsApp temporarily blocks new chats from this number; sending is paused.",
            code="RATE_LIMITED",
            status=429,
            headers={"Retry-After": "600"},
        )
    if exc.code == "VALIDATION_ERROR":
        return WavoraError(exc.message, code="VALIDATION_ERROR", status=400)
    return WavoraError(
        f"WhatsApp gateway failed: {exc.message or exc.code}",
        code="UPSTREAM_ERROR",
        status=502,
        details={"gowa_code": exc.code},
    )


class SendTextApi(ApiView):
    required_scopes = "messages:send"

    @extend_schema(
        request=SendTextInput,
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter(
                "X-Send-Mode", str, OpenApiParameter.HEADER, required=False, enum=["async", "sync"]
            ),
        ],
        responses={202: MessageOutput},
    )
    def post(self, request: Request) -> Response:
        principal = principal_of(request)
        tenant = principal.tenant
        assert tenant is not None
        sync = request.headers.get("X-Send-Mode", "async").lower() == "sync"
        if sync and not (
            principal.allow_sync_send or (principal.api_key is None and principal.is_platform_admin)
        ):
            raise Forbidden(
                "Synchronous sending (X-Send-Mode: sync) is only allowed for keys flagged for it."
            )
        data = SendTextInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        device = device_of_tenant(tenant_id=tenant.pk, device_id=fields["device_id"])
        to = normalize_recipient(fields["to"])
        if not fields["text"].strip():
            raise WavoraError(
                "text: the message text is empty.",
                code="INVALID_MESSAGE",
                status=400,
                details={"text": ["May not be blank."]},
            )
        reply_to = services.resolve_reply_target(device=device, reference=fields["reply_to_message_id"])
        original = {"device_id": str(device.pk), "to": fields["to"], "text": fields["text"]}
        if fields["reply_to_message_id"]:
            original["reply_to_message_id"] = fields["reply_to_message_id"]

        def produce() -> tuple[int, dict[str, Any]]:
            message = services.message_accept_text(
                principal=principal,
                device=device,
                to=to,
                text=fields["text"],
                reply_to_message_id=reply_to,
                original_payload=original,
                enqueue=not sync,
            )
            return 202, success(
                MessageOutput(message).data,
                "Message queued for delivery",
                job_id=str(message.job_id),
                message_id=str(message.pk),
                status="pending",
            )

        body_for_key = {**original, "mode": "sync" if sync else "async"}
        status_code, body, replayed = services.idempotent(
            tenant=tenant, key=request.headers.get("Idempotency-Key"), body=body_for_key, produce=produce
        )
        if sync and not replayed:
            key = request.headers.get("Idempotency-Key")
            try:
                status_code, body = self._send_now(body["message_id"])
            except WavoraError as exc:
                services.idempotent_store(
                    tenant=tenant,
                    key=key,
                    status=exc.status_code,
                    body=error(exc.code, exc.message, exc.details),
                )
                raise
            # A replay of a sync send returns the sync answer, not the intermediate 202.
            services.idempotent_store(tenant=tenant, key=key, status=status_code, body=body)
        response = Response(body, status=status_code)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def _send_now(self, message_id: str) -> tuple[int, dict[str, Any]]:
        claimed = services.message_claim(message_id=uuid.UUID(message_id))
        assert claimed is not None
        try:
            services.message_deliver(message=claimed)
        except GowaError as exc:
            services.message_mark_failed(message=claimed, code=exc.code, reason=exc.message or exc.code)
            raise _sync_error(exc)
        message = Message.objects.get(pk=claimed.pk)
        return 200, success(
            MessageOutput(message).data,
            "Message sent",
            message_id=message.gowa_message_id,
            id=str(message.pk),
            status=message.status,
            sent_at=message.sent_at.isoformat() if message.sent_at else None,
        )


class MessageDetailApi(ApiView):
    required_scopes = "messages:read"

    @extend_schema(responses={200: MessageDetailOutput})
    def get(self, request: Request, message_id: Any) -> Response:
        principal = principal_of(request)
        assert principal.tenant is not None
        message = message_of_tenant(tenant_id=principal.tenant.pk, message_id=message_id)
        return Response(success(MessageDetailOutput(message).data))


class JobOutput(serializers.Serializer):
    job_id = serializers.UUIDField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    message_ids = serializers.ListField(child=serializers.UUIDField())


class JobDetailApi(ApiView):
    required_scopes = "messages:read"

    @extend_schema(responses={200: JobOutput})
    def get(self, request: Request, job_id: Any) -> Response:
        principal = principal_of(request)
        assert principal.tenant is not None
        job, counts, ids = job_of_tenant(tenant_id=principal.tenant.pk, job_id=job_id)
        all_statuses = {
            s: 0 for s in ("pending", "sending", "sent", "delivered", "read", "played", "failed", "cancelled")
        }
        return Response(
            success(
                {
                    "job_id": str(job.pk),
                    "kind": job.kind,
                    "created_at": job.created_at,
                    "total": sum(counts.values()),
                    "counts": {**all_statuses, **counts},
                    "message_ids": ids,
                }
            )
        )
