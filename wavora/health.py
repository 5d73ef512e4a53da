"""``/health`` (public liveness) and ``/health/detailed`` (platform admins)."""

from __future__ import annotations

import resource
import time
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from devices.gowa import GowaClient
from devices.models import GowaNode
from devices.selectors import device_counts_by_status
from tenants.permissions import IsPlatformAdmin
from wavora.api.envelope import error, meta, success
from wavora.api.views import ApiView
from wavora.celery import QUEUES
from wavora.celery import app as celery_app
from wavora.redis import client as redis_client

STARTED_AT = time.time()


@csrf_exempt
def health(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(
            error("METHOD_NOT_ALLOWED", f"Method {request.method} not allowed."), status=405
        )
        response["Allow"] = "GET, HEAD"
        return response
    return JsonResponse({"success": True, "data": {"status": "ok"}, "message": "ok", "meta": meta()})


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:
        detail, ok = str(exc), False
    return {"ok": ok, "latency_ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _redis() -> dict[str, int]:
    redis = redis_client()
    redis.ping()
    return {queue: int(redis.llen(queue)) for queue in QUEUES}


def _workers() -> list[str]:
    replies = celery_app.control.ping(timeout=1.0) or []
    return sorted(name for reply in replies for name in reply)


class _CheckOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField()
    detail = serializers.JSONField(help_text="Vendor, queue depths or the error")


class _NodeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    active = serializers.BooleanField()
    capacity = serializers.IntegerField()
    devices = serializers.IntegerField()
    reachable = serializers.BooleanField()


HealthDetailedOutput = inline_serializer(
    name="HealthDetailedOutput",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "degraded"]),
        "uptime_seconds": serializers.IntegerField(),
        "database": _CheckOutput(),
        "redis": inline_serializer(
            name="HealthRedisOutput",
            fields={
                "ok": serializers.BooleanField(),
                "latency_ms": serializers.FloatField(),
                "queue_depths": serializers.DictField(child=serializers.IntegerField(), allow_null=True),
            },
        ),
        "celery": inline_serializer(
            name="HealthCeleryOutput",
            fields={
                "ok": serializers.BooleanField(),
                "workers": serializers.ListField(child=serializers.CharField()),
            },
        ),
        "gowa_nodes": _NodeOutput(many=True),
        "devices_by_status": serializers.DictField(child=serializers.IntegerField()),
        "memory": inline_serializer(
            name="HealthMemoryOutput", fields={"max_rss_kb": serializers.IntegerField()}
        ),
    },
)


class HealthDetailedApi(ApiView):
    permission_classes = [IsPlatformAdmin]

    @extend_schema(responses={200: HealthDetailedOutput}, description="Platform admins only.")
    def get(self, request: Request) -> Response:
        database = _timed(_database)
        redis = _timed(_redis)
        workers = _timed(_workers)
        nodes = [
            {
                "id": node.pk,
                "name": node.name,
                "active": node.is_active,
                "capacity": node.capacity,
                "devices": node.devices.filter(deleted_at__isnull=True).count(),
                "reachable": GowaClient(node).health(),
            }
            for node in GowaNode.objects.all()
        ]
        healthy = database["ok"] and redis["ok"] and bool(workers["detail"]) and workers["ok"]
        return Response(
            success(
                {
                    "status": "ok" if healthy else "degraded",
                    "uptime_seconds": int(time.time() - STARTED_AT),
                    "database": database,
                    "redis": {**redis, "queue_depths": redis["detail"] if redis["ok"] else None},
                    "celery": {"ok": workers["ok"] and bool(workers["detail"]), "workers": workers["detail"]},
                    "gowa_nodes": nodes,
                    "devices_by_status": device_counts_by_status(),
                    "memory": {"max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss},
                },
                "ok" if healthy else "degraded",
            )
        )
