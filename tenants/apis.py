from __future__ import annotations

import uuid
from typing import Any

from django.apps import apps
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from wavora.api.envelope import success
from wavora.api.errors import Forbidden, NotFound, ValidationFailed
from wavora.api.views import ApiView, GenericApiView

from .models import ApiKey
from .permissions import principal_of
from .principal import ALL_SCOPES, Principal
from .selectors import api_keys_of_tenant
from .services import api_key_create, api_key_revoke, api_key_rotate


class ApiKeyOutput(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "device_ids",
            "allow_sync_send",
            "rate_limit_per_minute",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created_at",
            "status",
        ]


def _key_with_secret(key: ApiKey, raw: str) -> dict[str, Any]:
    return {**ApiKeyOutput(key).data, "key": raw}


class ApiKeyListCreateApi(GenericApiView):
    required_scopes = "keys:write"
    serializer_class = ApiKeyOutput

    class ApiKeyCreateInput(serializers.Serializer):  # unique name: it is an OpenAPI component
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=sorted(ALL_SCOPES)), required=False, allow_empty=False
        )
        device_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
        allow_sync_send = serializers.BooleanField(required=False, default=False)
        rate_limit_per_minute = serializers.IntegerField(
            required=False, min_value=1, max_value=100000, allow_null=True, default=None
        )

    def get_queryset(self) -> Any:
        tenant = principal_of(self.request).tenant
        assert tenant is not None
        return api_keys_of_tenant(tenant=tenant)

    @extend_schema(operation_id="api_v1_api_keys_list", responses={200: ApiKeyOutput(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(request=ApiKeyCreateInput, responses={201: ApiKeyOutput})
    def post(self, request: Request) -> Response:
        principal = principal_of(request)
        assert principal.tenant is not None
        data = self.ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        _check_devices_belong_to(principal.tenant.pk, fields["device_ids"])
        if principal.api_key is not None:
            # A key can only mint keys within its own powers.
            fields.setdefault("scopes", sorted(principal.scopes))
            if principal.device_ids and not fields["device_ids"]:
                fields["device_ids"] = sorted(principal.device_ids)
            _check_within_powers(
                principal,
                scopes=fields["scopes"],
                device_ids=fields["device_ids"],
                allow_sync_send=fields["allow_sync_send"],
            )
        key, raw = api_key_create(tenant=principal.tenant, created_by=principal.user, **fields)
        return Response(
            success(_key_with_secret(key, raw), "API key created. Store the key now: it is not shown again."),
            status=status.HTTP_201_CREATED,
        )


def _check_within_powers(
    principal: Principal, *, scopes: Any, device_ids: Any, allow_sync_send: bool
) -> None:
    """A key may only create (or rotate into a secret it can read) keys that are no stronger than itself."""
    if principal.api_key is None:
        return  # an owner's or admin's dashboard session holds every power of the tenant
    extra = set(scopes) - principal.scopes
    if extra:
        raise Forbidden(f"This key cannot grant scopes it does not hold: {', '.join(sorted(extra))}.")
    if allow_sync_send and not principal.allow_sync_send:
        raise Forbidden("Only a key allowed to send synchronously can create one.")
    if principal.device_ids:
        wanted = {uuid.UUID(str(d)) for d in device_ids}
        if not wanted or wanted - principal.device_ids:
            raise Forbidden("This key is restricted to some devices and cannot grant access to others.")


def _check_devices_belong_to(tenant_id: Any, device_ids: list[Any]) -> None:
    if not device_ids:
        return
    # Read-only lookup by label: tenants sits below devices and must not import it.
    device_model = apps.get_model("devices", "Device")
    found = set(
        device_model.objects.filter(
            tenant_id=tenant_id, pk__in=device_ids, deleted_at__isnull=True
        ).values_list("pk", flat=True)
    )
    missing = [str(d) for d in device_ids if d not in found]
    if missing:
        raise ValidationFailed(
            f"device_ids: unknown device {missing[0]}",
            details={"device_ids": [f"Unknown device: {d}" for d in missing]},
        )


def _key_of_request(request: Request, key_id: Any) -> ApiKey:
    tenant = principal_of(request).tenant
    assert tenant is not None
    key = api_keys_of_tenant(tenant=tenant).filter(pk=key_id).first()
    if key is None:
        raise NotFound("API key not found.")
    return key


class ApiKeyDetailApi(ApiView):
    required_scopes = "keys:write"

    @extend_schema(responses={200: ApiKeyOutput})
    def delete(self, request: Request, key_id: Any) -> Response:
        key = api_key_revoke(key=_key_of_request(request, key_id))
        return Response(success(ApiKeyOutput(key).data, "API key revoked."))


class ApiKeyRotateApi(ApiView):
    required_scopes = "keys:write"

    @extend_schema(request=None, responses={201: ApiKeyOutput})
    def post(self, request: Request, key_id: Any) -> Response:
        key = _key_of_request(request, key_id)
        _check_within_powers(
            principal_of(request),
            scopes=key.scopes,
            device_ids=key.device_ids,
            allow_sync_send=key.allow_sync_send,
        )
        key, raw = api_key_rotate(key=key)
        return Response(
            success(_key_with_secret(key, raw), "API key rotated. The old key no longer works."),
            status=status.HTTP_201_CREATED,
        )
