"""Authentication (API key in three places, or the dashboard session), scopes, and API key management."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import ApiKey, Tenant
from tenants.services import api_key_create
from tests.conftest import keyed_client
from tests.factories import DeviceFactory, UserFactory

from .helpers import assert_error, assert_ok

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices"
KEYS = "/api/v1/api-keys"


def session_client(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# --- authentication -------------------------------------------------------------------------------
def test_request_without_a_key_is_rejected_with_401_unauthorized_envelope() -> None:
    response = APIClient().get(DEVICES)
    assert_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("raw", ["wv_live_" + "x" * 43, "not-even-a-wavora-key", "Bearer"])
def test_wrong_key_is_rejected_with_401(alice: Any, raw: str) -> None:
    assert_error(keyed_client(raw).get(DEVICES), 401, "UNAUTHORIZED")


def test_a_key_of_the_right_shape_but_one_character_off_is_rejected(alice: Any) -> None:
    tampered = alice.raw_key[:-1] + ("A" if alice.raw_key[-1] != "A" else "B")
    assert_error(keyed_client(tampered).get(DEVICES), 401, "UNAUTHORIZED")


def test_revoked_key_is_rejected_with_401(alice: Any) -> None:
    assert alice.api.get(DEVICES).status_code == 200
    alice.key.revoked_at = timezone.now()
    alice.key.save(update_fields=["revoked_at"])
    error = assert_error(alice.api.get(DEVICES), 401, "UNAUTHORIZED")
    assert "revoked" in error["message"]


def test_expired_key_is_rejected_with_401_while_a_future_expiry_works(alice: Any) -> None:
    expired = alice.client_with(expires_at=timezone.now() - timedelta(seconds=1))
    error = assert_error(expired.get(DEVICES), 401, "UNAUTHORIZED")
    assert "expired" in error["message"]
    assert alice.client_with(expires_at=timezone.now() + timedelta(hours=1)).get(DEVICES).status_code == 200


def test_key_of_a_suspended_tenant_is_rejected_with_401(alice: Any) -> None:
    Tenant.objects.filter(pk=alice.tenant.pk).update(is_active=False)
    assert_error(alice.api.get(DEVICES), 401, "UNAUTHORIZED")


def test_key_is_accepted_as_bearer_header(alice: Any) -> None:
    response = APIClient().get(DEVICES, HTTP_AUTHORIZATION=f"Bearer {alice.raw_key}")
    assert_ok(response)


def test_key_is_accepted_as_x_api_key_header(alice: Any) -> None:
    assert_ok(APIClient().get(DEVICES, HTTP_X_API_KEY=alice.raw_key))
    assert_error(APIClient().get(DEVICES, HTTP_X_API_KEY="wv_live_wrong"), 401, "UNAUTHORIZED")


def test_key_is_accepted_as_api_key_query_parameter(alice: Any) -> None:
    assert_ok(APIClient().get(f"{DEVICES}?api_key={alice.raw_key}"))
    assert_error(APIClient().get(f"{DEVICES}?api_key=wv_live_wrong"), 401, "UNAUTHORIZED")


def test_the_key_identifies_its_own_tenant(alice: Any, charlie: Any) -> None:
    DeviceFactory(tenant=alice.tenant, name="Alice phone")
    DeviceFactory(tenant=charlie.tenant, name="Charlie phone")
    assert [d["name"] for d in assert_ok(alice.api.get(DEVICES))] == ["Alice phone"]
    assert [d["name"] for d in assert_ok(charlie.api.get(DEVICES))] == ["Charlie phone"]


def test_dashboard_session_authenticates_tenant_members(alice: Any) -> None:
    DeviceFactory(tenant=alice.tenant, name="Alice phone")
    data = assert_ok(session_client(alice.user).get(DEVICES))
    assert [d["name"] for d in data] == ["Alice phone"]


def test_session_writes_need_the_csrf_token(alice: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice.user)
    assert_ok(client.get(KEYS))  # safe methods need no token
    assert_error(client.post(KEYS, {"name": "no csrf"}, format="json"), 403, "FORBIDDEN")
    assert not ApiKey.objects.filter(name="no csrf").exists()
    token = "a" * 32
    client.cookies["csrftoken"] = token
    assert_ok(client.post(KEYS, {"name": "with csrf"}, format="json", HTTP_X_CSRFTOKEN=token), 201)
    # API keys are not cookies: no CSRF token needed.
    assert_ok(alice.api.post(KEYS, {"name": "by key"}, format="json"), 201)


def test_session_of_a_user_in_no_tenant_is_rejected_with_401(db: None) -> None:
    loner = UserFactory(username="loner@example.com")
    assert_error(session_client(loner).get(DEVICES), 401, "UNAUTHORIZED")


def test_missing_scope_is_forbidden_with_403(alice: Any) -> None:
    reader = alice.client_with(scopes=["devices:read"])
    assert_ok(reader.get(DEVICES))
    error = assert_error(reader.post(DEVICES, {"name": "x"}, format="json"), 403, "FORBIDDEN")
    assert "devices:write" in error["message"]
    send = reader.post(
        "/api/v1/messages/text", {"device_id": "x", "to": "6281234567890", "text": "hi"}, format="json"
    )
    assert "messages:send" in assert_error(send, 403, "FORBIDDEN")["message"]
    assert "keys:write" in assert_error(reader.get(KEYS), 403, "FORBIDDEN")["message"]


# --- API key management ---------------------------------------------------------------------------
def test_created_key_is_shown_once_with_prefix_and_stored_only_as_a_hash(alice: Any) -> None:
    response = alice.api.post(KEYS, {"name": "CI", "scopes": ["devices:read"]}, format="json")
    data = assert_ok(response, 201)
    raw = data["key"]
    assert raw.startswith("wv_live_") and len(raw) >= 40
    assert data["prefix"] == raw[:12] and data["prefix"].startswith("wv_live_")
    assert data["scopes"] == ["devices:read"]
    assert data["status"] == "active"
    row = ApiKey.objects.get(pk=data["id"])
    assert row.tenant_id == alice.tenant.pk
    assert row.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    stored = json.dumps(model_to_dict(row), default=str)
    assert raw not in stored and raw[12:] not in stored
    # The new key works, within its scopes.
    assert_ok(keyed_client(raw).get(DEVICES))
    assert_error(keyed_client(raw).post(DEVICES, {"name": "x"}, format="json"), 403, "FORBIDDEN")


def test_key_list_never_shows_the_secret_and_only_lists_own_tenant(alice: Any, charlie: Any) -> None:
    created = assert_ok(alice.api.post(KEYS, {"name": "CI"}, format="json"), 201)
    response = alice.api.get(KEYS)
    items = assert_ok(response)
    assert created["key"].encode() not in response.content
    assert alice.raw_key.encode() not in response.content
    assert all("key" not in item and "key_hash" not in item for item in items)
    ids = {item["id"] for item in items}
    assert ids == {str(alice.key.pk), created["id"]}
    assert str(charlie.key.pk) not in ids
    assert {item["prefix"] for item in items} == {alice.raw_key[:12], created["key"][:12]}


def test_create_key_validates_its_fields(alice: Any) -> None:
    details = assert_error(
        alice.api.post(KEYS, {"scopes": ["nope:read"]}, format="json"), 400, "VALIDATION_ERROR"
    )["details"]
    assert "name" in details
    assert any(field.startswith("scopes") for field in details)
    details = assert_error(
        alice.api.post(KEYS, {"name": "x", "device_ids": ["not-a-uuid"]}, format="json"),
        400,
        "VALIDATION_ERROR",
    )["details"]
    assert any(field.startswith("device_ids") for field in details)


def test_deleting_a_key_revokes_it(alice: Any) -> None:
    created = assert_ok(alice.api.post(KEYS, {"name": "temp"}, format="json"), 201)
    assert_ok(keyed_client(created["key"]).get(DEVICES))
    data = assert_ok(alice.api.delete(f"{KEYS}/{created['id']}"))
    assert data["status"] == "revoked" and data["revoked_at"]
    assert_error(keyed_client(created["key"]).get(DEVICES), 401, "UNAUTHORIZED")
    listed = {item["id"]: item for item in assert_ok(alice.api.get(KEYS))}
    assert listed[created["id"]]["status"] == "revoked"


def test_another_tenant_cannot_revoke_or_rotate_my_key(alice: Any, charlie: Any) -> None:
    assert_error(charlie.api.delete(f"{KEYS}/{alice.key.pk}"), 404, "NOT_FOUND")
    assert_error(charlie.api.post(f"{KEYS}/{alice.key.pk}/rotate"), 404, "NOT_FOUND")
    assert_ok(alice.api.get(DEVICES))
    alice.key.refresh_from_db()
    assert alice.key.revoked_at is None


def test_rotating_a_key_makes_the_old_one_fail_and_the_new_one_work(alice: Any) -> None:
    created = assert_ok(
        alice.api.post(KEYS, {"name": "rotating", "scopes": ["devices:read"]}, format="json"), 201
    )
    rotated = assert_ok(alice.api.post(f"{KEYS}/{created['id']}/rotate"), 201)
    assert rotated["key"].startswith("wv_live_") and rotated["key"] != created["key"]
    assert rotated["id"] != created["id"]
    assert rotated["name"] == "rotating" and rotated["scopes"] == ["devices:read"]
    assert_error(keyed_client(created["key"]).get(DEVICES), 401, "UNAUTHORIZED")
    assert_ok(keyed_client(rotated["key"]).get(DEVICES))
    assert (
        ApiKey.objects.get(pk=rotated["id"]).key_hash == hashlib.sha256(rotated["key"].encode()).hexdigest()
    )


def test_last_used_at_is_recorded_when_a_key_is_used(alice: Any) -> None:
    _, raw = api_key_create(tenant=alice.tenant, name="fresh")
    key = ApiKey.objects.get(name="fresh")
    assert key.last_used_at is None
    before = timezone.now()
    assert_ok(keyed_client(raw).get(DEVICES))
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_at >= before
    listed = {item["id"]: item for item in assert_ok(alice.api.get(KEYS))}
    assert listed[str(key.pk)]["last_used_at"] is not None


def test_member_session_cannot_manage_keys_while_owner_session_can(alice: Any, bob: Any) -> None:
    bob_session = session_client(bob.user)
    assert_error(bob_session.get(KEYS), 403, "FORBIDDEN")
    assert_error(bob_session.post(KEYS, {"name": "mine"}, format="json"), 403, "FORBIDDEN")
    assert_error(bob_session.delete(f"{KEYS}/{alice.key.pk}"), 403, "FORBIDDEN")
    assert_error(bob_session.post(f"{KEYS}/{alice.key.pk}/rotate"), 403, "FORBIDDEN")
    assert not ApiKey.objects.filter(name="mine").exists()
    # ...but bob still uses the product with his session.
    assert_ok(bob_session.get(DEVICES))

    alice_session = session_client(alice.user)
    assert_ok(alice_session.get(KEYS))
    created = assert_ok(alice_session.post(KEYS, {"name": "from dashboard"}, format="json"), 201)
    assert ApiKey.objects.get(pk=created["id"]).created_by == alice.user


def test_a_key_cannot_grant_scopes_it_does_not_hold(alice: Any) -> None:
    limited = alice.client_with(scopes=["keys:write", "devices:read"])
    error = assert_error(
        limited.post(KEYS, {"name": "x", "scopes": ["messages:send"]}, format="json"), 403, "FORBIDDEN"
    )
    assert "messages:send" in error["message"]
    inherited = assert_ok(limited.post(KEYS, {"name": "y"}, format="json"), 201)
    assert sorted(inherited["scopes"]) == ["devices:read", "keys:write"]


def test_a_key_without_the_sync_flag_cannot_create_a_sync_key(alice: Any) -> None:
    response = alice.api.post(KEYS, {"name": "sync", "allow_sync_send": True}, format="json")
    assert_error(response, 403, "FORBIDDEN")
    flagged = alice.client_with(allow_sync_send=True)
    assert (
        assert_ok(flagged.post(KEYS, {"name": "sync", "allow_sync_send": True}, format="json"), 201)[
            "allow_sync_send"
        ]
        is True
    )


def test_a_weaker_key_cannot_rotate_a_stronger_key_to_obtain_its_powers(alice: Any) -> None:
    weak = alice.client_with(scopes=["keys:write"])
    assert_error(weak.post(f"{KEYS}/{alice.key.pk}/rotate"), 403, "FORBIDDEN")
    assert_ok(alice.api.get(DEVICES))  # the stronger key was not revoked either

    sync_key, _ = api_key_create(tenant=alice.tenant, name="sync", allow_sync_send=True)
    assert_error(alice.api.post(f"{KEYS}/{sync_key.pk}/rotate"), 403, "FORBIDDEN")

    # Rotating a key within one's own powers (here: itself) is fine.
    own = ApiKey.objects.filter(tenant=alice.tenant, scopes=["keys:write"]).get()
    assert assert_ok(weak.post(f"{KEYS}/{own.pk}/rotate"), 201)["scopes"] == ["keys:write"]


def test_device_ids_of_another_tenant_are_rejected_with_400(alice: Any, charlie: Any) -> None:
    theirs = DeviceFactory.create(tenant=charlie.tenant)
    ours = DeviceFactory.create(tenant=alice.tenant)
    error = assert_error(
        alice.api.post(KEYS, {"name": "x", "device_ids": [str(theirs.pk)]}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert str(theirs.pk) in json.dumps(error["details"]["device_ids"])
    assert not ApiKey.objects.filter(name="x").exists()
    created = assert_ok(alice.api.post(KEYS, {"name": "x", "device_ids": [str(ours.pk)]}, format="json"), 201)
    assert created["device_ids"] == [str(ours.pk)]


def test_a_key_restricted_to_a_device_cannot_use_another_device(alice: Any, make_device: Any) -> None:
    allowed = make_device(alice, name="Allowed")
    other = make_device(alice, name="Other")
    restricted = alice.client_with(device_ids=[allowed.pk])
    assert assert_ok(restricted.get(f"{DEVICES}/{allowed.pk}"))["id"] == str(allowed.pk)
    assert_error(restricted.get(f"{DEVICES}/{other.pk}"), 403, "FORBIDDEN")
    assert_error(
        restricted.patch(f"{DEVICES}/{other.pk}", {"name": "hijack"}, format="json"), 403, "FORBIDDEN"
    )
    assert_error(restricted.delete(f"{DEVICES}/{other.pk}"), 403, "FORBIDDEN")
    assert [d["id"] for d in assert_ok(restricted.get(DEVICES))] == [str(allowed.pk)]
    send = restricted.post(
        "/api/v1/messages/text",
        {"device_id": str(other.pk), "to": "6281234567890", "text": "hi"},
        format="json",
    )
    assert_error(send, 403, "FORBIDDEN")
    assert_error(restricted.post(DEVICES, {"name": "new"}, format="json"), 403, "FORBIDDEN")
    other.refresh_from_db()
    assert other.name == "Other" and other.deleted_at is None


def test_a_device_restricted_key_cannot_mint_an_unrestricted_key(alice: Any) -> None:
    allowed = DeviceFactory.create(tenant=alice.tenant)
    other = DeviceFactory.create(tenant=alice.tenant)
    restricted = alice.client_with(device_ids=[allowed.pk])
    assert_error(
        restricted.post(KEYS, {"name": "wider", "device_ids": [str(other.pk)]}, format="json"),
        403,
        "FORBIDDEN",
    )
    minted = assert_ok(restricted.post(KEYS, {"name": "narrow"}, format="json"), 201)
    assert minted["device_ids"] == [str(allowed.pk)]
    assert_error(keyed_client(minted["key"]).get(f"{DEVICES}/{other.pk}"), 403, "FORBIDDEN")
    # Nor rotate the tenant's unrestricted key into a secret it can read.
    assert_error(restricted.post(f"{KEYS}/{alice.key.pk}/rotate"), 403, "FORBIDDEN")


# --- management commands and the admin key --------------------------------------------------------
def test_createtenant_json_prints_tenant_owner_and_a_working_key(db: None) -> None:
    out = StringIO()
    call_command(
        "createtenant",
        "--name",
        "Acme Shop",
        "--owner-email",
        "Owner@Acme.test",
        "--owner-password",
        "s3cret-pass",
        "--json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert set(result) == {"tenant_id", "owner_email", "api_key"}
    assert result["owner_email"] == "owner@acme.test"
    assert result["api_key"].startswith("wv_live_")
    tenant = Tenant.objects.get(pk=result["tenant_id"])
    assert tenant.name == "Acme Shop"
    assert tenant.memberships.get().user.check_password("s3cret-pass")
    key = ApiKey.objects.get(tenant=tenant)
    assert key.allow_sync_send is False and "keys:write" in key.scopes
    assert_ok(keyed_client(result["api_key"]).get(DEVICES))


def test_createtenant_with_scopes_and_allow_sync(db: None) -> None:
    out = StringIO()
    call_command(
        "createtenant",
        "--name",
        "Beta",
        "--owner-email",
        "beta@example.com",
        "--owner-password",
        "pw",
        "--scopes",
        "devices:read",
        "messages:send",
        "--allow-sync",
        "--json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    key = ApiKey.objects.get(tenant_id=result["tenant_id"])
    assert sorted(key.scopes) == ["devices:read", "messages:send"]
    assert key.allow_sync_send is True
    with pytest.raises(CommandError):
        call_command(
            "createtenant",
            "--name",
            "Gamma",
            "--owner-email",
            "g@example.com",
            "--owner-password",
            "pw",
            "--scopes",
            "root:all",
            "--json",
            stdout=StringIO(),
        )


def test_admin_key_opens_health_detailed_while_a_tenant_key_gets_403(alice: Any) -> None:
    out = StringIO()
    call_command("createadminkey", "--name", "ops", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert set(result) == {"api_key"} and result["api_key"].startswith("wv_live_")
    assert ApiKey.objects.get(name="ops").is_platform_admin is True

    data = assert_ok(keyed_client(result["api_key"]).get("/health/detailed"))
    assert data["database"]["ok"] is True
    assert data["redis"]["ok"] is True
    assert {"uptime_seconds", "celery", "gowa_nodes", "devices_by_status", "memory"} <= set(data)

    assert_error(alice.api.get("/health/detailed"), 403, "FORBIDDEN")
    assert_error(APIClient().get("/health/detailed"), 401, "UNAUTHORIZED")
    # The admin key is not a tenant key.
    assert_error(keyed_client(result["api_key"]).get(DEVICES), 403, "FORBIDDEN")
