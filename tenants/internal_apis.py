"""Partner provisioning API (seed 002) at /internal/: keys from INTERNAL_API_KEYS, ``service:key``
(scoped to that source) or a bare global key, sent as ``x-internal-api-key`` or Bearer."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from wavora.api.envelope import success
from wavora.api.errors import NotFound
from wavora.api.pagination import EnvelopePagination
from wavora.api.views import ApiView, GenericApiView

from .models import ApiKey, Tenant
from .services import partner_api_key, partner_api_key_rotate, tenant_provision


@dataclass(frozen=True)
class InternalCaller:
    source: str | None  # None: a global key

    is_authenticated = True
    is_anonymous = False

    @property
    def mode(self) -> str:
        return "global" if self.source is None else "scoped"


def parse_internal_keys(entries: list[str]) -> list[tuple[str | None, str]]:
    """``["genfity-app:key123", "admin_key"]`` → ``[("genfity-app", "key123"), (None, "admin_key")]``."""
    keys: list[tuple[str | None, str]] = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        source, sep, secret = entry.partition(":")
        keys.append((source.strip(), secret.strip()) if sep else (None, entry))
    return [(source, secret) for source, secret in keys if secret]


def caller_for(raw: str) -> InternalCaller | None:
    match = None
    for source, secret in parse_internal_keys(settings.INTERNAL_API_KEYS):
        # compare against every key (constant time each) so timing does not tell which one is close
        if hmac.compare_digest(secret.encode(), raw.encode()):
            match = InternalCaller(source=source)
    return match


class InternalKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[InternalCaller, None] | None:
        raw = request.META.get("HTTP_X_INTERNAL_API_KEY", "").strip()
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not raw and header[:7].lower() == "bearer ":
            raw = header[7:].strip()
        if not raw:
            return None
        caller = caller_for(raw)
        if caller is None:
            raise exceptions.AuthenticationFailed("Invalid internal API key.")
        return caller, None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="wavora-internal"'


class InternalKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.internal_apis.InternalKeyAuthentication"
    name = "internalApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "header", "name": "x-internal-api-key"}


class IsInternalCaller(BasePermission):
    message = "An internal API key is required."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, InternalCaller)


def caller_of(request: Request) -> InternalCaller:
    assert isinstance(request.user, InternalCaller)
    return request.user


class InternalApi(ApiView):
    authentication_classes = [InternalKeyAuthentication]
    permission_classes = [IsInternalCaller]


class InternalGenericApi(GenericApiView):
    authentication_classes = [InternalKeyAuthentication]
    permission_classes = [IsInternalCaller]


def tenants_visible_to(caller: InternalCaller) -> QuerySet[Tenant]:
    qs = Tenant.objects.annotate(
        device_count=Count("devices", filter=Q(devices__deleted_at__isnull=True))
    ).order_by("created_at")
    return qs if caller.source is None else qs.filter(source=caller.source)


def tenant_for(caller: InternalCaller, external_id: str) -> Tenant:
    tenant = tenants_visible_to(caller).filter(external_id=external_id).first()
    if tenant is None:
        raise NotFound("Tenant not found.", details={"external_id": ["No tenant with this external_id."]})
    return tenant


# --- serializers ----------------------------------------------------------------------------------------
class InternalTenantOutput(serializers.ModelSerializer):
    tenant_id = serializers.UUIDField(source="id", read_only=True)
    devices = serializers.SerializerMethodField()
    subscription_active = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "tenant_id",
            "external_id",
            "name",
            "source",
            "created_by",
            "expires_at",
            "max_devices",
            "max_messages",
            "is_active",
            "subscription_active",
            "devices",
            "created_at",
            "updated_at",
        ]

    def get_devices(self, tenant: Tenant) -> int:
        return int(getattr(tenant, "device_count", 0) or 0)

    def get_subscription_active(self, tenant: Tenant) -> bool:
        from django.utils import timezone

        return tenant.is_active and (tenant.expires_at is None or tenant.expires_at > timezone.now())


class InternalTenantCreatedOutput(InternalTenantOutput):
    api_key = serializers.CharField(read_only=True, help_text="Only when the tenant was created")

    class Meta(InternalTenantOutput.Meta):
        fields = [*InternalTenantOutput.Meta.fields, "api_key"]


class InternalTenantInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=200, required=False)
    source = serializers.CharField(  # type: ignore[assignment]  # a field named like Field.source
        max_length=100, required=False, allow_blank=True, default=""
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    max_devices = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    max_messages = serializers.IntegerField(min_value=0, max_value=2_000_000_000, required=False)
    plan = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text="Plan code for every device; empty = free"
    )
    created_by = serializers.CharField(max_length=200, required=False, allow_blank=True)
    owner_email = serializers.EmailField(required=False, allow_blank=True, default="")


class InternalTenantUpdateInput(InternalTenantInput):
    external_id = serializers.CharField(max_length=200, required=False)


class InternalMeOutput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["scoped", "global"])
    source_service = serializers.CharField(allow_null=True)


class InternalApiKeyOutput(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "status", "expires_at", "last_used_at", "created_at"]


# --- views -------------------------------------------------------------------------------------------------
class InternalMeApi(InternalApi):
    @extend_schema(operation_id="internal_me", responses={200: InternalMeOutput}, tags=["internal"])
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        return Response(success({"auth": {"mode": caller.mode, "source_service": caller.source}}))


class InternalPagination(EnvelopePagination):
    page_size_query_param = "limit"  # seed 002 calls it limit


def _provision(request: Request, data: dict[str, Any], external_id: str) -> Response:
    caller = caller_of(request)
    fields = {k: v for k, v in data.items() if k != "external_id"}
    tenant, raw_key, created = tenant_provision(
        external_id=external_id, caller_source=caller.source, **fields
    )
    tenant = tenants_visible_to(caller).get(pk=tenant.pk)
    if created:
        body = {**InternalTenantOutput(tenant).data, "api_key": raw_key}
        return Response(
            success(body, "Tenant created. Store the API key now: it is not shown again."),
            status=status.HTTP_201_CREATED,
        )
    return Response(success(InternalTenantOutput(tenant).data, "Tenant updated."))


class InternalTenantListApi(InternalGenericApi):
    pagination_class = InternalPagination
    serializer_class = InternalTenantOutput

    @extend_schema(
        operation_id="internal_tenants_list",
        parameters=[
            OpenApiParameter("source", str, required=False),
            OpenApiParameter("limit", int, required=False),
        ],
        responses={200: InternalTenantOutput(many=True)},
        tags=["internal"],
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        qs = tenants_visible_to(caller)
        wanted = request.query_params.get("source")
        if wanted and caller.source is None:  # a scoped key is always pinned to its own source
            qs = qs.filter(source=wanted)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(InternalTenantOutput(page, many=True).data)

    @extend_schema(
        operation_id="internal_tenants_upsert",
        summary="Create or update a tenant by external_id",
        description="201 with `api_key` when the tenant is created; 200 without it when it existed.",
        request=InternalTenantInput,
        responses={201: InternalTenantCreatedOutput, 200: InternalTenantOutput},
        tags=["internal"],
    )
    def post(self, request: Request) -> Response:
        form = InternalTenantInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = {
            k: v
            for k, v in form.validated_data.items()
            if k in request.data or k in ("source", "owner_email")
        }
        return _provision(request, data, form.validated_data["external_id"])


class InternalTenantDetailApi(InternalApi):
    @extend_schema(
        operation_id="internal_tenant_get", responses={200: InternalTenantOutput}, tags=["internal"]
    )
    def get(self, request: Request, external_id: str) -> Response:
        return Response(success(InternalTenantOutput(tenant_for(caller_of(request), external_id)).data))

    @extend_schema(
        operation_id="internal_tenant_update",
        request=InternalTenantUpdateInput,
        responses={200: InternalTenantOutput},
        tags=["internal"],
    )
    def put(self, request: Request, external_id: str) -> Response:
        tenant_for(caller_of(request), external_id)
        form = InternalTenantUpdateInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = {k: v for k, v in form.validated_data.items() if k in request.data and k != "owner_email"}
        return _provision(request, data, external_id)


class InternalTenantApiKeyApi(InternalApi):
    @extend_schema(
        operation_id="internal_tenant_apikey",
        summary="The tenant's partner API key (metadata only; the secret cannot be read again)",
        responses={200: InternalApiKeyOutput},
        tags=["internal"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        key = partner_api_key(tenant=tenant_for(caller_of(request), external_id))
        if key is None:
            raise NotFound("This tenant has no active partner API key; rotate to make one.")
        return Response(success(InternalApiKeyOutput(key).data))


class InternalApiKeyRotatedOutput(InternalApiKeyOutput):
    api_key = serializers.CharField(read_only=True)

    class Meta(InternalApiKeyOutput.Meta):
        fields = [*InternalApiKeyOutput.Meta.fields, "api_key"]


class InternalTenantApiKeyRotateApi(InternalApi):
    @extend_schema(
        operation_id="internal_tenant_apikey_rotate",
        request=None,
        responses={201: InternalApiKeyRotatedOutput},
        tags=["internal"],
    )
    def post(self, request: Request, external_id: str) -> Response:
        key, raw = partner_api_key_rotate(tenant=tenant_for(caller_of(request), external_id))
        return Response(
            success(
                {**InternalApiKeyOutput(key).data, "api_key": raw},
                "API key rotated; the old one no longer works.",
            ),
            status=status.HTTP_201_CREATED,
        )
