from __future__ import annotations

import uuid
from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from devices.gowa import GowaError
from tenants.permissions import principal_of
from wavora.api.envelope import error, success
from wavora.api.errors import Forbidden, ValidationFailed, WavoraError
from wavora.api.schema import DEVICE_NOT_CONNECTED, UPSTREAM_ERROR, error_response
from wavora.api.views import ApiView

from . import compose, services
from .models import Message
from .selectors import job_of_tenant, message_of_tenant
from .types import TYPES


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
        payload = message.original_payload_json or {}
        value = payload.get("text")
        if value is None and message.direction == Message.Direction.IN:
            value = payload.get("body")  # an inbound message keeps GOWA's payload, whose text is "body"
        return value if isinstance(value, str) else None


class MessageDetailOutput(MessageOutput):
    history = HistoryOutput(many=True, read_only=True)

    class Meta(MessageOutput.Meta):
        fields = [*MessageOutput.Meta.fields, "history"]


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


# The errors of a call made to GOWA while the client waits (see _sync_error), besides 400 and 429.
GOWA_ERRORS = {409: DEVICE_NOT_CONNECTED, 502: UPSTREAM_ERROR}
_IDEMPOTENCY_CONFLICT = error_response("IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with another body")

_SEND_HEADERS = [
    OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False),
    OpenApiParameter("X-Send-Mode", str, OpenApiParameter.HEADER, required=False, enum=["async", "sync"]),
]


# "data" and "errors" are Serializer attributes, so these response shapes are declared inline.
AcceptedOutput = inline_serializer(
    name="AcceptedOutput",
    fields={
        "success": serializers.BooleanField(),
        "job_id": serializers.UUIDField(),
        "message_id": serializers.CharField(help_text="Wavora's id of the queued message"),
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "data": MessageOutput(),
    },
)
SentOutput = inline_serializer(
    name="SentOutput",
    fields={
        "success": serializers.BooleanField(),
        "message_id": serializers.CharField(help_text="WhatsApp's id of the sent message"),
        "id": serializers.UUIDField(help_text="Wavora's id"),
        "status": serializers.CharField(),
        "sent_at": serializers.DateTimeField(allow_null=True),
        "message": serializers.CharField(),
        "data": MessageOutput(),
    },
)


class SendApi(ApiView):
    """``POST /api/v1/messages/{type}``: 202 and queued (default) or 200 and sent (``X-Send-Mode: sync``)."""

    required_scopes = "messages:send"
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    message_type = "text"

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
        body = compose.request_dict(request.data)
        attrs = compose.validate_item(self.message_type, body)
        original = compose.json_safe(body)
        key = request.headers.get("Idempotency-Key")

        def produce() -> tuple[int, dict[str, Any]]:
            item = compose.build_outgoing(
                principal=principal, message_type=self.message_type, attrs=attrs, original=original
            )
            message = services.message_accept(principal=principal, item=item, sync=sync)
            return 202, success(
                MessageOutput(message).data,
                "Message queued for delivery",
                job_id=str(message.job_id),
                message_id=str(message.pk),
                status="pending",
            )

        fingerprint = {"type": self.message_type, **original, "mode": "sync" if sync else "async"}
        status_code, response_body, replayed = services.idempotent(
            tenant=tenant, key=key, body=fingerprint, produce=produce
        )
        if sync and not replayed:
            try:
                status_code, response_body = _send_now(response_body["message_id"])
            except WavoraError as exc:
                services.idempotent_store(
                    tenant=tenant,
                    key=key,
                    status=exc.status_code,
                    body=error(exc.code, exc.message, exc.details),
                )
                raise
            # A replay of a sync send returns the sync answer, not the intermediate 202.
            services.idempotent_store(tenant=tenant, key=key, status=status_code, body=response_body)
        response = Response(response_body, status=status_code)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


def _send_now(message_id: str) -> tuple[int, dict[str, Any]]:
    claimed = services.message_claim(message_id=uuid.UUID(message_id))
    assert claimed is not None
    try:
        services.message_deliver(message=claimed)
    except services.MediaUnavailable as exc:
        services.message_mark_failed(message=claimed, code=exc.code, reason=exc.message)
        raise WavoraError(exc.message, code=exc.code, status=400)
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


