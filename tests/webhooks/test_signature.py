"""What a receiver sees: the headers of SPEC §5 and a signature it can verify with seed 003's
Python snippet; during a rotation's grace period the old and the new secret both verify."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.conftest import Actor
from webhooks import services
from webhooks.models import WebhookDelivery

from . import Received, Receiver
from .conftest import make_endpoint


def seed_003_verify(webhook_secret: str, request: Received) -> None:
    """Seed 003's receiver snippet, as a tenant would paste it (request.body = the raw bytes)."""
    expected = hmac.new(webhook_secret.encode(), request.body, hashlib.sha256).hexdigest()

    assert request.headers["X-Webhook-Signature"] == expected


def verify_either(webhook_secret: str, request: Received) -> bool:
    """The rotation-aware receiver of our docs: the HMAC with the secret it holds must equal
    X-Webhook-Signature (new secret) or X-Webhook-Signature-Previous (old secret, during grace)."""
    expected = hmac.new(webhook_secret.encode(), request.body, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(expected, request.headers.get(name, ""))
        for name in ("X-Webhook-Signature", "X-Webhook-Signature-Previous")
    )


def test_a_receiver_using_seed_003s_snippet_accepts_our_request(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], settings: Any
) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    event = emit(alice.tenant.pk, "message.in", {"from": "6281234567890", "text": "Halo kak 🙏"})

    [request] = receiver.received
    seed_003_verify(endpoint.secret, request)
    assert request.path == "/hook"
    assert request.json == {
        "id": event.pk,
        "event": "message.in",
        "device_id": None,
        "data": {"from": "6281234567890", "text": "Halo kak 🙏"},
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
    }
    # Compact JSON: the signed bytes are exactly what a JSON encoder without spaces produces.
    assert request.body == json.dumps(request.json, separators=(",", ":"), ensure_ascii=False).encode()
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == f"Wavora-Webhooks/{settings.WAVORA_VERSION}"
    assert request.headers["X-Webhook-Id"] == event.pk
    assert request.headers["X-Webhook-Event"] == "message.in"
    assert abs(int(request.headers["X-Webhook-Timestamp"]) - timezone.now().timestamp()) < 60
    assert "X-Webhook-Signature-Previous" not in request.headers
    assert WebhookDelivery.objects.get(event=event).status == WebhookDelivery.Status.SUCCEEDED


def test_a_tampered_body_or_a_wrong_secret_does_not_verify(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    emit(alice.tenant.pk)
    [request] = receiver.received

    tampered = Received(request.path, request.headers, request.body.replace(b"halo", b"HALO"), 200)
    assert not verify_either(endpoint.secret, tampered)
    assert not verify_either("whsec_someone-elses-secret", request)


def test_during_the_grace_period_both_secrets_verify_and_afterwards_only_the_new_one(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], run_due: Callable[..., Any]
) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    old_secret = endpoint.secret
    endpoint = services.endpoint_rotate_secret(endpoint=endpoint, grace=timedelta(hours=24))
    new_secret = endpoint.secret
    assert new_secret != old_secret and new_secret.startswith("whsec_")

    emit(alice.tenant.pk)
    [during] = receiver.received
    seed_003_verify(new_secret, during)  # an updated receiver needs no change to seed 003's code
    assert verify_either(old_secret, during)  # a receiver still holding the old secret accepts it
    assert verify_either(new_secret, during)

    # After the grace period only the new secret signs.
    event = emit(alice.tenant.pk)
    services.delivery_redeliver(
        delivery=WebhookDelivery.objects.get(event=event), now=timezone.now() + timedelta(hours=25)
    )
    run_due(timezone.now() + timedelta(hours=25))
    after = receiver.received[-1]
    assert "X-Webhook-Signature-Previous" not in after.headers
    seed_003_verify(new_secret, after)
    assert not verify_either(old_secret, after)


def test_a_rotation_without_grace_stops_the_old_secret_at_once(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    old_secret = endpoint.secret
    endpoint = services.endpoint_rotate_secret(endpoint=endpoint, grace=timedelta(0))
    emit(alice.tenant.pk)
    [request] = receiver.received
    seed_003_verify(endpoint.secret, request)
    assert not verify_either(old_secret, request)
