"""The OpenAPI schema at /api/schema/ describes the bodies Wavora really sends (SPEC §3): the success
envelope around each operation's data, `meta.pagination` on lists, the 202 of an async send, the
shared error envelope, and the special shapes left as they are (CSV). Real answers are validated
against it, and a view nobody declared an envelope for gets one (the AutoSchema is generic)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from django.test import Client
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from rest_framework import response as drf
from rest_framework import serializers
from rest_framework.request import Request
from schemathesis.core.transport import Response

from tests.conftest import Actor
from wavora.api.envelope import success
from wavora.api.views import ApiView, GenericApiView

REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    loaded: dict[str, Any] = json.loads(response.content)
    return loaded


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = doc["components"][kind][name]
    return node


def _body(doc: dict[str, Any], path_: str, method: str, code: str, media: str = "application/json") -> Any:
    response = _resolve(doc, doc["paths"][path_][method]["responses"][code])
    return _resolve(doc, response["content"][media]["schema"])


def test_the_device_list_is_documented_as_an_envelope_with_an_array_of_devices_and_pagination(
    doc: dict[str, Any],
) -> None:
    body = _body(doc, "/api/v1/devices", "get", "200")

    assert set(body["required"]) >= {"success", "data", "message", "meta"}
    assert body["properties"]["success"]["type"] == "boolean"
    assert body["properties"]["data"] == {"type": "array", "items": {"$ref": f"{REF}DeviceOutput"}}
    meta = _resolve(doc, body["properties"]["meta"])
    assert set(meta["required"]) == {"timestamp", "request_id", "pagination"}
    pagination = meta["properties"]["pagination"]
    assert set(pagination["required"]) == {"page", "page_size", "total"}
    assert pagination["properties"]["page_size"]["maximum"] == 100


def test_one_device_is_documented_as_an_envelope_around_the_device(doc: dict[str, Any]) -> None:
    body = _body(doc, "/api/v1/devices/{device_id}", "get", "200")

    assert body["properties"]["data"] == {"$ref": f"{REF}DeviceDetailOutput"}
    meta = _resolve(doc, body["properties"]["meta"])
    assert set(meta["required"]) == {"timestamp", "request_id"}
    assert "pagination" not in meta["properties"]


def test_an_async_send_documents_its_202_body_with_job_and_message_ids_at_the_top(
    doc: dict[str, Any],
) -> None:
    body = _body(doc, "/api/v1/messages/text", "post", "202")

    assert set(body["required"]) >= {"success", "job_id", "message_id", "status", "message", "data", "meta"}
    assert body["properties"]["data"] == {"$ref": f"{REF}MessageOutput"}
    assert _resolve(doc, body["properties"]["meta"])["properties"]["request_id"] == {
        "type": "string",
        "description": "The request's X-Request-ID (echoed or generated)",
    }
    sync = _body(doc, "/api/v1/messages/text", "post", "200")  # X-Send-Mode: sync has no job
    assert "job_id" not in sync["properties"]
    assert {"message_id", "id", "sent_at", "data", "meta"} <= set(sync["required"])


def test_every_api_operation_documents_the_error_envelope_for_auth_forbidden_and_rate_limit(
    doc: dict[str, Any],
) -> None:
    operations = [
        (p, m, op) for p, item in doc["paths"].items() if p.startswith("/api/v1/") for m, op in item.items()
    ]
    assert len(operations) >= 50
    for path_, method, op in operations:
        for code in ("401", "403", "429", "500"):
            assert op["responses"][code] == {"$ref": _response_ref(code)}, (method, path_, code)
    error = _resolve(doc, {"$ref": f"{REF}ErrorEnvelope"})
    assert set(error["required"]) == {"success", "error", "meta"}
    assert set(_resolve(doc, error["properties"]["error"])["required"]) == {"code", "message", "details"}
    assert _resolve(doc, doc["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"])[
        "required"
    ]


def _response_ref(code: str) -> str:
    names = {"401": "Unauthorized", "403": "Forbidden", "429": "TooManyRequests", "500": "InternalError"}
    return f"#/components/responses/{names[code]}"


def test_400_404_413_and_415_are_documented_only_where_the_operation_can_return_them(
    doc: dict[str, Any],
) -> None:
    def codes(path_: str, method: str) -> set[str]:
        return set(doc["paths"][path_][method]["responses"])

    assert {"400", "404"}.isdisjoint(codes("/api/v1/phone/cache", "delete"))  # no input, no object
    assert "400" not in codes("/api/v1/devices/{device_id}", "get")
    assert "404" in codes("/api/v1/devices/{device_id}", "get")
    assert "404" in codes("/api/v1/phone/validate", "post")  # its body names a device_id
    assert "404" in codes("/api/v1/devices", "get")  # a page past the end
    assert {"413", "415"} <= codes("/api/v1/media", "post")  # multipart upload
    assert "415" in codes("/api/v1/devices", "post") and "413" not in codes("/api/v1/devices", "post")
    assert {"409", "502"} <= codes("/api/v1/devices/{device_id}/login-qr", "post")  # declared by the view


def test_the_contacts_csv_download_is_left_as_csv_beside_the_json_envelope(doc: dict[str, Any]) -> None:
    csv = _body(doc, "/api/v1/devices/{device_id}/contacts", "get", "200", "text/csv")
    listed = _body(doc, "/api/v1/devices/{device_id}/contacts", "get", "200")

    assert csv == {"type": "string"}
    assert listed["properties"]["data"]["items"] == {"$ref": f"{REF}ContactOutput"}


# --- real answers against the live schema --------------------------------------------------------


@pytest.fixture
def live() -> Any:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return schemathesis.openapi.from_dict(json.loads(response.content))


def _conforms(live: Any, path_: str, method: str, response: Any) -> None:
    """Raises (with schemathesis' explanation) unless the Django test response matches the schema."""
    operation = live[path_][method]
    assert str(response.status_code) in operation.definition.raw["responses"], "undocumented status"
    wire = Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method, f"http://testserver{path_}").prepare(),
        elapsed=0.0,
        verify=True,
    )
    operation.validate_response(wire)


