"""``POST /api/v1/messages/text``: accept (202), refuse with the right code, idempotency, sync mode, and the
worker path that hands the message to GOWA (the simulator) with retries."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from billing.models import Plan, Subscription
from devices.models import Device
from messaging.models import Message
from messaging.tasks import send_message

from .helpers import assert_error, assert_ok

SEND = "/api/v1/messages/text"
TO = "6281234567890"


@pytest.fixture
def device(alice: Any, make_device: Any) -> Device:
    """Alice's paired device; no pacing interval so the worker never defers in these tests."""
    return make_device(alice, connected=True, send_interval_ms=0)


@pytest.fixture
def footer(db: None) -> str:
    value = Plan.objects.get(code="free").branding_footer
    assert value.strip(), "the free plan must carry a branding footer"
    return value


def send(
    actor: Any, device: Any, text: str = "Hello", to: str = TO, client: Any = None, **headers: Any
) -> Any:
    client = client or actor.api
    return client.post(SEND, {"device_id": str(device.pk), "to": to, "text": text}, format="json", **headers)


def run_worker(message_id: str) -> Any:
    """The Celery task, in-process (eager): what a worker does with the enqueued id."""
    return send_message.apply(args=(message_id,))


# --- accepting ------------------------------------------------------------------------------------
def test_send_text_is_accepted_with_202_and_the_seed_000_body(
    alice: Any, device: Device, footer: str, sim: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = send(alice, device, "Hello")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["success"] is True
    assert body["status"] == "pending"
    assert body["message"] == "Message queued for delivery"
    uuid.UUID(body["job_id"])
    uuid.UUID(body["message_id"])
    assert body["data"]["id"] == body["message_id"] and body["data"]["job_id"] == body["job_id"]
    assert body["data"]["status"] == "pending" and body["data"]["to"] == TO
    assert body["meta"]["request_id"] == response["X-Request-ID"]

    message = Message.objects.get(pk=body["message_id"])
    assert message.status == Message.Status.PENDING
    assert message.tenant_id == alice.tenant.pk and message.device_id == device.pk
    assert message.original_payload_json == {"device_id": str(device.pk), "to": TO, "text": "Hello"}
    assert message.payload_json == {"phone": TO, "message": "Hello" + footer}
    assert sim.sent() == []  # nothing goes out inside the request

    # The send is enqueued only once the row is committed.
    with mock.patch.object(send_message, "apply_async") as enqueue:
        for callback in callbacks:
            callback()
    enqueue.assert_called_once()
    assert enqueue.call_args.args[0] == (body["message_id"],)


def test_missing_fields_are_400_validation_error_naming_each_field(alice: Any, device: Device) -> None:
    error = assert_error(alice.api.post(SEND, {}, format="json"), 400, "VALIDATION_ERROR")
    assert {"device_id", "to", "text"} <= set(error["details"])
    error = assert_error(
        alice.api.post(SEND, {"device_id": str(device.pk), "to": TO}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert set(error["details"]) == {"text"}
    assert not Message.objects.exists()


@pytest.mark.parametrize("to", ["12345", "not a phone", "62812345678901234", "abc@s.whatsapp.net"])
def test_invalid_phone_is_400_invalid_phone(alice: Any, device: Device, to: str) -> None:
    error = assert_error(send(alice, device, to=to), 400, "INVALID_PHONE")
    assert "to" in error["details"]
    assert not Message.objects.exists()


def test_local_number_with_leading_zero_is_normalised_to_62(alice: Any, device: Device) -> None:
    body = send(alice, device, to="0812-3456-7890").json()
    message = Message.objects.get(pk=body["message_id"])
    assert message.recipient == "6281234567890"
    assert message.payload_json["phone"] == "6281234567890"
    assert message.original_payload_json["to"] == "0812-3456-7890"


@pytest.mark.parametrize("device_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_device_is_404_device_not_found(alice: Any, device_id: str) -> None:
    response = alice.api.post(SEND, {"device_id": device_id, "to": TO, "text": "hi"}, format="json")
    assert_error(response, 404, "DEVICE_NOT_FOUND")


def test_sending_from_another_tenants_device_is_404(charlie: Any, device: Device, sim: Any) -> None:
    assert_error(send(charlie, device), 404, "DEVICE_NOT_FOUND")
    assert_error(
        send(charlie, device, client=charlie.client_with(allow_sync_send=True), HTTP_X_SEND_MODE="sync"),
        404,
        "DEVICE_NOT_FOUND",
    )
    assert not Message.objects.exists()
    assert sim.sent() == []


def test_an_async_send_to_an_unpaired_device_waits_and_fails_when_it_expires(
    alice: Any, make_device: Any, settings: Any
) -> None:
    unpaired = make_device(alice, name="Unpaired")
    response = send(alice, unpaired)
    assert response.status_code == 202
    message = Message.objects.get()
    assert message.status == "pending" and message.expires_at is not None

    with mock.patch.object(send_message, "retry", return_value=Retry()) as retry:
        send_message.apply(args=(str(message.pk),))
    assert retry.call_args.kwargs["countdown"] > 0
    assert Message.objects.get().status == "pending"

    Message.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    send_message.apply(args=(str(message.pk),))
    message.refresh_from_db()
    assert message.status == "failed" and message.error_code == "DEVICE_NOT_CONNECTED"


def test_a_sync_send_from_a_logged_out_device_is_409(alice: Any, device: Device) -> None:
    assert_ok(alice.api.post(f"/api/v1/devices/{device.pk}/logout"))
    client = alice.client_with(allow_sync_send=True)
    assert_error(send(alice, device, client=client, HTTP_X_SEND_MODE="sync"), 409, "DEVICE_NOT_CONNECTED")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_blank_text_is_400_invalid_message(alice: Any, device: Device, text: str) -> None:
    error = assert_error(send(alice, device, text=text), 400, "INVALID_MESSAGE")
    assert "text" in error["details"]
    assert not Message.objects.exists()


def test_lapsed_subscription_is_403_subscription_inactive(alice: Any, device: Device) -> None:
    Subscription.objects.filter(device_id=device.pk).update(status=Subscription.Status.EXPIRED)
    assert_error(send(alice, device), 403, "SUBSCRIPTION_INACTIVE")
    assert not Message.objects.exists()


def test_sending_from_a_deleted_device_is_404(alice: Any, device: Device) -> None:
    assert_ok(alice.api.delete(f"/api/v1/devices/{device.pk}"))
    assert_error(send(alice, device), 404, "DEVICE_NOT_FOUND")


def test_monthly_message_quota_is_429_quota_exceeded(alice: Any, device: Device) -> None:
    Plan.objects.filter(code="free").update(message_quota=1)
    assert send(alice, device).status_code == 202
    response = send(alice, device, text="second")
    assert_error(response, 429, "QUOTA_EXCEEDED")
    assert int(response["Retry-After"]) > 0
    assert Message.objects.count() == 1


# --- idempotency ----------------------------------------------------------------------------------
def test_same_idempotency_key_and_body_returns_the_first_response_and_sends_once(
    alice: Any, device: Device, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        first = send(alice, device, HTTP_IDEMPOTENCY_KEY="order-1001")
        second = send(alice, device, HTTP_IDEMPOTENCY_KEY="order-1001")
    assert first.status_code == second.status_code == 202
    assert second["Idempotent-Replayed"] == "true"
    a, b = first.json(), second.json()
    assert (b["message_id"], b["job_id"], b["status"]) == (a["message_id"], a["job_id"], "pending")
    assert b["data"] == a["data"]
    assert Message.objects.count() == 1
    with mock.patch.object(send_message, "apply_async") as enqueue:
        for callback in callbacks:
            callback()
    assert enqueue.call_count == 1


def test_same_idempotency_key_with_another_body_is_409_conflict(alice: Any, device: Device) -> None:
    assert send(alice, device, "one", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 202
    assert_error(send(alice, device, "two", HTTP_IDEMPOTENCY_KEY="k-1"), 409, "IDEMPOTENCY_CONFLICT")
    assert Message.objects.count() == 1


def test_a_refused_request_does_not_use_up_its_idempotency_key(
    alice: Any, make_device: Any, sim: Any
) -> None:
    phone = make_device(alice, name="Later", connected=True)
    Subscription.objects.filter(device_id=phone.pk).update(status=Subscription.Status.EXPIRED)
    assert_error(send(alice, phone, HTTP_IDEMPOTENCY_KEY="retry-me"), 403, "SUBSCRIPTION_INACTIVE")
    Subscription.objects.filter(device_id=phone.pk).update(status=Subscription.Status.ACTIVE)
    response = send(alice, phone, HTTP_IDEMPOTENCY_KEY="retry-me")
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response


def test_overlong_idempotency_key_is_400(alice: Any, device: Device) -> None:
    assert_error(send(alice, device, HTTP_IDEMPOTENCY_KEY="k" * 201), 400, "VALIDATION_ERROR")
    assert not Message.objects.exists()


def test_idempotency_keys_are_per_tenant(alice: Any, charlie: Any, device: Device, make_device: Any) -> None:
    theirs = make_device(charlie, name="Charlie phone", connected=True, phone="6281300000002")
    assert send(alice, device, HTTP_IDEMPOTENCY_KEY="shared").status_code == 202
    response = send(charlie, theirs, HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response
    assert Message.objects.count() == 2


# --- sync mode ------------------------------------------------------------------------------------
def test_sync_mode_with_an_unflagged_key_is_403(alice: Any, device: Device, sim: Any) -> None:
    assert_error(send(alice, device, HTTP_X_SEND_MODE="sync"), 403, "FORBIDDEN")
    assert not Message.objects.exists()
    assert sim.sent() == []


def test_sync_mode_with_a_flagged_key_sends_now_and_returns_the_gowa_id(
    alice: Any, device: Device, footer: str, sim: Any
) -> None:
    client = alice.client_with(allow_sync_send=True)
    response = send(alice, device, "Now please", client=client, HTTP_X_SEND_MODE="sync")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True and body["status"] == "sent"
    assert body["message_id"].startswith("3EB0") and len(body["message_id"]) == 22
    assert body["sent_at"]
    sent = sim.sent()
    assert len(sent) == 1
    assert sent[0]["message_id"] == body["message_id"]
    assert sent[0]["device_id"] == str(device.pk)
    assert sent[0]["phone"] == TO
    assert sent[0]["fields"]["message"] == "Now please" + footer
    message = Message.objects.get(gowa_message_id=body["message_id"])
    assert message.status == Message.Status.SENT and message.sent_at is not None


def test_sync_send_to_a_number_not_on_whatsapp_is_400_invalid_phone(
    alice: Any, device: Device, sim: Any
) -> None:
    sim.control("POST", "/_sim/not-on-whatsapp", json={"phones": ["6281111111111"]})
    client = alice.client_with(allow_sync_send=True)
    error = assert_error(
        send(alice, device, to="6281111111111", client=client, HTTP_X_SEND_MODE="sync"), 400, "INVALID_PHONE"
    )
    assert "to" in error["details"]
    assert sim.sent() == []
    message = Message.objects.get()
    assert message.status == Message.Status.FAILED and message.error_code == "INVALID_JID"


def test_sync_send_during_reachout_timelock_is_429_with_retry_after(
    alice: Any, device: Device, sim: Any
) -> None:
    sim.configure(reachout_timelock=True)
    client = alice.client_with(allow_sync_send=True)
    response = send(alice, device, client=client, HTTP_X_SEND_MODE="sync")
    assert_error(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) > 0


def test_sync_send_replays_the_sync_answer_for_the_same_idempotency_key(
    alice: Any, device: Device, sim: Any
) -> None:
    client = alice.client_with(allow_sync_send=True)
    first = send(alice, device, client=client, HTTP_X_SEND_MODE="sync", HTTP_IDEMPOTENCY_KEY="sync-1")
    second = send(alice, device, client=client, HTTP_X_SEND_MODE="sync", HTTP_IDEMPOTENCY_KEY="sync-1")
    assert first.status_code == second.status_code == 200
    assert second.json()["message_id"] == first.json()["message_id"]
    assert len(sim.sent()) == 1


# --- reading messages and jobs --------------------------------------------------------------------
def test_get_message_shows_status_and_history(alice: Any, device: Device) -> None:
    accepted = send(alice, device).json()
    data = assert_ok(alice.api.get(f"/api/v1/messages/{accepted['message_id']}"))
    assert data["status"] == "pending"
    assert [h["status"] for h in data["history"]] == ["pending"]

    run_worker(accepted["message_id"])
    data = assert_ok(alice.api.get(f"/api/v1/messages/{accepted['message_id']}"))
    assert data["status"] == "sent"
    assert data["gowa_message_id"].startswith("3EB0")
    assert data["text"] == "Hello"
    assert [h["status"] for h in data["history"]] == ["pending", "sending", "sent"]
    assert all(h["at"] for h in data["history"])


def test_get_job_counts_its_messages_by_status(alice: Any, device: Device) -> None:
    accepted = send(alice, device).json()
    job = assert_ok(alice.api.get(f"/api/v1/messages/jobs/{accepted['job_id']}"))
    assert job["job_id"] == accepted["job_id"]
    assert job["total"] == 1
    assert job["counts"]["pending"] == 1 and job["counts"]["sent"] == 0
    assert job["message_ids"] == [accepted["message_id"]]
    run_worker(accepted["message_id"])
    job = assert_ok(alice.api.get(f"/api/v1/messages/jobs/{accepted['job_id']}"))
    assert job["counts"]["pending"] == 0 and job["counts"]["sent"] == 1


def test_another_tenant_gets_404_for_my_message_and_job(alice: Any, charlie: Any, device: Device) -> None:
    accepted = send(alice, device).json()
    assert_error(charlie.api.get(f"/api/v1/messages/{accepted['message_id']}"), 404, "NOT_FOUND")
    assert_error(charlie.api.get(f"/api/v1/messages/jobs/{accepted['job_id']}"), 404, "NOT_FOUND")
    assert_error(alice.api.get(f"/api/v1/messages/{uuid.uuid4()}"), 404, "NOT_FOUND")
    assert_error(alice.api.get("/api/v1/messages/jobs/nope"), 404, "NOT_FOUND")


# --- the worker path ------------------------------------------------------------------------------
def test_worker_sends_the_message_through_gowa(alice: Any, device: Device, footer: str, sim: Any) -> None:
    accepted = send(alice, device, "From the worker").json()
    run_worker(accepted["message_id"])
    message = Message.objects.get(pk=accepted["message_id"])
    assert message.status == Message.Status.SENT
    assert message.gowa_message_id.startswith("3EB0") and message.sent_at is not None
    assert message.attempts == 1
    sent = sim.sent()
    assert [(s["message_id"], s["phone"], s["fields"]["message"]) for s in sent] == [
        (message.gowa_message_id, TO, "From the worker" + footer)
    ]
    assert Device.objects.get(pk=device.pk).messages_sent == 1
    # A duplicate delivery of the task (e.g. a redelivered Celery message) sends nothing more.
    run_worker(accepted["message_id"])
    assert len(sim.sent()) == 1


def test_transient_gowa_failure_schedules_a_retry_with_backoff(
    alice: Any, device: Device, sim: Any, settings: Any
) -> None:
    settings.SEND_MAX_ATTEMPTS = 5
    settings.SEND_RETRY_BASE_SECONDS = 5.0
    sim.configure(error_rate=1.0)
    accepted = send(alice, device).json()
    before = timezone.now()
    # Stop at the first retry (eager apply would otherwise run the retries back to back).
    with mock.patch.object(send_message, "retry", return_value=Retry()) as retry:
        run_worker(accepted["message_id"])
    retry.assert_called_once_with(countdown=5.0)
    message = Message.objects.get(pk=accepted["message_id"])
    assert message.status == Message.Status.PENDING
    assert message.attempts == 1
    assert message.next_attempt_at is not None
    assert before + timedelta(seconds=4) <= message.next_attempt_at <= timezone.now() + timedelta(seconds=6)
    assert message.history.filter(status="pending", detail__startswith="retry in").exists()
    assert sim.sent() == []

    # The next attempt backs off twice as long.
    with mock.patch.object(send_message, "retry", return_value=Retry()) as retry:
        run_worker(accepted["message_id"])
    retry.assert_called_once_with(countdown=10.0)
    assert Message.objects.get(pk=accepted["message_id"]).attempts == 2


def test_after_the_last_attempt_the_message_fails_with_the_reason(
    alice: Any, device: Device, sim: Any, settings: Any
) -> None:
    settings.SEND_MAX_ATTEMPTS = 1
    sim.configure(error_rate=1.0)
    accepted = send(alice, device).json()
    with mock.patch.object(send_message, "retry") as retry:
        run_worker(accepted["message_id"])
    retry.assert_not_called()
    message = Message.objects.get(pk=accepted["message_id"])
    assert message.status == Message.Status.FAILED
    assert message.error_code == "INTERNAL_SERVER_ERROR" and "simulated" in message.error_message
    assert message.failed_at is not None and message.next_attempt_at is None
    assert Device.objects.get(pk=device.pk).messages_failed == 1
    data = assert_ok(alice.api.get(f"/api/v1/messages/{message.pk}"))
    assert data["status"] == "failed" and data["error"]["code"] == message.error_code
    assert [h["status"] for h in data["history"]][-1] == "failed"


def test_retries_end_in_failed_after_send_max_attempts(
    alice: Any, device: Device, sim: Any, settings: Any
) -> None:
    settings.SEND_MAX_ATTEMPTS = 3
    sim.configure(error_rate=1.0)
    accepted = send(alice, device).json()
    run_worker(accepted["message_id"])  # eager: the retries run immediately, one after another
    message = Message.objects.get(pk=accepted["message_id"])
    assert message.status == Message.Status.FAILED
    assert message.attempts == 3


def test_worker_fails_the_message_when_the_whatsapp_session_is_gone(
    alice: Any, device: Device, sim: Any
) -> None:
    accepted = send(alice, device).json()
    sim.control("POST", f"/_sim/devices/{device.pk}/logout", json={})  # unlinked from the phone
    # GOWA now answers 500 INVALID_WA_CLI: permanent until the device is linked again, so no retries.
    with mock.patch.object(send_message, "retry", return_value=Retry()) as retry:
        run_worker(accepted["message_id"])
    retry.assert_not_called()
    message = Message.objects.get(pk=accepted["message_id"])
    assert message.status == Message.Status.FAILED
    assert message.error_code == "DEVICE_NOT_CONNECTED"


def test_sync_send_when_the_whatsapp_session_is_gone_is_409(alice: Any, device: Device, sim: Any) -> None:
    sim.control("POST", f"/_sim/devices/{device.pk}/logout", json={})  # unlinked from the phone
    client = alice.client_with(allow_sync_send=True)
    assert_error(send(alice, device, client=client, HTTP_X_SEND_MODE="sync"), 409, "DEVICE_NOT_CONNECTED")
    assert Message.objects.get().status == Message.Status.FAILED


def test_reachout_timelock_pauses_the_device(alice: Any, device: Device, sim: Any, settings: Any) -> None:
    settings.REACHOUT_TIMELOCK_PAUSE_SECONDS = 600
    sim.configure(reachout_timelock=True)
    accepted = send(alice, device).json()
    with mock.patch.object(send_message, "retry", return_value=Retry()) as retry:
        run_worker(accepted["message_id"])
    retry.assert_called_once_with(countdown=600.0)
    paused = Device.objects.get(pk=device.pk).paused_until
    assert paused is not None and paused > timezone.now() + timedelta(seconds=590)
    message = Message.objects.get(pk=accepted["message_id"])
    assert message.status == Message.Status.PENDING and message.attempts == 1
    assert message.next_attempt_at is not None and message.next_attempt_at > timezone.now() + timedelta(
        seconds=590
    )

    # While paused, the worker does not even try: it waits for the pause to lift.
    sim.configure(reachout_timelock=False)
    with mock.patch.object(send_message, "retry", return_value=Retry()) as retry:
        run_worker(accepted["message_id"])
    assert retry.call_count == 1 and retry.call_args.kwargs["countdown"] > 590
    assert Message.objects.get(pk=accepted["message_id"]).attempts == 1
    assert sim.sent() == []