def send_view(message_type: str) -> Any:
    """One view class per type, so the OpenAPI schema shows each type's own request body."""
    mtype = TYPES[message_type]

    @extend_schema(
        operation_id=f"send_{message_type}",
        summary=f"Send a {message_type} message",
        request={"application/json": mtype.serializer, "multipart/form-data": mtype.serializer},
        parameters=_SEND_HEADERS,
        responses={
            202: AcceptedOutput,
            200: OpenApiResponse(SentOutput, description="Sent (X-Send-Mode: sync)"),
            409: error_response("IDEMPOTENCY_CONFLICT; with X-Send-Mode: sync, DEVICE_NOT_CONNECTED"),
            502: error_response("UPSTREAM_ERROR (X-Send-Mode: sync): GOWA failed"),
        },
        tags=["messages"],
    )
    def post(self: SendApi, request: Request) -> Response:
        return SendApi.post(self, request)

    view = type(f"Send{message_type.title()}Api", (SendApi,), {"message_type": message_type, "post": post})
    return cast(Any, view).as_view()


class BatchItemResult(serializers.Serializer):
    index = serializers.IntegerField()
    message_id = serializers.UUIDField()


class BatchItemError(serializers.Serializer):
    index = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


BatchOutput = inline_serializer(
    name="BatchOutput",
    fields={
        "job_id": serializers.UUIDField(allow_null=True),
        "accepted": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "messages": BatchItemResult(many=True),
        "errors": BatchItemError(many=True),
    },
)


class BatchInput(serializers.Serializer):
    device_id = serializers.CharField(required=False, help_text="Default device for items that name none")
    messages = serializers.ListField(child=serializers.DictField(), max_length=1000)


MAX_BATCH = 1000


class BatchApi(ApiView):
    """``POST /api/v1/messages/batch``: a JSON array of up to 1000 items of any type, accepted in bulk."""

    required_scopes = "messages:send"

    @extend_schema(
        operation_id="send_batch",
        request=BatchInput,
        parameters=[
            OpenApiParameter("device_id", str, OpenApiParameter.QUERY, required=False),
            _SEND_HEADERS[0],
        ],
        responses={202: BatchOutput, 409: _IDEMPOTENCY_CONFLICT},
        tags=["messages"],
    )
    def post(self, request: Request) -> Response:
        principal = principal_of(request)
        tenant = principal.tenant
        assert tenant is not None
        data: Any = request.data
        default_device = request.query_params.get("device_id") or request.query_params.get("sessionId")
        if isinstance(data, dict):
            default_device = data.get("device_id") or default_device
            data = data.get("messages")
        if not isinstance(data, list):
            raise ValidationFailed(
                'The body must be a JSON array of messages (or {"messages": [...]}).',
                details={"messages": ["Expected a list."]},
            )
        if not data:
            raise ValidationFailed(
                "messages: the batch is empty.", details={"messages": ["At least one item."]}
            )
        if len(data) > MAX_BATCH:
            raise ValidationFailed(
                f"messages: at most {MAX_BATCH} items per batch, got {len(data)}.",
                details={"messages": [f"At most {MAX_BATCH} items."]},
            )

        def produce() -> tuple[int, dict[str, Any]]:
            items, errors = compose.build_batch(
                principal=principal, raw_items=data, default_device=default_device
            )
            job, accepted, refused = services.messages_accept_batch(principal=principal, items=items)
            errors.update(refused)
            error_rows = [
                {"index": i, "code": e.code, "message": e.message, "details": e.details}
                for i, e in sorted(errors.items())
            ]
            result = {
                "job_id": str(job.pk) if job else None,
                "accepted": len(accepted),
                "rejected": len(errors),
                "messages": [{"index": i, "message_id": str(m.pk)} for i, m in accepted],
                "errors": error_rows,
            }
            if not accepted:
                raise ValidationFailed(
                    "No item of the batch could be accepted.",
                    details={"items": error_rows},  # type: ignore[dict-item]
                )
            text = f"{len(accepted)} message(s) queued for delivery" + (
                f", {len(errors)} rejected" if errors else ""
            )
            return 202, success(result, text, job_id=result["job_id"])

        status_code, body, replayed = services.idempotent(
            tenant=tenant,
            key=request.headers.get("Idempotency-Key"),
            body={"batch": compose.json_safe(data), "device_id": default_device},
            produce=produce,
        )
        response = Response(body, status=status_code)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


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
