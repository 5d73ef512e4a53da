"""Every request our GOWA client makes must be valid against GOWA's own openapi.yaml (NOTES §9).

The spec marks few fields as required, so required fields are asserted in the client tests; this
catches wrong paths, methods, content types, parameters and field types."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.deserializing.media_types.util import data_form_loads

from devices.gowa import GowaClient, GowaError
from devices.models import GowaNode

from .conftest import Simulator

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "gowa" / "openapi.yaml"
SPEC_SERVER = "http://localhost:3000"

pytestmark = pytest.mark.gowa_contract


def _form_as_go_binds_it(value: bytes, **parameters: str) -> Any:
    """Multipart values are strings on the wire; GOWA's form binding parses ``true``/``false`` and
    numbers into its typed fields. openapi-core does not, so coerce them the same way first."""
    coerced: dict[str, Any] = {}
    for key, item in dict(data_form_loads(value, **parameters)).items():
        text = item.decode(errors="replace") if isinstance(item, bytes) and len(item) < 16 else None
        if text in ("true", "false"):
            coerced[key] = text == "true"
        elif key in ("duration", "max_answer") and text is not None and text.isdigit():
            coerced[key] = int(text)
        else:
            coerced[key] = item
    return coerced


def _openapi() -> OpenAPI:
    if not SPEC_PATH.exists():
        pytest.skip(f"GOWA contract file {SPEC_PATH} is absent: cannot check requests against GOWA's spec")
    spec = yaml.safe_load(SPEC_PATH.read_text())
    spec["servers"] = [{"url": SPEC_SERVER}]
    config = Config(extra_media_type_deserializers={"multipart/form-data": _form_as_go_binds_it})
    return OpenAPI.from_dict(spec, config=config)


def _as_spec_request(entry: dict[str, Any]) -> RequestsOpenAPIRequest:
    _, _, path, query, _ = urlsplit(entry["url"])
    url = urlunsplit(("http", "localhost:3000", path, query, ""))
    headers = {"Content-Type": entry["content_type"]} if entry["content_type"] else {}
    headers.update(entry["headers"])
    headers["Authorization"] = "Basic " + base64.b64encode(b"user:pass").decode()
    prepared = requests.Request(
        entry["method"], url, headers=headers, data=base64.b64decode(entry["body"]) or None
    ).prepare()
    return RequestsOpenAPIRequest(prepared)


def _logged_requests() -> list[dict[str, Any]]:
    path = Path(os.environ["GOWA_CONTRACT_LOG"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_gowa_request_of_the_suite_matches_gowas_openapi_spec(
    gowa_node: GowaNode, sim: Simulator
) -> None:
    openapi = _openapi()
    # Exercise every client call once here too, so the check covers the whole adapter even alone.
    client = GowaClient(gowa_node)
    client.create_device("contract-dev", webhook_url="http://127.0.0.1:9/cb", webhook_secret="s")
    client.list_devices()
    client.get_device("contract-dev")
    client.device_status("contract-dev")
    client.login_qr("contract-dev")
    client.login_code("contract-dev", "6281234567890")
    sim.scan("contract-dev")
    client.send(
        "contract-dev",
        "/send/message",
        fields={"phone": "6281234567891", "message": "hi", "reply_message_id": "3EB0ABCDEF"},
    )
    client.chat_presence("contract-dev", phone="6281234567891", action="start")
    client.reconnect("contract-dev")
    client.logout("contract-dev")
    with contextlib.suppress(GowaError):  # whichever way it answers, the request is what we check
        client.delete_device("contract-dev")
    client.app_info()

    logged = _logged_requests()
    assert len(logged) >= 12
    problems = []
    for entry in logged:
        try:
            openapi.validate_request(_as_spec_request(entry))
        except Exception as exc:  # collect them all for one readable failure
            problems.append(f"{entry['method']} {urlsplit(entry['url']).path}: {type(exc).__name__}: {exc}")
    assert not problems, "Requests not valid against GOWA's openapi.yaml:\n" + "\n".join(
        sorted(set(problems))
    )
    assert all(
        e["headers"].get("X-Device-Id") for e in logged if urlsplit(e["url"]).path.startswith("/send/")
    )
