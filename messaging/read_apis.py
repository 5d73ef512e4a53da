"""Message logs, message actions (revoke/react/read), a device's chats, and the phone check (SPEC §4)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from devices.gowa import GowaError
from devices.models import Device
from devices.selectors import device_of_tenant
from tenants.permissions import principal_of
from tenants.principal import Principal
from wavora.api.envelope import success
from wavora.api.errors import Forbidden, InvalidPhone
from wavora.api.pagination import EnvelopePagination
from wavora.api.schema import error_response
from wavora.api.views import ApiView, GenericApiView
from wavora.phones import normalize_recipient, to_jid

from . import actions, phone_check
from .apis import GOWA_ERRORS, MessageDetailOutput, MessageOutput, _sync_error
from .models import Message
from .selectors import message_of_tenant, messages_of_tenant

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _tenant_principal(request: Request) -> Principal:
    principal = principal_of(request)
    assert principal.tenant is not None
    return principal


def _usable_device(principal: Principal, device_id: Any) -> Device:
    assert principal.tenant is not None
    device = device_of_tenant(tenant_id=principal.tenant.pk, device_id=device_id)
    if not principal.can_use_device(device.pk):
        raise Forbidden(
            "This API key is restricted to other devices.", details={"device_id": ["Not allowed."]}
        )
    return device


# --- GET /message-logs -------------------------------------------------------------------------
class MessageLogQuery(serializers.Serializer):
    device_id = serializers.UUIDField(required=False, help_text="Only this device's messages")
    direction = serializers.ChoiceField(
        choices=Message.Direction.choices, required=False, help_text="out (sent by us) or in (received)"
    )
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    type = serializers.CharField(required=False, max_length=20, help_text="text, image, file, …")
    to = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Who received it: the recipient of outgoing messages, the device's number for incoming",
    )
    date_from = serializers.DateTimeField(
        required=False, help_text="ISO-8601; created at or after (a bare date means its start, UTC)"
    )
    date_to = serializers.DateTimeField(
        required=False, help_text="ISO-8601; created at or before (a bare date includes that whole day)"
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # "from" is a Python keyword, so it cannot be a class attribute.
        fields["from"] = serializers.CharField(
            required=False,
            max_length=100,
            help_text="Who sent it: the sender of incoming messages, the device's number for outgoing",
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and end < start:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        return attrs


def _filtered_logs(principal: Principal, params: dict[str, str]) -> QuerySet[Message]:
    query = MessageLogQuery(data=params)
    query.is_valid(raise_exception=True)
    fields = query.validated_data
    assert principal.tenant is not None
    messages = messages_of_tenant(tenant_id=principal.tenant.pk)
    if principal.device_ids:
        messages = messages.filter(device_id__in=principal.device_ids)
    if "device_id" in fields:
        messages = messages.filter(device_id=fields["device_id"])
    for name in ("direction", "status", "type"):
        if name in fields:
            messages = messages.filter(**{name: fields[name]})
    if "to" in fields:
        to = normalize_recipient(fields["to"], field="to")
        messages = messages.filter(
            Q(direction=Message.Direction.OUT, recipient=to)
            | Q(direction=Message.Direction.IN, device__phone=to)
        )
    if "from" in fields:
        sender = normalize_recipient(fields["from"], field="from")
        messages = messages.filter(
            Q(direction=Message.Direction.IN, sender__in=[sender, to_jid(sender)])
            | Q(direction=Message.Direction.OUT, device__phone=sender)
        )
    if "date_from" in fields:
        messages = messages.filter(created_at__gte=fields["date_from"])
    if "date_to" in fields:
        if _DATE_ONLY.match(params["date_to"].strip()):
            messages = messages.filter(created_at__lt=fields["date_to"] + timedelta(days=1))
        else:
            messages = messages.filter(created_at__lte=fields["date_to"])
    return messages.order_by("-created_at", "-id")


class MessageLogListApi(GenericApiView):
    required_scopes = "messages:read"
    serializer_class = MessageOutput
    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="api_v1_message_logs_list",
        parameters=[MessageLogQuery],
        responses={200: MessageOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        principal = _tenant_principal(request)
        # An empty value (``?status=``) means "no filter", as in an HTML form.
        params = {
            key: value for key, value in request.query_params.items() if isinstance(value, str) and value
        }
        page = self.paginate_queryset(_filtered_logs(principal, params))
        return self.get_paginated_response(MessageOutput(page, many=True).data)


# --- POST /messages/{id}/revoke|react|read ------------------------------------------------------
def _own_message(request: Request, message_id: Any) -> Message:
    principal = _tenant_principal(request)
    assert principal.tenant is not None
    message = message_of_tenant(tenant_id=principal.tenant.pk, message_id=message_id)
    if not principal.can_use_device(message.device_id):
        raise Forbidden("This API key is restricted to other devices.")
    return message


def _after_action(message: Message, text: str) -> Response:
    assert message.tenant_id is not None
    fresh = message_of_tenant(tenant_id=message.tenant_id, message_id=message.pk)
    return Response(success(MessageDetailOutput(fresh).data, text))


# The action's own 400 (INVALID_MESSAGE) and the errors of the GOWA call.
_ACTION_RESPONSES = {
    200: MessageDetailOutput,
    400: error_response("INVALID_MESSAGE: no WhatsApp id yet, or revoked"),
    **GOWA_ERRORS,
}
_ACTION_ERRORS = (
    "400 INVALID_MESSAGE: the message has no WhatsApp id yet (pending or failed) or was revoked. "
    "404 NOT_FOUND: not this tenant's message. 409 DEVICE_NOT_CONNECTED. 502 UPSTREAM_ERROR: GOWA failed."
)


class MessageRevokeApi(ApiView):
    required_scopes = "messages:send"

    @extend_schema(
        request=None,
        responses=_ACTION_RESPONSES,
        description="Delete the message for everyone. Recorded in its history as `revoked`. "
        + _ACTION_ERRORS,
    )
    def post(self, request: Request, message_id: Any) -> Response:
        message = _own_message(request, message_id)
        try:
            actions.message_revoke(message=message)
        except GowaError as exc:
            raise _sync_error(exc) from exc
        return _after_action(message, "Message revoked.")


class ReactInput(serializers.Serializer):
    emoji = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        max_length=actions.MAX_EMOJI_CODE_POINTS,
        help_text="One emoji; an empty string removes the reaction",
    )


class MessageReactApi(ApiView):
    required_scopes = "messages:send"

    @extend_schema(
        request=ReactInput,
        responses=_ACTION_RESPONSES,
        description="React with one emoji (empty removes). Recorded in the history as `reaction 👍`. "
        + _ACTION_ERRORS,
    )
    def post(self, request: Request, message_id: Any) -> Response:
        message = _own_message(request, message_id)
        data = ReactInput(data=request.data)
        data.is_valid(raise_exception=True)
        emoji = data.validated_data["emoji"]
        try:
            actions.message_react(message=message, emoji=emoji)
        except GowaError as exc:
            raise _sync_error(exc) from exc
        return _after_action(message, "Reaction sent." if emoji else "Reaction removed.")


class MessageReadApi(ApiView):
    required_scopes = "messages:send"

    @extend_schema(
        request=None,
        responses=_ACTION_RESPONSES,
        description="Send WhatsApp's read receipt for the message. Recorded in the history as "
        "`marked as read`. " + _ACTION_ERRORS,
    )
    def post(self, request: Request, message_id: Any) -> Response:
        message = _own_message(request, message_id)
        try:
            actions.message_mark_read(message=message)
        except GowaError as exc:
            raise _sync_error(exc) from exc
        return _after_action(message, "Message marked as read.")


# --- GET /devices/{id}/chats[/{jid}/messages] ---------------------------------------------------
class ChatReactionOutput(serializers.Serializer):
    emoji = serializers.CharField()
    sender_jid = serializers.CharField()
    sender_display_name = serializers.CharField()
    is_from_me = serializers.BooleanField()
    timestamp = serializers.DateTimeField(allow_null=True)


class ChatOutput(serializers.Serializer):
    jid = serializers.CharField(help_text="…@s.whatsapp.net, …@g.us, …")
    name = serializers.CharField()
    last_message_time = serializers.DateTimeField(allow_null=True)
    ephemeral_expiration = serializers.IntegerField(help_text="Disappearing-message timer, seconds (0 = off)")
    archived = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class ChatMessageOutput(serializers.Serializer):
    id = serializers.CharField(help_text="WhatsApp's message id")
    chat_jid = serializers.CharField()
    sender_jid = serializers.CharField()
    sender_display_name = serializers.CharField()
    content = serializers.CharField()
    timestamp = serializers.DateTimeField(allow_null=True)
    is_from_me = serializers.BooleanField()
    media_type = serializers.CharField(allow_null=True)
    filename = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    file_length = serializers.IntegerField(allow_null=True)
    call_metadata = serializers.CharField(allow_null=True, help_text="JSON text, for call logs only")
    reactions = ChatReactionOutput(many=True)
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class ChatPageQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(min_value=1, default=EnvelopePagination.page_size)
    search = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


_SEARCH = OpenApiParameter(
    "search", str, OpenApiParameter.QUERY, required=False, description="Search by chat name / message text"
)


class _ChatProxyApi(GenericApiView):
    # GOWA pages; we only translate. pagination_class documents page/page_size and the envelope.
    required_scopes = "messages:read"
    pagination_class = EnvelopePagination

    def page_query(self, request: Request) -> tuple[int, int, str]:
        query = ChatPageQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        fields = query.validated_data
        page_size = min(fields["page_size"], EnvelopePagination.max_page_size)
        return fields["page"], page_size, fields["search"]

    def paged(self, data: Any, *, page: int, page_size: int, total: int) -> Response:
        body = success(data, "OK")
        body["meta"] = {"pagination": {"page": page, "page_size": page_size, "total": total}}
        return Response(body)


class DeviceChatListApi(_ChatProxyApi):
    @extend_schema(
        operation_id="api_v1_devices_chats_list",
        parameters=[_SEARCH],
        responses={200: ChatOutput(many=True), **GOWA_ERRORS},
        description="The device's chats from GOWA's chat storage, most recent activity first.",
    )
    def get(self, request: Request, device_id: Any) -> Response:
        device = _usable_device(_tenant_principal(request), device_id)
        page, page_size, search = self.page_query(request)
        try:
            result = actions.device_chats(device=device, page=page, page_size=page_size, search=search)
        except GowaError as exc:
            raise _sync_error(exc) from exc
        data = ChatOutput(result.items, many=True).data
        return self.paged(data, page=page, page_size=page_size, total=result.total)


class DeviceChatMessageListApi(_ChatProxyApi):
    @extend_schema(
        operation_id="api_v1_devices_chats_messages_list",
        parameters=[
            OpenApiParameter(
                "jid",
                str,
                OpenApiParameter.PATH,
                description="The chat: a phone number (0812…, +62 812…, 62812…) or a JID",
            ),
            _SEARCH,
        ],
        responses={200: ChatMessageOutput(many=True), **GOWA_ERRORS},
        description="Messages of one chat from GOWA's chat storage, newest first.",
    )
    def get(self, request: Request, device_id: Any, jid: str) -> Response:
        device = _usable_device(_tenant_principal(request), device_id)
        chat_jid = to_jid(normalize_recipient(jid, field="jid"))
        page, page_size, search = self.page_query(request)
        try:
            result = actions.device_chat_messages(
                device=device, chat_jid=chat_jid, page=page, page_size=page_size, search=search
            )
        except GowaError as exc:
            raise _sync_error(exc) from exc
        data = ChatMessageOutput(result.items, many=True).data
        return self.paged(data, page=page, page_size=page_size, total=result.total)


# --- POST /phone/validate, DELETE /phone/cache ---------------------------------------------------
class PhoneValidateInput(serializers.Serializer):
    device_id = serializers.CharField(help_text="The connected device that asks WhatsApp")
    phone = serializers.CharField(max_length=100, help_text="+62 812…, 0812…, 62812… or …@s.whatsapp.net")


class PhoneCheckOutput(serializers.Serializer):
    phone = serializers.CharField(help_text="Normalised digits")
    is_on_whatsapp = serializers.BooleanField()
    jid = serializers.CharField(allow_null=True, help_text="The WhatsApp JID; null when not on WhatsApp")
    cached = serializers.BooleanField(help_text="True when answered from the cache without asking WhatsApp")


class PhoneCacheClearedOutput(serializers.Serializer):
    cleared = serializers.IntegerField(help_text="Cached answers removed (this tenant's only)")


class PhoneValidateApi(ApiView):
    required_scopes = "messages:send"

    @extend_schema(request=PhoneValidateInput, responses={200: PhoneCheckOutput, **GOWA_ERRORS})
    def post(self, request: Request) -> Response:
        principal = _tenant_principal(request)
        assert principal.tenant is not None
        data = PhoneValidateInput(data=request.data)
        data.is_valid(raise_exception=True)
        phone = normalize_recipient(data.validated_data["phone"], field="phone")
        if not phone.isdigit():
            raise InvalidPhone(
                "phone: only phone numbers can be checked, not group or LID JIDs.",
                details={"phone": ["Phone number expected."]},
            )
        device = _usable_device(principal, data.validated_data["device_id"])
        try:
            result = phone_check.phone_check(tenant_id=principal.tenant.pk, device=device, phone=phone)
        except GowaError as exc:
            raise _sync_error(exc) from exc
        return Response(
            success(
                PhoneCheckOutput(result).data,
                "Phone validation result" + (" (cached)" if result.cached else ""),
            )
        )


class PhoneCacheApi(ApiView):
    required_scopes = "messages:send"

    @extend_schema(request=None, responses={200: PhoneCacheClearedOutput})
    def delete(self, request: Request) -> Response:
        principal = _tenant_principal(request)
        assert principal.tenant is not None
        cleared = phone_check.phone_cache_clear(tenant_id=principal.tenant.pk)
        return Response(success({"cleared": cleared}, "Cache cleared"))
