"""``GET/POST /api/v1/auto-replies``, ``GET/PATCH/DELETE /api/v1/auto-replies/{id}`` (seed 004).

Reading rules needs ``messages:read`` (there is no ``autoreply:read`` scope; a rule is message
content), changing them ``autoreply:write``. A key restricted to some devices sees their rules and
the global ones, and may only create or change rules of its devices."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from devices.models import Device
from devices.selectors import device_of_tenant
from tenants.permissions import principal_of
from tenants.principal import Principal
from wavora.api.envelope import success
from wavora.api.errors import Forbidden, NotFound
from wavora.api.schema import DeletedOutput
from wavora.api.views import ApiView, GenericApiView

from . import autoreply
from .models import AutoReplyRule


class AutoReplyRuleOutput(serializers.ModelSerializer):
    device_id = serializers.UUIDField(allow_null=True, help_text="null: every device of the tenant")
    reply = serializers.DictField(help_text="The message sent back: a single-send body with its type")

    class Meta:
        model = AutoReplyRule
        fields = [
            "id",
            "device_id",
            "keyword",
            "match",
            "reply",
            "enabled",
            "priority",
            "reply_to_groups",
            "created_at",
            "updated_at",
        ]


class AutoReplyRuleInput(serializers.Serializer):
    device_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Only this device; omitted or null: every device"
    )
    keyword = serializers.CharField(max_length=200, help_text="Matched case-insensitively")
    match = serializers.ChoiceField(
        choices=AutoReplyRule.Match.choices,
        default=AutoReplyRule.Match.CONTAINS,
        help_text="exact: the whole (trimmed) message equals the keyword; contains: it appears anywhere",
    )
    reply = serializers.DictField(
        help_text='A body as for POST /api/v1/messages/{type}, with "type" and without device_id/to, '
        'e.g. {"type": "text", "text": "Harga mulai 10rb"} or {"type": "image", "media_id": "…", '
        '"caption": "…"}. Checked now; errors name reply.<field>.'
    )
    enabled = serializers.BooleanField(default=True)
    priority = serializers.IntegerField(
        default=0, min_value=-1_000_000, max_value=1_000_000, help_text="Higher is tried first"
    )
    reply_to_groups = serializers.BooleanField(
        default=False, help_text="Also answer in group chats (never by default)"
    )


class AutoReplyListQuery(serializers.Serializer):
    device_id = serializers.UUIDField(
        required=False, help_text="Only the rules that apply to this device: its own and the global ones"
    )
    enabled = serializers.BooleanField(
        required=False, help_text="Only enabled (true) or disabled (false) rules"
    )


_EXAMPLE = OpenApiExample(
    "Price question",
    value={
        "keyword": "harga",
        "match": "contains",
        "reply": {"type": "text", "text": "Harga mulai 10rb"},
        "priority": 10,
    },
    request_only=True,
)


def _principal(request: Request) -> Principal:
    principal = principal_of(request)
    assert principal.tenant is not None
    return principal


def _visible_rules(principal: Principal) -> QuerySet[AutoReplyRule]:
    assert principal.tenant is not None
    rules = autoreply.rules_of_tenant(tenant_id=principal.tenant.pk)
    if principal.device_ids:
        rules = rules.filter(Q(device_id__in=principal.device_ids) | Q(device__isnull=True))
    return rules


def _rule(principal: Principal, rule_id: Any) -> AutoReplyRule:
    assert principal.tenant is not None
    rule = autoreply.rule_of_tenant(tenant_id=principal.tenant.pk, rule_id=rule_id)
    if principal.device_ids and rule.device_id is not None and rule.device_id not in principal.device_ids:
        raise NotFound(f"Auto-reply rule {rule.pk} not found.")
    return rule


def _check_may_change(principal: Principal, device: Device | None) -> None:
    if not principal.device_ids:
        return
    if device is None:
        raise Forbidden(
            "A key restricted to some devices can only manage rules of those devices, not global ones.",
            details={"device_id": ["Required for this key."]},
        )
    if device.pk not in principal.device_ids:
        raise Forbidden(
            "This API key is restricted to other devices.", details={"device_id": ["Not allowed."]}
        )


def _device(principal: Principal, device_id: Any) -> Device | None:
    assert principal.tenant is not None
    if device_id is None:
        return None
    return device_of_tenant(tenant_id=principal.tenant.pk, device_id=device_id)


class AutoReplyListCreateApi(GenericApiView):
    required_scopes = {"GET": "messages:read", "POST": "autoreply:write"}
    serializer_class = AutoReplyRuleOutput

    @extend_schema(
        operation_id="api_v1_auto_replies_list",
        parameters=[AutoReplyListQuery],
        responses={200: AutoReplyRuleOutput(many=True)},
        description="The tenant's rules in the order they are tried: highest priority first, then oldest.",
    )
    def get(self, request: Request) -> Response:
        principal = _principal(request)
        query = AutoReplyListQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        rules = _visible_rules(principal)
        if query.validated_data.get("device_id"):
            device = _device(principal, query.validated_data["device_id"])
            rules = rules.filter(Q(device=device) | Q(device__isnull=True))
        if query.validated_data.get("enabled") is not None:
            rules = rules.filter(enabled=query.validated_data["enabled"])
        page = self.paginate_queryset(rules)
        return self.get_paginated_response(AutoReplyRuleOutput(page, many=True).data)

    @extend_schema(
        operation_id="api_v1_auto_replies_create",
        request=AutoReplyRuleInput,
        responses={201: AutoReplyRuleOutput},
        examples=[_EXAMPLE],
        description="400 VALIDATION_ERROR naming reply.<field> when the reply would not be a valid "
        "send; 404 DEVICE_NOT_FOUND for a device that is not the tenant's.",
    )
    def post(self, request: Request) -> Response:
        principal = _principal(request)
        assert principal.tenant is not None
        data = AutoReplyRuleInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        device = _device(principal, fields.pop("device_id", None))
        _check_may_change(principal, device)
        rule = autoreply.rule_create(tenant=principal.tenant, device=device, **fields)
        return Response(
            success(AutoReplyRuleOutput(rule).data, "Auto-reply rule created."),
            status=status.HTTP_201_CREATED,
        )


class AutoReplyDetailApi(ApiView):
    required_scopes = {"GET": "messages:read", "PATCH": "autoreply:write", "DELETE": "autoreply:write"}

    @extend_schema(operation_id="api_v1_auto_replies_retrieve", responses={200: AutoReplyRuleOutput})
    def get(self, request: Request, rule_id: Any) -> Response:
        return Response(success(AutoReplyRuleOutput(_rule(_principal(request), rule_id)).data))

    @extend_schema(
        operation_id="api_v1_auto_replies_partial_update",
        request=AutoReplyRuleInput,
        responses={200: AutoReplyRuleOutput},
    )
    def patch(self, request: Request, rule_id: Any) -> Response:
        principal = _principal(request)
        rule = _rule(principal, rule_id)
        data = AutoReplyRuleInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        _check_may_change(principal, rule.device)
        if "device_id" in changes:
            changes["device"] = _device(principal, changes.pop("device_id"))
            _check_may_change(principal, changes["device"])
        rule = autoreply.rule_update(rule=rule, **changes)
        return Response(success(AutoReplyRuleOutput(rule).data, "Auto-reply rule updated."))

    @extend_schema(operation_id="api_v1_auto_replies_destroy", responses={200: DeletedOutput})
    def delete(self, request: Request, rule_id: Any) -> Response:
        principal = _principal(request)
        rule = _rule(principal, rule_id)
        _check_may_change(principal, rule.device)
        deleted_id = str(rule.pk)
        autoreply.rule_delete(rule=rule)
        return Response(success({"id": deleted_id}, "Auto-reply rule deleted."))
