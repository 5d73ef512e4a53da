"""``POST /api/v1/phone/validate`` and ``DELETE /api/v1/phone/cache`` (seed 003): WhatsApp is asked through
the tenant's device (the simulator, over HTTP), the answer is cached per tenant in Redis, and clearing
the cache clears only that tenant's answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devices.models import Device
from messaging.phone_check import cache_key, phone_cache_clear
from tests.api.helpers import assert_error, assert_ok
from wavora.redis import client

VALIDATE = "/api/v1/phone/validate"
CACHE = "/api/v1/phone/cache"
PHONE = "6281234567890"


@pytest.fixture(autouse=True)
def _forget_cached_answers(alice: Any, charlie: Any) -> Iterator[None]:
    yield
    for actor in (alice, charlie):
        phone_cache_clear(tenant_id=actor.tenant.pk)


@pytest.fixture
def device(alice: Any, make_device: Any) -> Device:
    return make_device(alice, connected=True)


def validate(actor: Any, device: Device, phone: str = PHONE, client: Any = None) -> Any:
    return (client or actor.api).post(VALIDATE, {"device_id": str(device.pk), "phone": phone}, format="json")


def mark_not_on_whatsapp(sim: Any, *phones: str) -> None:
    sim.control("POST", "/_sim/not-on-whatsapp", json={"phones": list(phones)})


# --- asking ---------------------------------------------------------------------------------------
def test_validate_answers_with_the_normalised_phone_and_its_jid(alice: Any, device: Device) -> None:
    response = validate(alice, device, "+62 812-3456-7890")
    assert assert_ok(response) == {
        "phone": PHONE,
        "is_on_whatsapp": True,
        "jid": f"{PHONE}@s.whatsapp.net",
        "cached": False,
    }
    assert response.json()["message"] == "Phone validation result"


def test_a_number_not_on_whatsapp_has_no_jid(alice: Any, device: Device, sim: Any) -> None:
    mark_not_on_whatsapp(sim, PHONE)
    assert assert_ok(validate(alice, device, "0812 3456 7890")) == {
        "phone": PHONE,
        "is_on_whatsapp": False,
        "jid": None,
        "cached": False,
    }


# --- the cache ------------------------------------------------------------------------------------
def test_a_second_check_is_answered_from_the_cache_without_asking_whatsapp(
    alice: Any, device: Device, sim: Any
) -> None:
    assert assert_ok(validate(alice, device))["cached"] is False
    # WhatsApp would now say "no": a cached answer proves WhatsApp was not asked again.
    mark_not_on_whatsapp(sim, PHONE)
    again = assert_ok(validate(alice, device, f"{PHONE}@s.whatsapp.net"))
    assert again == {"phone": PHONE, "is_on_whatsapp": True, "jid": f"{PHONE}@s.whatsapp.net", "cached": True}


def test_answers_are_cached_for_the_configured_ttl(alice: Any, device: Device, settings: Any) -> None:
    settings.PHONE_CHECK_CACHE_TTL_SECONDS = 90
    assert_ok(validate(alice, device))
    ttl = client().ttl(cache_key(alice.tenant.pk, PHONE))
    assert 0 < ttl <= 90


def test_a_ttl_of_zero_turns_the_cache_off(alice: Any, device: Device, sim: Any, settings: Any) -> None:
    settings.PHONE_CHECK_CACHE_TTL_SECONDS = 0
    assert assert_ok(validate(alice, device))["cached"] is False
    mark_not_on_whatsapp(sim, PHONE)
    assert assert_ok(validate(alice, device)) == {
        "phone": PHONE,
        "is_on_whatsapp": False,
        "jid": None,
        "cached": False,
    }


def test_clearing_the_cache_makes_the_next_check_ask_whatsapp_again(
    alice: Any, device: Device, sim: Any
) -> None:
    assert_ok(validate(alice, device, PHONE))
    assert_ok(validate(alice, device, "6281234567891"))
    mark_not_on_whatsapp(sim, PHONE)

    response = alice.api.delete(CACHE)
    assert assert_ok(response) == {"cleared": 2}
    assert response.json()["message"] == "Cache cleared"
    fresh = assert_ok(validate(alice, device))
    assert fresh["cached"] is False and fresh["is_on_whatsapp"] is False
    assert assert_ok(alice.api.delete(CACHE)) == {"cleared": 1}
    assert assert_ok(alice.api.delete(CACHE)) == {"cleared": 0}


def test_tenants_have_separate_caches(
    alice: Any, charlie: Any, device: Device, make_device: Any, sim: Any
) -> None:
    charlies = make_device(charlie, connected=True, phone="6281299999999")
    assert assert_ok(validate(alice, device))["cached"] is False
    # Alice's answer is not Charlie's: his first check asks WhatsApp through his own device.
    assert assert_ok(validate(charlie, charlies))["cached"] is False
    assert assert_ok(validate(charlie, charlies))["cached"] is True

    # Charlie clears his cache only; Alice's answer stays cached.
    assert assert_ok(charlie.api.delete(CACHE)) == {"cleared": 1}
    assert assert_ok(validate(alice, device))["cached"] is True
    assert client().exists(cache_key(alice.tenant.pk, PHONE)) == 1
    assert client().exists(cache_key(charlie.tenant.pk, PHONE)) == 0


# --- refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize("phone", ["12ab", "123", "", "120363025246125486@g.us"])
def test_an_invalid_phone_is_refused(alice: Any, device: Device, phone: str) -> None:
    response = validate(alice, device, phone)
    if phone == "":
        assert "phone" in assert_error(response, 400, "VALIDATION_ERROR")["details"]
    else:
        assert "phone" in assert_error(response, 400, "INVALID_PHONE")["details"]


def test_missing_fields_are_named(alice: Any) -> None:
    error = assert_error(alice.api.post(VALIDATE, {}, format="json"), 400, "VALIDATION_ERROR")
    assert {"device_id", "phone"} <= set(error["details"])


def test_a_device_that_is_not_connected_is_refused_even_for_a_cached_number(
    alice: Any, device: Device, make_device: Any, sim: Any
) -> None:
    unpaired = make_device(alice, name="Not linked")
    error = assert_error(validate(alice, unpaired), 409, "DEVICE_NOT_CONNECTED")
    assert error["details"]["device_status"] == "created"
    assert_ok(validate(alice, device))
    assert_error(validate(alice, unpaired), 409, "DEVICE_NOT_CONNECTED")


def test_a_session_that_ended_on_the_phone_is_a_409(alice: Any, device: Device, sim: Any) -> None:
    sim.control("POST", f"/_sim/devices/{device.pk}/logout")  # we have not heard of it yet
    assert_error(validate(alice, device), 409, "DEVICE_NOT_CONNECTED")
    assert client().exists(cache_key(alice.tenant.pk, PHONE)) == 0


def test_another_tenants_device_is_not_found(alice: Any, charlie: Any, device: Device) -> None:
    assert_error(validate(charlie, device), 404, "DEVICE_NOT_FOUND")
    assert client().exists(cache_key(charlie.tenant.pk, PHONE)) == 0


def test_validate_and_clear_need_the_messages_send_scope(alice: Any, device: Device) -> None:
    reader = alice.client_with(scopes=["messages:read"])
    assert_error(validate(alice, device, client=reader), 403, "FORBIDDEN")
    assert_error(reader.delete(CACHE), 403, "FORBIDDEN")


def test_a_key_restricted_to_another_device_cannot_use_this_one(
    alice: Any, device: Device, make_device: Any
) -> None:
    other = make_device(alice, name="Other phone")
    restricted = alice.client_with(device_ids=[other.pk])
    assert_error(validate(alice, device, client=restricted), 403, "FORBIDDEN")
