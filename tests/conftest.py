"""Shared fixtures: the three tenants (alice and bob share a team, charlie is an outsider), API
clients authenticated by key, and the GOWA simulator over real HTTP."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from rest_framework.test import APIClient

from devices.gowa_simulator import SimulatorConfig, make_server
from devices.models import Device, GowaNode
from devices.services import device_sync_from_gowa
from tenants.models import ApiKey, Membership, Tenant
from tenants.services import api_key_create

from .factories import GowaNodeFactory, MembershipFactory, TenantFactory, UserFactory

SIM_USER, SIM_PASSWORD = "wavora", "sim-password"


class Simulator:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, self.base_url + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def scan(self, device_id: object, phone: str = "6281200000001") -> Any:
        return self.control("POST", f"/_sim/devices/{device_id}/scan", json={"phone": phone})

    def sent(self) -> list[dict[str, Any]]:
        return self.control("GET", "/_sim/sent")["results"]

    def configure(self, **config: Any) -> Any:
        return self.control("POST", "/_sim/config", json=config)


@pytest.fixture(scope="session")
def gowa_sim() -> Iterator[Simulator]:
    config = SimulatorConfig(
        basic_auth=[(SIM_USER, SIM_PASSWORD)], ack_delivered_after_ms=-1, ack_read_after_ms=-1
    )
    server = make_server("127.0.0.1", 0, config)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield Simulator(f"http://127.0.0.1:{port}")
    server.shutdown()
    server.server_close()


@pytest.fixture
def sim(gowa_sim: Simulator) -> Iterator[Simulator]:
    gowa_sim.control("POST", "/_sim/reset")
    gowa_sim.configure(ack_delivered_after_ms=-1, ack_read_after_ms=-1)
    yield gowa_sim


@pytest.fixture
def gowa_node(db: None, sim: Simulator) -> GowaNode:
    return GowaNodeFactory.create(
        name="sim-node", base_url=sim.base_url, basic_auth_username=SIM_USER, basic_auth_password=SIM_PASSWORD
    )


@dataclass
class Actor:
    user: Any
    tenant: Tenant
    key: ApiKey
    raw_key: str
    api: APIClient

    def client_with(self, **key_options: Any) -> APIClient:
        """A client holding a new key of this tenant (e.g. with fewer scopes)."""
        _, raw = api_key_create(tenant=self.tenant, name="test key", **key_options)
        return keyed_client(raw)


def keyed_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def _actor(email: str, tenant: Tenant, role: str) -> Actor:
    user = UserFactory(username=email)
    MembershipFactory(user=user, tenant=tenant, role=role)
    key, raw = api_key_create(tenant=tenant, name=f"{email} key")
    return Actor(user=user, tenant=tenant, key=key, raw_key=raw, api=keyed_client(raw))


@pytest.fixture
def alice(db: None) -> Actor:
    return _actor(
        "alice@example.com", TenantFactory.create(name="Alice Co", slug="alice-co"), Membership.Role.OWNER
    )


@pytest.fixture
def bob(alice: Actor) -> Actor:
    """In Alice's team, as a plain member."""
    return _actor("bob@example.com", alice.tenant, Membership.Role.MEMBER)


@pytest.fixture
def charlie(db: None) -> Actor:
    """Another tenant entirely."""
    return _actor(
        "charlie@example.com",
        TenantFactory.create(name="Charlie Co", slug="charlie-co"),
        Membership.Role.OWNER,
    )


@pytest.fixture
def make_device(gowa_node: GowaNode, sim: Simulator) -> Any:
    """Creates a device through the API (a real GOWA slot on the simulator); ``connected=True`` pairs it."""

    def make(
        actor: Actor,
        *,
        name: str = "Shop phone",
        connected: bool = False,
        phone: str = "6281200000001",
        **settings: Any,
    ) -> Device:
        response = actor.api.post("/api/v1/devices", {"name": name, **settings}, format="json")
        assert response.status_code == 201, response.content
        device = Device.objects.get(pk=response.json()["data"]["id"])
        if connected:
            sim.scan(device.pk, phone=phone)
            device = device_sync_from_gowa(device=device)
            assert device.status == Device.Status.CONNECTED
        return device

    return make


def pytest_configure(config: pytest.Config) -> None:
    # Every request our GOWA client makes (in this process and in the e2e subprocesses, which
    # inherit the environment) is appended here and checked against GOWA's openapi.yaml at the end.
    if "GOWA_CONTRACT_LOG" not in os.environ:
        os.environ["GOWA_CONTRACT_LOG"] = str(
            Path(tempfile.mkdtemp(prefix="wavora-gowa-")) / "requests.jsonl"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The contract check reads what the rest of the suite sent, so it runs last.
    items.sort(key=lambda item: item.get_closest_marker("gowa_contract") is not None)
