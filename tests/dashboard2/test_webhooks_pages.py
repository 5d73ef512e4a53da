"""The webhooks pages: endpoints listed per tenant, created and edited through the same service as
the API (SSRF guard, event catalog, device filter), the secret shown once, test sends with their
result, the delivery log with its detail and redelivery."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from tests.conftest import Actor
from tests.factories import DeviceFactory
from tests.webhooks import Receiver
from webhooks import services
from webhooks.events import event_emit
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import field_errors, page_text


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.ALLOW_PRIVATE_URLS = True  # the receiver listens on 127.0.0.1
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def alice_endpoint(alice: Actor, receiver: Receiver) -> WebhookEndpoint:
    return services.endpoint_create(tenant=alice.tenant, url=receiver.url(), events=["message.in"])


@pytest.fixture
def charlie_endpoint(charlie: Actor, receiver: Receiver) -> WebhookEndpoint:
    return services.endpoint_create(tenant=charlie.tenant, url=receiver.url("/charlie"))


def shown_secret(html: str) -> str | None:
    found = re.search(r'<code class="secret">(whsec_[^<]+)</code>', html)
    return found.group(1) if found else None


def test_owners_and_members_see_only_their_tenants_endpoints(
    as_alice: Client, as_bob: Client, alice_endpoint: WebhookEndpoint, charlie_endpoint: WebhookEndpoint
) -> None:
    for client in (as_alice, as_bob):
        html = page_text(client.get("/dashboard/webhooks/"))
        assert alice_endpoint.url in html
        assert "/charlie" not in html
        assert alice_endpoint.secret not in html


def test_creating_an_endpoint_shows_its_secret_once(
    as_alice: Client, alice: Actor, receiver: Receiver
) -> None:
    shop = DeviceFactory.create(tenant=alice.tenant, name="Kasir")
    response = as_alice.post(
        "/dashboard/webhooks/new/",
        {
            "url": receiver.url("/orders"),
            "description": "Orders",
            "events": ["message.in", "message.receipt"],
            "device_ids": [str(shop.pk)],
            "is_active": "on",
        },
    )
    endpoint = WebhookEndpoint.objects.get(tenant=alice.tenant)
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/webhooks/{endpoint.pk}/"
    assert endpoint.url == receiver.url("/orders")
    assert endpoint.events == ["message.in", "message.receipt"]
    assert endpoint.device_ids == [str(shop.pk)]

    first = as_alice.get(response["Location"])
    assert shown_secret(page_text(first)) == endpoint.secret
    assert "no-store" in first["Cache-Control"]
    again = page_text(as_alice.get(response["Location"]))
    assert shown_secret(again) is None and endpoint.secret not in again
    assert endpoint.secret not in page_text(as_alice.get("/dashboard/webhooks/"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("ftp://example.com/hook", "only http and https"),
        ("", "required"),
    ],
)
def test_an_unsafe_or_missing_url_is_an_inline_error_and_nothing_is_created(
    as_alice: Client, alice: Actor, url: str, reason: str
) -> None:
    response = as_alice.post("/dashboard/webhooks/new/", {"url": url, "is_active": "on"})
    assert response.status_code == 200
    errors = " ".join(field_errors(response, "url"))
    assert reason in errors.lower()
    assert 'class="errorlist" id="url-errors"' in response.content.decode()
    assert not WebhookEndpoint.objects.filter(tenant=alice.tenant).exists()


def test_another_tenants_device_cannot_be_chosen_as_a_filter(
    as_alice: Client, alice: Actor, charlie: Actor, receiver: Receiver
) -> None:
    theirs = DeviceFactory.create(tenant=charlie.tenant)
    response = as_alice.post(
        "/dashboard/webhooks/new/", {"url": receiver.url(), "device_ids": [str(theirs.pk)]}
    )
    assert response.status_code == 200
    assert field_errors(response, "device_ids")
    assert not WebhookEndpoint.objects.exists()


def test_editing_changes_the_url_events_and_filters(
    as_alice: Client, alice_endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    form = page_text(as_alice.get(f"/dashboard/webhooks/{alice_endpoint.pk}/edit/"))
    assert f'value="{alice_endpoint.url}"' in form
    response = as_alice.post(
        f"/dashboard/webhooks/{alice_endpoint.pk}/edit/",
        {"url": receiver.url("/v2"), "events": ["device.connected"], "description": "v2", "is_active": "on"},
    )
    assert response.status_code == 302
    alice_endpoint.refresh_from_db()
    assert (alice_endpoint.url, alice_endpoint.events, alice_endpoint.description) == (
        receiver.url("/v2"),
        ["device.connected"],
        "v2",
    )


def test_an_endpoint_subscribed_to_webhook_test_through_the_api_can_still_be_edited(
    as_alice: Client, alice: Actor, receiver: Receiver
) -> None:
    endpoint = services.endpoint_create(tenant=alice.tenant, url=receiver.url(), events=["webhook.test"])
    assert "webhook.test" not in page_text(as_alice.get("/dashboard/webhooks/new/"))
    response = as_alice.post(
        f"/dashboard/webhooks/{endpoint.pk}/edit/",
        {"url": receiver.url(), "events": ["webhook.test", "message.in"], "is_active": "on"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["webhook.test", "message.in"]


def test_editing_to_a_private_url_is_refused_inline(
    as_alice: Client, alice_endpoint: WebhookEndpoint, settings: Any
) -> None:
    settings.ALLOW_PRIVATE_URLS = False
    response = as_alice.post(
        f"/dashboard/webhooks/{alice_endpoint.pk}/edit/", {"url": "http://10.0.0.5/hook", "is_active": "on"}
    )
    assert response.status_code == 200 and field_errors(response, "url")
    alice_endpoint.refresh_from_db()
    assert "10.0.0.5" not in alice_endpoint.url


def test_deactivating_and_activating_an_endpoint(as_bob: Client, alice_endpoint: WebhookEndpoint) -> None:
    url = f"/dashboard/webhooks/{alice_endpoint.pk}/toggle/"
    assert as_bob.post(url).status_code == 302
    alice_endpoint.refresh_from_db()
    assert alice_endpoint.is_active is False
    assert as_bob.post(url).status_code == 302
    alice_endpoint.refresh_from_db()
    assert alice_endpoint.is_active is True


def test_deleting_an_endpoint(as_alice: Client, alice_endpoint: WebhookEndpoint) -> None:
    response = as_alice.post(f"/dashboard/webhooks/{alice_endpoint.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/webhooks/"
    assert not WebhookEndpoint.objects.filter(pk=alice_endpoint.pk).exists()


def test_actions_are_post_only(as_alice: Client, alice_endpoint: WebhookEndpoint) -> None:
    assert as_alice.get(f"/dashboard/webhooks/{alice_endpoint.pk}/delete/").status_code == 405
    assert WebhookEndpoint.objects.filter(pk=alice_endpoint.pk).exists()


def test_rotating_the_secret_shows_the_new_one_once_and_keeps_the_old_one_signing(
    as_alice: Client, alice_endpoint: WebhookEndpoint
) -> None:
    old = alice_endpoint.secret
    response = as_alice.post(
        f"/dashboard/webhooks/{alice_endpoint.pk}/rotate-secret/", {"grace_period_hours": "2"}
    )
    assert response.status_code == 302
    alice_endpoint.refresh_from_db()
    assert alice_endpoint.secret != old and alice_endpoint.previous_secret == old
    assert shown_secret(page_text(as_alice.get(response["Location"]))) == alice_endpoint.secret
    assert shown_secret(page_text(as_alice.get(response["Location"]))) is None


def test_a_bad_grace_period_rotates_nothing(as_alice: Client, alice_endpoint: WebhookEndpoint) -> None:
    old = alice_endpoint.secret
    response = as_alice.post(
        f"/dashboard/webhooks/{alice_endpoint.pk}/rotate-secret/", {"grace_period_hours": "999"}, follow=True
    )
    assert "168" in page_text(response)
    alice_endpoint.refresh_from_db()
    assert alice_endpoint.secret == old


def test_the_test_button_delivers_a_signed_event_and_shows_the_answer(
    as_alice: Client, alice_endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    response = as_alice.post(f"/dashboard/webhooks/{alice_endpoint.pk}/test/", follow=True)
    html = page_text(response)

    (request,) = receiver.received
    assert request.json["event"] == "webhook.test"
    expected = hmac.new(alice_endpoint.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Webhook-Signature"] == expected
    attempt = response.context["test"]["attempt"]
    assert attempt.success and attempt.status_code == 200
    assert f"The receiver answered HTTP 200 in {attempt.duration_ms} ms." in html
    assert "{&quot;received&quot;: true}" in html  # the response excerpt


def test_a_failing_test_shows_the_receivers_status(
    as_alice: Client, alice_endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    receiver.answer(503)
    response = as_alice.post(f"/dashboard/webhooks/{alice_endpoint.pk}/test/", follow=True)
    attempt = response.context["test"]["attempt"]
    assert not attempt.success and attempt.status_code == 503
    assert f"The receiver answered HTTP 503 in {attempt.duration_ms} ms." in page_text(response)


def test_the_delivery_log_shows_status_attempts_latency_and_excerpt_and_filters_by_status(
    as_alice: Client,
    alice: Actor,
    alice_endpoint: WebhookEndpoint,
    receiver: Receiver,
    committed: Callable[..., Any],
    inline_celery: None,
) -> None:
    receiver.answer(500)
    committed(lambda: event_emit(tenant_id=alice.tenant.pk, type="message.in", data={"text": "a"}))
    committed(lambda: event_emit(tenant_id=alice.tenant.pk, type="message.in", data={"text": "b"}))
    succeeded, failed = sorted(
        WebhookDelivery.objects.filter(endpoint=alice_endpoint), key=lambda d: d.last_status_code or 0
    )
    assert (succeeded.last_status_code, failed.last_status_code) == (200, 500)

    response = as_alice.get(f"/dashboard/webhooks/{alice_endpoint.pk}/")
    rows = response.context["rows"]
    assert {row["delivery"].pk for row in rows} == {failed.pk, succeeded.pk}
    assert all(row["last"].duration_ms is not None for row in rows)
    html = page_text(response)
    assert f"/dashboard/webhooks/deliveries/{failed.pk}/" in html
    assert "{&quot;received&quot;: false}" in html

    only_pending = as_alice.get(f"/dashboard/webhooks/{alice_endpoint.pk}/?status=pending")
    assert [row["delivery"].pk for row in only_pending.context["rows"]] == [failed.pk]


def test_a_delivery_shows_every_attempt_and_redeliver_makes_a_new_one(
    as_alice: Client,
    alice: Actor,
    alice_endpoint: WebhookEndpoint,
    receiver: Receiver,
    committed: Callable[..., Any],
    inline_celery: None,
) -> None:
    committed(lambda: event_emit(tenant_id=alice.tenant.pk, type="message.in", data={"text": "halo"}))
    delivery = WebhookDelivery.objects.get(endpoint=alice_endpoint)
    html = page_text(as_alice.get(f"/dashboard/webhooks/deliveries/{delivery.pk}/"))
    assert delivery.event_id in html and "&quot;halo&quot;" in html

    response = committed(lambda: as_alice.post(f"/dashboard/webhooks/deliveries/{delivery.pk}/redeliver/"))
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == "succeeded"
    assert len(receiver.received) == 2
    assert receiver.received[0].event_id == receiver.received[1].event_id
    detail = as_alice.get(f"/dashboard/webhooks/deliveries/{delivery.pk}/")
    assert [a.number for a in detail.context["attempts"]] == [1, 2]


def test_redelivering_to_a_deactivated_endpoint_explains_why_not(
    as_alice: Client,
    alice: Actor,
    alice_endpoint: WebhookEndpoint,
    committed: Callable[..., Any],
    inline_celery: None,
) -> None:
    committed(lambda: event_emit(tenant_id=alice.tenant.pk, type="message.in", data={}))
    delivery = WebhookDelivery.objects.get(endpoint=alice_endpoint)
    services.endpoint_update(endpoint=alice_endpoint, is_active=False)
    response = as_alice.post(f"/dashboard/webhooks/deliveries/{delivery.pk}/redeliver/", follow=True)
    assert "activate it before redelivering" in page_text(response)


def test_another_tenants_endpoint_and_deliveries_are_not_found(
    as_charlie: Client,
    alice: Actor,
    alice_endpoint: WebhookEndpoint,
    committed: Callable[..., Any],
    inline_celery: None,
) -> None:
    committed(lambda: event_emit(tenant_id=alice.tenant.pk, type="message.in", data={}))
    delivery = WebhookDelivery.objects.get(endpoint=alice_endpoint)
    base = f"/dashboard/webhooks/{alice_endpoint.pk}"
    for url in (f"{base}/", f"{base}/edit/", f"/dashboard/webhooks/deliveries/{delivery.pk}/"):
        assert as_charlie.get(url).status_code == 404, url
    for url in (
        f"{base}/edit/",
        f"{base}/toggle/",
        f"{base}/delete/",
        f"{base}/rotate-secret/",
        f"{base}/test/",
        f"/dashboard/webhooks/deliveries/{delivery.pk}/redeliver/",
    ):
        form = {"url": "https://example.com", "grace_period_hours": "1"}
        assert as_charlie.post(url, form).status_code == 404, url
    assert as_charlie.get("/dashboard/webhooks/not-a-uuid/").status_code == 404
    refreshed = WebhookEndpoint.objects.get(pk=alice_endpoint.pk)
    assert (refreshed.secret, refreshed.is_active, refreshed.url) == (
        alice_endpoint.secret,
        True,
        alice_endpoint.url,
    )


def test_a_test_result_of_another_endpoint_is_not_shown(
    as_alice: Client, alice: Actor, alice_endpoint: WebhookEndpoint, charlie_endpoint: WebhookEndpoint
) -> None:
    attempt = services.webhook_test_send(endpoint=charlie_endpoint)
    response = as_alice.get(f"/dashboard/webhooks/{alice_endpoint.pk}/?test={attempt.delivery_id}")
    assert response.status_code == 404
