"""SPEC §7: bad input gets a clear 4xx, never a 500. Every operation of the live OpenAPI schema is
fuzzed in-process (schemathesis over WSGI, no server) with Alice's all-scope key, against real
objects of hers — a connected simulator device, a message, a webhook endpoint with a delivery,
an auto-reply rule, an uploaded media file — so requests get past the 404 at the door. Every answer
must also conform to the schema: a documented status code, content type, headers and body."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenants.services import api_key_create
from tests.conftest import Actor
from webhooks.events import event_emit
from webhooks.services import endpoint_create, event_fan_out

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

VALID_PHONE = "081234567890"
# Every other fuzzed send gets a phone that parses, so the rest of its body is what is judged.
_turn = itertools.count()


@pytest.fixture
def objects(alice: Actor, make_device: Any, settings: Any) -> Iterator[dict[str, str]]:
    """Alice's objects whose ids replace the fuzzer's path parameters of the same name."""
    device = make_device(alice, connected=True)
    alice.key.rate_limit_per_minute = 1_000_000
    alice.key.save(update_fields=["rate_limit_per_minute"])
    sent = alice.api.post(
        "/api/v1/messages/text",
        {"device_id": str(device.pk), "to": VALID_PHONE, "text": "Halo"},
        format="json",
    ).json()
    rule = alice.api.post(
        "/api/v1/auto-replies",
        {"keyword": "harga", "reply": {"type": "text", "text": "Rp 10.000"}},
        format="json",
    ).json()["data"]
    media = alice.api.post("/api/v1/media", {"file": _png(), "kind": "image"}, format="multipart").json()[
        "data"
    ]
    spare_key, _ = api_key_create(tenant=alice.tenant, name="spare key")  # fuzzed revoke/rotate: not ours
    settings.ALLOW_PRIVATE_URLS = True  # only to save this endpoint (a closed local port) …
    endpoint = endpoint_create(tenant=alice.tenant, url="http://127.0.0.1:9/hook")
    settings.ALLOW_PRIVATE_URLS = False  # … the fuzzed requests meet the SSRF guard as in production
    event = event_emit(tenant_id=alice.tenant.pk, type="device.connected", data={}, device_id=device.pk)
    (delivery_id,) = event_fan_out(event_id=event.pk)
    # The WSGI handler closes the database connection around each request, which would end the
    # test's transaction; like Django's own test client, the fuzzed requests keep it open. (Set
    # after the requests above: Django's client reconnects the handler when it is done.)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {
        "device_id": str(device.pk),
        "message_id": sent["message_id"],
        "job_id": sent["job_id"],
        "rule_id": rule["id"],
        "media_id": media["media_id"],
        "webhook_id": str(endpoint.pk),
        "delivery_id": str(delivery_id),
        "key_id": str(spare_key.pk),
        "authorization": f"Bearer {alice.raw_key}",
    }
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _png() -> Any:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    buffer.name = "red.png"
    buffer.seek(0)
    return buffer


@schema.parametrize()
@hypothesis.settings(
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_operation_answers_with_a_server_error_or_off_its_schema(
    case: Any, objects: dict[str, str]
) -> None:
    for name in case.path_parameters or {}:
        if name in objects:
            case.path_parameters[name] = objects[name]
    if isinstance(case.body, dict):
        if "device_id" in case.body:
            case.body["device_id"] = objects["device_id"]
        if "to" in case.body and next(_turn) % 2 == 0:
            case.body["to"] = VALID_PHONE
    response = case.call(headers={"Authorization": objects["authorization"]})
    # No 5xx, and the answer is what the schema documents: its status code, content type, headers
    # and body (the envelope, wavora/api/schema.py).
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            response_headers_conformance,
        ],
    )


def test_the_fuzzer_runs_against_the_live_schema_and_gets_past_authentication(
    objects: dict[str, str],
) -> None:
    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}  # type: ignore[union-attr]
    assert {("POST", "/api/v1/messages/text"), ("GET", "/api/v1/devices/{device_id}")} <= operations
    assert len(operations) >= 50

    case = schema["/api/v1/devices/{device_id}"]["GET"].Case(
        path_parameters={"device_id": objects["device_id"]}
    )
    response = case.call(headers={"Authorization": objects["authorization"]})
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "connected"