def test_real_answers_of_alice_conform_to_the_schema(alice: Actor, make_device: Any, live: Any) -> None:
    device = make_device(alice, connected=True)

    listed = alice.api.get("/api/v1/devices")
    sent = alice.api.post(
        "/api/v1/messages/text",
        {"device_id": str(device.pk), "to": "081234567890", "text": "Halo"},
        format="json",
    )
    invalid = alice.api.post("/api/v1/messages/text", {"device_id": str(device.pk), "to": "1"}, format="json")

    assert listed.status_code == 200 and listed.json()["meta"]["pagination"]["total"] == 1
    _conforms(live, "/api/v1/devices", "GET", listed)
    assert sent.status_code == 202
    _conforms(live, "/api/v1/messages/text", "POST", sent)
    assert invalid.status_code == 400
    _conforms(live, "/api/v1/messages/text", "POST", invalid)


def test_another_tenants_device_is_a_documented_404_error_envelope(
    alice: Actor, charlie: Actor, make_device: Any, live: Any
) -> None:
    device = make_device(alice)

    response = charlie.api.get(f"/api/v1/devices/{device.pk}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("NOT_FOUND", "DEVICE_NOT_FOUND")
    _conforms(live, "/api/v1/devices/{device_id}", "GET", response)


def test_a_body_off_the_schema_is_caught(alice: Actor, make_device: Any, live: Any) -> None:
    # The check above can fail: a bare device (no envelope) does not match the documented 200.
    device = make_device(alice)
    response = alice.api.get(f"/api/v1/devices/{device.pk}")
    response.content = json.dumps(response.json()["data"]).encode()

    with pytest.raises(AssertionError, match="success"):
        _conforms(live, "/api/v1/devices/{device_id}", "GET", response)


# --- any new view gets the envelope, with nothing declared but its data --------------------------


class _WidgetOutput(serializers.Serializer):
    name = serializers.CharField()


class _WidgetListApi(GenericApiView):
    @extend_schema(operation_id="widgets_list", responses={200: _WidgetOutput(many=True)})
    def get(self, request: Request) -> drf.Response:
        return self.get_paginated_response([])


class _WidgetApi(ApiView):
    @extend_schema(operation_id="widgets_retrieve", responses={200: _WidgetOutput})
    def get(self, request: Request, widget_id: str) -> drf.Response:
        return drf.Response(success({"name": widget_id}))

    @extend_schema(operation_id="widgets_destroy", responses={204: None})
    def delete(self, request: Request, widget_id: str) -> drf.Response:
        return drf.Response(status=204)


def _generated() -> dict[str, Any]:
    patterns = [
        path("admin/widgets", _WidgetListApi.as_view()),
        path("admin/widgets/<str:widget_id>", _WidgetApi.as_view()),
    ]
    generated: dict[str, Any] = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    return generated


def test_a_new_view_is_documented_with_the_envelope_without_declaring_it() -> None:
    generated = _generated()

    one = _body(generated, "/admin/widgets/{widget_id}", "get", "200")
    many = _body(generated, "/admin/widgets", "get", "200")
    deleted = generated["paths"]["/admin/widgets/{widget_id}"]["delete"]["responses"]

    assert one["properties"]["data"] == {"$ref": f"{REF}_WidgetOutput"}
    assert "pagination" in _resolve(generated, many["properties"]["meta"])["properties"]
    assert "content" not in deleted["204"]  # a 204 stays empty
    assert {"401", "403", "404", "429", "500"} <= set(deleted)


def test_any_one_of_the_key_schemes_authenticates_an_operation(doc: dict[str, Any]) -> None:
    security = doc["paths"]["/api/v1/devices"]["get"]["security"]
    assert {"bearerAuth": []} in security
    assert {"apiKeyHeader": []} in security
    assert {"apiKeyQuery": []} in security
    assert all(len(requirement) <= 1 for requirement in security)  # alternatives, not all at once
