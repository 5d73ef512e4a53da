"""The webhooks API (SPEC §4): CRUD with a secret shown once, rotation, the test send, deliveries
and redelivery — in the envelope, behind scopes, and another tenant's objects are 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor
from tests.factories import DeviceFactory
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint

from . import Receiver, closed_port
from .test_signature import seed_003_verify, verify_either

WEBHOOKS = "/api/v1/webhooks"


def create(actor: Actor, url: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = assert_ok(actor.api.post(WEBHOOKS, {"url": url, **fields}, format="json"), 201)
    return data


# --- CRUD ------------------------------------------------------------------------------------
def test_creating_an_endpoint_returns_its_secret_once(alice: Actor, receiver: Receiver) -> None:
    created = create(alice, receiver.url(), events=["message.in", "message.receipt"], description="CRM")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["url"] == receiver.url()
    assert created["events"] == ["message.in", "message.receipt"]
    assert created["device_ids"] == []
    assert created["is_active"] is True
    assert created["description"] == "CRM"
    assert created["secret_hint"] == "whsec_…" + created["secret"][-4:]

    shown = assert_ok(alice.api.get(f"{WEBHOOKS}/{created['id']}"))
    listed = assert_ok(alice.api.get(WEBHOOKS))
    assert "secret" not in shown and all("secret" not in item for item in listed)
    assert created["secret"] not in str(shown) + str(listed)
    assert [item["id"] for item in listed] == [created["id"]]


def test_the_list_is_paginated_newest_first(alice: Actor, receiver: Receiver) -> None:
    ids = [create(alice, receiver.url(f"/{n}"))["id"] for n in range(3)]
    response = alice.api.get(WEBHOOKS, {"page_size": 2})
    assert [item["id"] for item in assert_ok(response)] == ids[::-1][:2]
    assert response.json()["meta"]["pagination"] == {"page": 1, "page_size": 2, "total": 3}


def test_updating_and_deleting_an_endpoint(alice: Actor, receiver: Receiver) -> None:
    device = DeviceFactory.create(tenant=alice.tenant)
    endpoint_id = create(alice, receiver.url())["id"]

    updated = assert_ok(
        alice.api.patch(
            f"{WEBHOOKS}/{endpoint_id}",
            {"url": receiver.url("/v2"), "events": ["device.connected"], "device_ids": [str(device.pk)]},
            format="json",
        )
    )
    assert (updated["url"], updated["events"], updated["device_ids"]) == (
        receiver.url("/v2"),
        ["device.connected"],
        [str(device.pk)],
    )
    assert assert_ok(alice.api.patch(f"{WEBHOOKS}/{endpoint_id}", {"is_active": False}))["is_active"] is False

    assert assert_ok(alice.api.delete(f"{WEBHOOKS}/{endpoint_id}")) == {"id": endpoint_id}
    assert not WebhookEndpoint.objects.filter(pk=endpoint_id).exists()
    assert_error(alice.api.get(f"{WEBHOOKS}/{endpoint_id}"), 404, "NOT_FOUND")


# --- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
    ],
)
def test_a_url_the_ssrf_guard_refuses_is_a_400_naming_url(alice: Actor, settings: Any, url: str) -> None:
    settings.ALLOW_PRIVATE_URLS = False
    error = assert_error(alice.api.post(WEBHOOKS, {"url": url}, format="json"), 400, "VALIDATION_ERROR")
    assert list(error["details"]) == ["url"]
    assert not WebhookEndpoint.objects.exists()


def test_changing_the_url_to_a_refused_one_is_a_400_too(
    alice: Actor, receiver: Receiver, settings: Any
) -> None:
    endpoint_id = create(alice, receiver.url())["id"]
    settings.ALLOW_PRIVATE_URLS = False
    response = alice.api.patch(f"{WEBHOOKS}/{endpoint_id}", {"url": "http://192.168.1.1/"}, format="json")
    assert "url" in assert_error(response, 400, "VALIDATION_ERROR")["details"]
    assert WebhookEndpoint.objects.get(pk=endpoint_id).url == receiver.url()


def test_unknown_event_types_are_a_400_naming_events(alice: Actor, receiver: Receiver) -> None:
    response = alice.api.post(
        WEBHOOKS, {"url": receiver.url(), "events": ["message.in", "mesage.out"]}, format="json"
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"] == {"events": ["Unknown event type: mesage.out."]}


def test_device_ids_must_be_the_tenants_own(alice: Actor, charlie: Actor, receiver: Receiver) -> None:
    charlies_device = DeviceFactory.create(tenant=charlie.tenant)
    for device_ids in ([str(charlies_device.pk)], [str(uuid.uuid4())], ["not-a-uuid"]):
        response = alice.api.post(WEBHOOKS, {"url": receiver.url(), "device_ids": device_ids}, format="json")
        assert "device_ids" in str(assert_error(response, 400, "VALIDATION_ERROR")["details"])
    assert not WebhookEndpoint.objects.exists()


def test_a_key_restricted_to_a_device_can_only_subscribe_to_that_device(
    alice: Actor, receiver: Receiver
) -> None:
    mine, other = DeviceFactory.create_batch(2, tenant=alice.tenant)
    restricted = alice.client_with(device_ids=[mine.pk])
    for device_ids in ([], [str(other.pk)]):
        response = restricted.post(WEBHOOKS, {"url": receiver.url(), "device_ids": device_ids}, format="json")
        assert_error(response, 403, "FORBIDDEN")
    response = restricted.post(WEBHOOKS, {"url": receiver.url(), "device_ids": [str(mine.pk)]}, format="json")
    assert_ok(response, 201)


def test_scopes_read_and_write(alice: Actor, receiver: Receiver) -> None:
    endpoint_id = create(alice, receiver.url())["id"]
    reader = alice.client_with(scopes=["webhooks:read"])
    assert_ok(reader.get(WEBHOOKS))
    assert_ok(reader.get(f"{WEBHOOKS}/{endpoint_id}/deliveries"))
    assert_error(reader.post(WEBHOOKS, {"url": receiver.url()}, format="json"), 403, "FORBIDDEN")
    assert_error(reader.delete(f"{WEBHOOKS}/{endpoint_id}"), 403, "FORBIDDEN")
    assert_error(
        reader.post(f"{WEBHOOKS}/test", {"webhook_id": endpoint_id}, format="json"), 403, "FORBIDDEN"
    )
    outsider = alice.client_with(scopes=["messages:send"])
    assert_error(outsider.get(WEBHOOKS), 403, "FORBIDDEN")


# --- rotation --------------------------------------------------------------------------------
def test_rotating_the_secret_returns_the_new_one_once_and_both_sign_during_the_grace(
    alice: Actor, receiver: Receiver
) -> None:
    created = create(alice, receiver.url())
    rotated = assert_ok(alice.api.post(f"{WEBHOOKS}/{created['id']}/rotate-secret"))
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    assert rotated["previous_secret_expires_at"] is not None
    assert "secret" not in assert_ok(alice.api.get(f"{WEBHOOKS}/{created['id']}"))

    result = assert_ok(alice.api.post(f"{WEBHOOKS}/test", {"webhook_id": created["id"]}, format="json"))
    assert result["success"] is True
    [request] = receiver.received
    seed_003_verify(rotated["secret"], request)
    assert verify_either(created["secret"], request)


def test_rotating_with_no_grace_period_retires_the_old_secret_now(alice: Actor, receiver: Receiver) -> None:
    created = create(alice, receiver.url())
    url = f"{WEBHOOKS}/{created['id']}/rotate-secret"
    rotated = assert_ok(alice.api.post(url, {"grace_period_hours": 0}, format="json"))
    assert rotated["previous_secret_expires_at"] is None
    assert_ok(alice.api.post(f"{WEBHOOKS}/test", {"webhook_id": created["id"]}, format="json"))
    assert not verify_either(created["secret"], receiver.received[0])
    response = alice.api.post(url, {"grace_period_hours": 1000}, format="json")
    assert "grace_period_hours" in assert_error(response, 400, "VALIDATION_ERROR")["details"]


# --- test send -------------------------------------------------------------------------------
def test_the_test_endpoint_delivers_now_and_returns_the_receivers_answer(
    alice: Actor, receiver: Receiver
) -> None:
    created = create(alice, receiver.url())
    result = assert_ok(alice.api.post(f"{WEBHOOKS}/test", {"webhook_id": created["id"]}, format="json"))

    assert result["success"] is True
    assert result["status_code"] == 200
    assert result["response_excerpt"] == '{"received": true}'
    assert result["error"] == ""
    assert isinstance(result["duration_ms"], int)
    [request] = receiver.received
    assert request.json["event"] == "webhook.test"
    assert request.json["data"]["webhook_id"] == created["id"]
    assert request.event_id == result["event_id"]
    seed_003_verify(created["secret"], request)
    delivery = WebhookDelivery.objects.get(pk=result["delivery_id"])
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.SUCCEEDED, 1)


def test_a_failing_test_send_reports_the_failure_and_is_not_retried(alice: Actor, receiver: Receiver) -> None:
    created = create(alice, receiver.url())
    receiver.answer(503)
    result = assert_ok(alice.api.post(f"{WEBHOOKS}/test", {"webhook_id": created["id"]}, format="json"))
    assert (result["success"], result["status_code"]) == (False, 503)
    assert result["error"] == "HTTP 503; a 2xx answer is needed."
    delivery = WebhookDelivery.objects.get(pk=result["delivery_id"])
    assert (delivery.status, delivery.next_attempt_at) == (WebhookDelivery.Status.FAILED, None)

    down = create(alice, f"http://127.0.0.1:{closed_port()}/")
    result = assert_ok(alice.api.post(f"{WEBHOOKS}/test", {"webhook_id": down["id"]}, format="json"))
    assert (result["success"], result["status_code"]) == (False, None)
    assert "refused the connection" in result["error"]


def test_a_test_event_goes_only_to_the_endpoint_under_test(alice: Actor, receiver: Receiver) -> None:
    tested = create(alice, receiver.url("/tested"))
    create(alice, receiver.url("/other"))  # subscribed to every event
    result = assert_ok(alice.api.post(f"{WEBHOOKS}/test", {"webhook_id": tested["id"]}, format="json"))
    from webhooks.services import event_fan_out

    event_fan_out(event_id=result["event_id"])  # what the after-commit fan-out does
    assert [r.path for r in receiver.received] == ["/tested"]
    assert WebhookDelivery.objects.filter(event_id=result["event_id"]).count() == 1


# --- deliveries ------------------------------------------------------------------------------
def test_deliveries_are_listed_newest_first_and_filtered_by_status_and_event(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    endpoint_id = create(alice, receiver.url())["id"]
    receiver.answer(500)
    failed_one = emit(alice.tenant.pk, "message.in")
    ok_one = emit(alice.tenant.pk, "message.receipt")
    url = f"{WEBHOOKS}/{endpoint_id}/deliveries"

    listed = assert_ok(alice.api.get(url))
    assert [d["event_id"] for d in listed] == [ok_one.pk, failed_one.pk]
    assert listed[0]["status"] == "succeeded" and listed[0]["attempt_count"] == 1
    assert listed[1]["status"] == "pending" and listed[1]["last_status_code"] == 500
    assert listed[1]["next_attempt_at"] is not None
    assert listed[1]["event_type"] == "message.in" and listed[1]["webhook_id"] == endpoint_id

    assert [d["event_id"] for d in assert_ok(alice.api.get(url, {"status": "pending"}))] == [failed_one.pk]
    assert [d["event_id"] for d in assert_ok(alice.api.get(url, {"event": "message.receipt"}))] == [ok_one.pk]
    assert assert_ok(alice.api.get(url, {"status": "succeeded", "event": "message.in"})) == []
    assert (
        "status" in assert_error(alice.api.get(url, {"status": "lost"}), 400, "VALIDATION_ERROR")["details"]
    )


def test_a_delivery_shows_its_payload_and_every_attempt(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    create(alice, receiver.url())
    receiver.answer(500)
    event = emit(alice.tenant.pk, "message.in", {"text": "halo"})
    delivery = WebhookDelivery.objects.get(event=event)

    shown = assert_ok(alice.api.get(f"{WEBHOOKS}/deliveries/{delivery.pk}"))
    assert shown["payload"] == Event.objects.get(pk=event.pk).envelope()
    [attempt] = shown["attempts"]
    assert attempt["number"] == 1 and attempt["status_code"] == 500 and attempt["success"] is False
    assert attempt["response_excerpt"] == '{"received": false}'
    assert attempt["error"] == "HTTP 500; a 2xx answer is needed."


def test_redeliver_queues_a_new_attempt_and_answers_202(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], committed: Callable[..., Any]
) -> None:
    create(alice, receiver.url())
    event = emit(alice.tenant.pk)
    delivery = WebhookDelivery.objects.get(event=event)

    response = committed(lambda: alice.api.post(f"{WEBHOOKS}/deliveries/{delivery.pk}/redeliver"))
    data = assert_ok(response, 202)
    assert data["id"] == str(delivery.pk)
    # The worker (inline here) made the new attempt after the request committed.
    assert receiver.accepted() == {event.pk: 2}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.SUCCEEDED, 2)


def test_redelivering_to_a_disabled_endpoint_is_refused(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    endpoint_id = create(alice, receiver.url())["id"]
    delivery = WebhookDelivery.objects.get(event=emit(alice.tenant.pk))
    assert_ok(alice.api.patch(f"{WEBHOOKS}/{endpoint_id}", {"is_active": False}, format="json"))
    response = alice.api.post(f"{WEBHOOKS}/deliveries/{delivery.pk}/redeliver")
    assert_error(response, 400, "VALIDATION_ERROR")


# --- isolation -------------------------------------------------------------------------------
def test_another_tenants_endpoints_and_deliveries_are_404(
    alice: Actor, charlie: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    endpoint_id = create(alice, receiver.url())["id"]
    delivery = WebhookDelivery.objects.get(event=emit(alice.tenant.pk))
    before = len(receiver.received)

    assert assert_ok(charlie.api.get(WEBHOOKS)) == []
    for method, path, body in [
        ("get", f"{WEBHOOKS}/{endpoint_id}", None),
        ("patch", f"{WEBHOOKS}/{endpoint_id}", {"is_active": False}),
        ("delete", f"{WEBHOOKS}/{endpoint_id}", None),
        ("post", f"{WEBHOOKS}/{endpoint_id}/rotate-secret", None),
        ("get", f"{WEBHOOKS}/{endpoint_id}/deliveries", None),
        ("post", f"{WEBHOOKS}/test", {"webhook_id": endpoint_id}),
        ("get", f"{WEBHOOKS}/deliveries/{delivery.pk}", None),
        ("post", f"{WEBHOOKS}/deliveries/{delivery.pk}/redeliver", None),
    ]:
        response = getattr(charlie.api, method)(path, body, format="json")
        assert_error(response, 404, "NOT_FOUND")

    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert endpoint.is_active and len(receiver.received) == before
    assert_error(alice.api.get(f"{WEBHOOKS}/{uuid.uuid4()}"), 404, "NOT_FOUND")
    assert_error(alice.api.get(f"{WEBHOOKS}/not-a-uuid"), 404, "NOT_FOUND")
