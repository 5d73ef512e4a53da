"""SPEC §3 plumbing shared by every endpoint: envelope, request id, DRF's own errors, pagination, rate
limit, health, OpenAPI and Swagger UI."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from tenants.services import api_key_create
from tests.conftest import keyed_client

from .helpers import assert_error, assert_ok

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/api-keys"
DEVICES = "/api/v1/devices"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


# --- envelope and request id ----------------------------------------------------------------------
def test_success_envelope_has_success_data_message_and_meta(alice: Any) -> None:
    response = alice.api.post(KEYS, {"name": "envelope"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"success", "data", "message", "meta"}
    assert body["success"] is True
    assert body["data"]["name"] == "envelope"
    assert isinstance(body["message"], str) and body["message"]
    assert ISO_UTC.match(body["meta"]["timestamp"]), body["meta"]
    assert body["meta"]["request_id"] == response["X-Request-ID"]
    assert response["Content-Type"].startswith("application/json")


def test_api_times_are_iso8601_utc(alice: Any) -> None:
    data = assert_ok(
        alice.api.post(KEYS, {"name": "times", "expires_at": "2030-01-01T07:00:00+07:00"}, format="json"), 201
    )
    assert ISO_UTC.match(data["created_at"]), data["created_at"]
    assert data["expires_at"] in ("2030-01-01T00:00:00Z", "2030-01-01T00:00:00+00:00")


def test_request_id_is_echoed_when_the_client_sends_one(alice: Any) -> None:
    response = alice.api.get(KEYS, HTTP_X_REQUEST_ID="client-req.42:abc")
    assert response["X-Request-ID"] == "client-req.42:abc"
    assert response.json()["meta"]["request_id"] == "client-req.42:abc"
    error = APIClient().get(KEYS, HTTP_X_REQUEST_ID="client-req-err")
    assert error["X-Request-ID"] == "client-req-err"
    assert error.json()["meta"]["request_id"] == "client-req-err"


def test_request_id_is_generated_when_absent_or_unusable(alice: Any) -> None:
    first = alice.api.get(KEYS)
    second = alice.api.get(KEYS)
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert first.json()["meta"]["request_id"] == first["X-Request-ID"]
    hostile = alice.api.get(KEYS, HTTP_X_REQUEST_ID="x" * 200 + " <script>")
    assert re.fullmatch(r"[0-9a-f]{32}", hostile["X-Request-ID"])


# --- DRF's own errors in the envelope -------------------------------------------------------------
def test_unknown_route_under_api_v1_is_a_json_not_found_envelope(alice: Any) -> None:
    assert_error(alice.api.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")
    assert_error(APIClient().post("/api/v1/messages/text/extra", {}, format="json"), 404, "NOT_FOUND")


def test_unknown_object_through_drf_is_not_found_envelope(alice: Any) -> None:
    assert_error(alice.api.delete(f"{KEYS}/00000000-0000-0000-0000-000000000000"), 404, "NOT_FOUND")


def test_wrong_method_is_405_method_not_allowed(alice: Any) -> None:
    response = alice.api.put(DEVICES, {"name": "x"}, format="json")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response["Allow"]
    assert_error(alice.api.delete(KEYS), 405, "METHOD_NOT_ALLOWED")
    assert_error(alice.api.get("/api/v1/messages/text"), 405, "METHOD_NOT_ALLOWED")


def test_unsupported_content_type_is_415(alice: Any) -> None:
    response = alice.api.post(KEYS, data="name=x", content_type="text/plain")
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    response = alice.api.post(DEVICES, data="<device/>", content_type="application/xml")
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_malformed_json_body_is_400_validation_error(alice: Any) -> None:
    response = alice.api.post(KEYS, data='{"name": "x",', content_type="application/json")
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "body" in error["details"]
    response = alice.api.post(
        "/api/v1/messages/text", data=b"\xff\xfe not json", content_type="application/json"
    )
    assert_error(response, 400, "VALIDATION_ERROR")


def test_json_of_the_wrong_shape_is_400_validation_error(alice: Any) -> None:
    assert_error(alice.api.post(KEYS, [1, 2], format="json"), 400, "VALIDATION_ERROR")
    assert_error(alice.api.post(KEYS, "just a string", format="json"), 400, "VALIDATION_ERROR")


def test_unhandled_error_is_a_500_internal_error_envelope_without_internals(alice: Any) -> None:
    with mock.patch("tenants.apis.api_keys_of_tenant", side_effect=RuntimeError("secret internals")):
        response = alice.api.get(KEYS)
    assert_error(response, 500, "INTERNAL_ERROR")
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content


# --- pagination -----------------------------------------------------------------------------------
def test_lists_are_paginated_with_page_page_size_and_total(alice: Any) -> None:
    for n in range(24):
        api_key_create(tenant=alice.tenant, name=f"key {n}")  # 25 with alice's own key
    response = alice.api.get(KEYS)
    body = response.json()
    assert len(body["data"]) == 20
    assert body["meta"]["pagination"] == {"page": 1, "page_size": 20, "total": 25}
    assert body["meta"]["request_id"] == response["X-Request-ID"]

    body = alice.api.get(f"{KEYS}?page=3&page_size=10").json()
    assert len(body["data"]) == 5
    assert body["meta"]["pagination"] == {"page": 3, "page_size": 10, "total": 25}

    first = {k["id"] for k in alice.api.get(f"{KEYS}?page=1&page_size=10").json()["data"]}
    second = {k["id"] for k in alice.api.get(f"{KEYS}?page=2&page_size=10").json()["data"]}
    assert len(first) == len(second) == 10 and not first & second


def test_page_size_is_capped_at_100(alice: Any) -> None:
    for n in range(104):
        api_key_create(tenant=alice.tenant, name=f"key {n}")
    body = alice.api.get(f"{KEYS}?page_size=500").json()
    assert body["meta"]["pagination"] == {"page": 1, "page_size": 100, "total": 105}
    assert len(body["data"]) == 100


def test_page_past_the_end_is_not_found(alice: Any) -> None:
    assert_error(alice.api.get(f"{KEYS}?page=99"), 404, "NOT_FOUND")


# --- rate limit -----------------------------------------------------------------------------------
def _wait_for_a_fresh_window_if_close_to_its_end() -> None:
    """The limit counts per fixed minute; three requests must not straddle two windows."""
    remaining = 60 - time.time() % 60
    if remaining < 2:
        time.sleep(remaining + 0.05)


def test_rate_limit_headers_are_on_api_responses(alice: Any, settings: Any) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 50
    _wait_for_a_fresh_window_if_close_to_its_end()
    first = alice.api.get(KEYS)
    second = alice.api.get(KEYS)
    assert first["X-RateLimit-Limit"] == "50"
    assert first["X-RateLimit-Remaining"] == "49"
    assert second["X-RateLimit-Remaining"] == "48"
    reset = int(first["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61


def test_key_over_its_rate_limit_gets_429_with_retry_after(alice: Any) -> None:
    _, raw = api_key_create(tenant=alice.tenant, name="slow", rate_limit_per_minute=2)
    client = keyed_client(raw)
    _wait_for_a_fresh_window_if_close_to_its_end()
    assert client.get(DEVICES)["X-RateLimit-Remaining"] == "1"
    assert client.get(DEVICES)["X-RateLimit-Remaining"] == "0"
    third = client.get(DEVICES)
    assert_error(third, 429, "RATE_LIMITED")
    assert 1 <= int(third["Retry-After"]) <= 60
    assert third["X-RateLimit-Limit"] == "2" and third["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in third
    # The limit is per key: the tenant's other key is unaffected.
    assert_ok(alice.api.get(DEVICES))


# --- health, schema, docs -------------------------------------------------------------------------
def test_health_answers_get_and_head_without_auth(db: None) -> None:
    client = APIClient()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["data"]["status"] == "ok"
    assert body["meta"]["request_id"] == response["X-Request-ID"]
    assert client.head("/health").status_code == 200


def test_openapi_schema_describes_the_api(db: None) -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/api-keys",
        "/api/v1/api-keys/{key_id}/rotate",
        "/api/v1/devices",
        "/api/v1/devices/{device_id}",
        "/api/v1/devices/{device_id}/login-qr",
        "/api/v1/messages/text",
        "/api/v1/messages/{message_id}",
        "/api/v1/messages/jobs/{job_id}",
    ):
        assert path in paths, path
    assert "bearerAuth" in schema["components"]["securitySchemes"]
    yaml_response = APIClient().get("/api/schema/")
    assert yaml_response.status_code == 200 and b"openapi:" in yaml_response.content


def _request_schema(schema: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_openapi_request_bodies_are_the_endpoints_own(db: None) -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    keys = _request_schema(schema, "/api/v1/api-keys")
    assert "name" in keys["properties"] and "scopes" in keys["properties"]
    login_code = _request_schema(schema, "/api/v1/devices/{device_id}/login-code")
    assert set(login_code["properties"]) == {"phone"}
    send = _request_schema(schema, "/api/v1/messages/text")
    assert {"device_id", "to", "text"} <= set(send["properties"])


def test_openapi_descriptions_are_not_internal_docstrings(db: None) -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "Redis" not in operation.get("description", ""), (path, method, operation["description"])


def test_swagger_ui_is_served_with_local_static_assets(db: None) -> None:
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    scripts = [a for a in assets if a.endswith(".js")]
    styles = [a for a in assets if a.endswith(".css")]
    assert scripts and styles, assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset[len("/static/") :]) is not None, f"{asset} is not a local static file"
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert "/api/schema/" in html


def test_meta_timestamp_is_parseable_utc(alice: Any) -> None:
    stamp = alice.api.get(KEYS).json()["meta"]["timestamp"]
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0)


def test_the_openapi_schema_generates_without_warnings_and_validates(tmp_path: Any) -> None:
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert "/api/v1/messages/text" in target.read_text()


def test_every_model_change_has_its_migration_committed(db: None) -> None:
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
