"""Behaviour of the GOWA v9.2 simulator (devices/gowa_simulator.py), exercised over real HTTP.

Each test starts its own simulator on a free port in a background thread; no Django or database is needed.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from devices.gowa_simulator import SimulatorConfig, add_arguments, config_from_options, make_server

AUTH = ("wavora", "s3cret")


class Sim:
    """A running simulator plus small request helpers."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None) -> None:
        self.base_url = base_url
        self.auth = auth

    def call(self, method: str, path: str, device: str | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if device is not None:
            headers["X-Device-Id"] = device
        kwargs.setdefault("auth", self.auth)
        return requests.request(method, self.base_url + path, headers=headers, timeout=5, **kwargs)

    def control(self, path: str, payload: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(self.base_url + "/_sim" + path, json=payload or {}, timeout=5)

    def paired_device(self, device_id: str, phone: str = "6281200000001") -> None:
        assert self.call("POST", "/devices", json={"device_id": device_id}).status_code == 200
        assert self.control(f"/devices/{device_id}/scan", {"phone": phone}).status_code == 200


StartSim = Callable[..., Sim]


@pytest.fixture
def start_sim() -> Iterator[StartSim]:
    servers = []

    def start(auth: tuple[str, str] | None = AUTH, **overrides: Any) -> Sim:
        config = SimulatorConfig(basic_auth=[auth] if auth else [], **overrides)
        server = make_server("127.0.0.1", 0, config)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Sim(f"http://127.0.0.1:{server.server_address[1]}", auth)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Receiver:
    """A tiny webhook endpoint that records raw bodies and headers."""

    def __init__(self) -> None:
        self.hits: list[tuple[dict[str, str], bytes]] = []
        self.failures_left = 0  # answer 500 this many times before accepting
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._changed:
                    receiver.hits.append((dict(self.headers.items()), raw))
                    receiver._changed.notify_all()
                    status = 500 if receiver.failures_left > 0 else 200
                    receiver.failures_left -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        serve.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.hits) >= count, timeout)
            return list(self.hits)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def signature_ok(headers: dict[str, str], raw: bytes, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Hub-Signature-256"], expected)


# --- API auth and envelope ----------------------------------------------------------------------------------
def test_missing_or_wrong_basic_auth_gets_fibers_plain_text_401(start_sim: StartSim) -> None:
    sim = start_sim()
    for auth in (None, ("wavora", "wrong"), ("nobody", "s3cret")):
        response = sim.call("GET", "/devices", auth=auth)
        assert response.status_code == 401
        assert response.text == "Unauthorized"
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="Restricted"')
    assert sim.call("GET", "/devices").status_code == 200


def test_health_statics_and_control_api_need_no_auth(start_sim: StartSim) -> None:
    sim = start_sim()
    health = requests.get(sim.base_url + "/health", timeout=5)
    assert (health.status_code, health.text) == (200, "OK")
    assert requests.get(sim.base_url + "/_sim/sent", timeout=5).status_code == 200


def test_without_configured_basic_auth_the_api_is_open(start_sim: StartSim) -> None:
    sim = start_sim(auth=None)
    assert requests.get(sim.base_url + "/devices", timeout=5).status_code == 200


def test_empty_device_list_omits_results_and_codes_are_strings(start_sim: StartSim) -> None:
    sim = start_sim()
    body = sim.call("GET", "/devices").json()
    assert body == {"code": "SUCCESS", "message": "List devices"}
    info = sim.call("GET", "/app/info").json()["results"]
    assert info["version"] == "v9.2.0"
    assert info["chatwoot_enabled"] is False


def test_unknown_path_is_a_plain_text_404(start_sim: StartSim) -> None:
    response = start_sim().call("GET", "/nope")
    assert (response.status_code, response.text) == (404, "Cannot GET /nope")


# --- device management ----------------------------------------------------------------------------------
def test_created_device_is_listed_and_an_unknown_id_answers_500(start_sim: StartSim) -> None:
    sim = start_sim()
    created = sim.call("POST", "/devices", json={"device_id": "org_1"}).json()["results"]
    assert created["id"] == "org_1"
    assert created["state"] == "disconnected"
    assert created["jid"] == ""

    listed = sim.call("GET", "/devices").json()["results"]
    assert [device["id"] for device in listed] == ["org_1"]
    assert "jid" not in listed[0]  # omitempty until paired

    missing = sim.call("GET", "/devices/ghost")
    assert missing.status_code == 500
    assert missing.json() == {"code": "INTERNAL_SERVER_ERROR", "message": "device ghost not found"}


def test_creating_a_duplicate_device_answers_500_and_omitted_id_gets_a_uuid(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.call("POST", "/devices", json={"device_id": "org_1"})
    duplicate = sim.call("POST", "/devices", json={"device_id": "org_1"})
    assert duplicate.status_code == 500
    assert duplicate.json()["message"] == "device org_1 already exists"
    generated = sim.call("POST", "/devices", json={}).json()["results"]["id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", generated)


def test_qr_login_serves_a_512px_png_that_is_deleted_after_qr_duration(start_sim: StartSim) -> None:
    sim = start_sim(auth=None, qr_duration=1)
    sim.call("POST", "/devices", json={"device_id": "org_1"})
    results = sim.call("GET", "/devices/org_1/login").json()["results"]
    assert results["qr_duration"] == 1
    link_pattern = r"http://127\.0\.0\.1:\d+/statics/qrcode/scan-qr-[0-9a-f-]{36}\.png"
    assert re.fullmatch(link_pattern, results["qr_link"])

    png = requests.get(results["qr_link"], timeout=5)
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")
    assert int.from_bytes(png.content[16:20], "big") == 512  # IHDR width

    assert sim.call("GET", "/devices/org_1").json()["results"]["state"] == "connected"
    time.sleep(1.3)
    assert requests.get(results["qr_link"], timeout=5).status_code == 404


def test_login_on_a_paired_device_answers_already_logged_in(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1")
    response = sim.call("GET", "/devices/org_1/login")
    assert response.status_code == 400
    assert response.json()["code"] == "ALREADY_LOGGED_IN"


def test_pair_code_login_validates_the_query_phone_and_auto_scan_pairs(start_sim: StartSim) -> None:
    sim = start_sim(auto_scan_after=0.2)
    sim.call("POST", "/devices", json={"device_id": "org_1"})
    bad = sim.call("POST", "/devices/org_1/login/code", params={"phone": "62-812"})
    assert (bad.status_code, bad.json()["code"]) == (400, "VALIDATION_ERROR")

    code = sim.call("POST", "/devices/org_1/login/code", params={"phone": "+628123450000"}).json()["results"]
    assert re.fullmatch(r"[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}", code["pair_code"])
    assert sim.call("GET", "/devices/org_1/status").json()["results"]["is_logged_in"] is False

    time.sleep(0.5)
    status = sim.call("GET", "/devices/org_1/status").json()["results"]
    assert status == {"device_id": "org_1", "is_connected": True, "is_logged_in": True}
    device = sim.call("GET", "/devices/org_1").json()["results"]
    assert (device["state"], device["jid"]) == ("logged_in", "628123450000@s.whatsapp.net")


def test_logout_keeps_the_slot_but_clears_the_session(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1")
    logout = sim.call("POST", "/devices/org_1/logout")
    assert logout.json() == {"code": "SUCCESS", "message": "Logout requested"}
    device = sim.call("GET", "/devices/org_1").json()["results"]
    assert device["state"] == "disconnected"
    assert "jid" not in device
    reconnect = sim.call("POST", "/devices/org_1/reconnect")
    assert reconnect.status_code == 500


# --- device selection on scoped routes ------------------------------------------------------------------
def test_scoped_routes_pick_the_device_from_header_query_or_the_only_slot(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1", "6281200000001")
    assert sim.call("GET", "/app/status").json()["results"]["device_id"] == "org_1"  # the only device

    sim.paired_device("org_2", "6281200000002")
    required = sim.call("GET", "/app/status")
    assert (required.status_code, required.json()["code"]) == (400, "DEVICE_ID_REQUIRED")

    assert sim.call("GET", "/app/status", device="org_2").json()["results"]["device_id"] == "org_2"
    lower_case = sim.call("GET", "/app/status", headers={"x-device-id": "org_1"})
    assert lower_case.json()["results"]["device_id"] == "org_1"
    by_query = sim.call("GET", "/app/status", params={"device_id": "org_1"})
    assert by_query.json()["results"]["device_id"] == "org_1"
    by_jid = sim.call("GET", "/app/status", device="6281200000002%40s.whatsapp.net")
    assert by_jid.json()["results"]["device_id"] == "org_2"

    unknown = sim.call("GET", "/app/status", device="ghost")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "DEVICE_NOT_FOUND"
    assert unknown.json()["results"] == {"device_id": "ghost"}


# --- sends ----------------------------------------------------------------------------------------------
def test_send_before_pairing_answers_authentication_error(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.call("POST", "/devices", json={"device_id": "org_1"})
    never_logged_in = sim.call("POST", "/send/message", "org_1", json={"phone": "628123", "message": "hi"})
    assert (never_logged_in.status_code, never_logged_in.json()["code"]) == (500, "INVALID_WA_CLI")

    sim.call("GET", "/devices/org_1/login")  # QR shown, not scanned yet
    response = sim.call("POST", "/send/message", "org_1", json={"phone": "628123456789", "message": "hi"})
    assert response.status_code == 401
    assert response.json() == {"code": "AUTHENTICATION_ERROR", "message": "you are not logged in"}


def test_text_send_after_scan_returns_a_whatsapp_id_and_is_recorded(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1")
    response = sim.call("POST", "/send/message", "org_1", json={"phone": "+628123456789", "message": "hello"})
    assert response.status_code == 200
    body = response.json()
    results = body["results"]
    assert re.fullmatch(r"3EB0[0-9A-F]{18}", results["message_id"])
    assert re.fullmatch(
        r"Message sent to \+628123456789@s\.whatsapp\.net \(server timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
        r"\+0000 UTC\)",
        results["status"],
    )
    assert body["message"] == results["status"]

    sent = requests.get(f"{sim.base_url}/_sim/sent?device_id=org_1", timeout=5).json()["results"]
    assert [(item["path"], item["message_id"], item["fields"]["message"]) for item in sent] == [
        ("/send/message", results["message_id"], "hello")
    ]
    messages = sim.call("GET", "/chat/628123456789@s.whatsapp.net/messages", "org_1").json()["results"]
    assert [message["content"] for message in messages["data"]] == ["hello"]


def test_phone_with_a_leading_zero_is_a_validation_error(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1")
    response = sim.call("POST", "/send/message", "org_1", json={"phone": "08123456789", "message": "hi"})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    blank = sim.call("POST", "/send/message", "org_1", json={"phone": "", "message": ""})
    assert blank.json()["message"] == "message: cannot be blank; phone: cannot be blank."
    duration = sim.call(
        "POST", "/send/message", "org_1", json={"phone": "628123", "message": "x", "duration": 5}
    )
    assert duration.json()["code"] == "VALIDATION_ERROR"


def test_number_registered_as_not_on_whatsapp_answers_invalid_jid(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1")
    sim.control("/not-on-whatsapp", {"phones": ["+628999000111"]})
    response = sim.call("POST", "/send/message", "org_1", json={"phone": "628999000111", "message": "hi"})
    assert response.status_code == 400
    assert response.json() == {
        "code": "INVALID_JID",
        "message": "Phone 628999000111@s.whatsapp.net is not on whatsapp",
    }
    check = sim.call("GET", "/user/check", "org_1", params={"phone": "628999000111"}).json()["results"]
    assert check == {"is_on_whatsapp": False}
    assert sim.call("GET", "/user/check", "org_1", params={"phone": "628123456789"}).json()["results"] == {
        "is_on_whatsapp": True
    }


def test_reachout_timelock_makes_sends_answer_429(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1")
    config = sim.control("/config", {"reachout_timelock": True}).json()["results"]
    assert config["reachout_timelock"] is True
    response = sim.call("POST", "/send/message", "org_1", json={"phone": "628123456789", "message": "hi"})
    assert response.status_code == 429
    assert response.json()["code"] == "WA_REACHOUT_TIMELOCK"


def test_dead_session_reports_connected_but_sends_fail(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1")
    sim.control("/devices/org_1/dead", {"dead": True})
    status = sim.call("GET", "/devices/org_1/status").json()["results"]
    assert (status["is_connected"], status["is_logged_in"]) == (True, True)
    response = sim.call("POST", "/send/message", "org_1", json={"phone": "628123456789", "message": "hi"})
    assert (response.status_code, response.json()["code"]) == (401, "AUTHENTICATION_ERROR")


def test_multipart_image_send_records_fields_and_file_metadata(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.paired_device("org_1")
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    fields = {"phone": "628123456789", "caption": "look", "view_once": "false"}
    response = sim.call(
        "POST", "/send/image", "org_1", data=fields, files={"image": ("photo.png", image, "image/png")}
    )
    assert response.status_code == 200, response.text
    sent = requests.get(sim.base_url + "/_sim/sent", timeout=5).json()["results"][-1]
    assert sent["path"] == "/send/image"
    assert sent["fields"] == fields
    assert sent["files"] == {
        "image": {"filename": "photo.png", "content_type": "image/png", "size": len(image)}
    }

    wrong_type = sim.call(
        "POST",
        "/send/image",
        "org_1",
        data={"phone": "628123456789"},
        files={"image": ("notes.txt", b"hello", "text/plain")},
    )
    assert wrong_type.json() == {
        "code": "VALIDATION_ERROR",
        "message": "your image is not allowed. please use jpg/jpeg/png",
    }


# --- webhooks -------------------------------------------------------------------------------------------
def test_sent_message_gets_signed_delivered_then_read_receipts(
    start_sim: StartSim, receiver: Receiver
) -> None:
    sim = start_sim(
        webhooks=[receiver.url], webhook_secret="hush", ack_delivered_after_ms=50, ack_read_after_ms=150
    )
    sim.paired_device("org_1", "6281200000001")
    message_id = sim.call(
        "POST", "/send/message", "org_1", json={"phone": "628123456789", "message": "hi"}
    ).json()["results"]["message_id"]

    hits = receiver.wait_for(2)
    assert len(hits) == 2
    events = []
    for headers, raw in hits:
        assert headers["Content-Type"] == "application/json"
        assert signature_ok(headers, raw, "hush")
        events.append(json.loads(raw))
    events.sort(key=lambda event: event["payload"]["receipt_type"])  # delivery threads may race
    assert [event["payload"]["receipt_type"] for event in events] == ["delivered", "read"]
    delivered = events[0]
    assert delivered["event"] == "message.ack"
    assert delivered["device_id"] == "6281200000001@s.whatsapp.net"
    assert delivered["session_id"] == "org_1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", delivered["timestamp"])
    assert delivered["payload"]["ids"] == [message_id]
    assert delivered["payload"]["chat_id"] == delivered["payload"]["from"] == "628123456789@s.whatsapp.net"
    assert delivered["payload"]["receipt_type_description"].startswith("means the message was delivered")


def test_paired_device_webhook_url_and_secret_override_the_global_ones(
    start_sim: StartSim, receiver: Receiver
) -> None:
    sim = start_sim(webhooks=["http://127.0.0.1:9/unused"], ack_delivered_after_ms=20, ack_read_after_ms=-1)
    sim.call(
        "POST",
        "/devices",
        json={"device_id": "org_1", "webhook_url": receiver.url, "webhook_secret": "per-device"},
    )
    sim.control("/devices/org_1/scan", {"phone": "6281200000001"})
    sim.call("POST", "/send/message", "org_1", json={"phone": "628123456789", "message": "hi"})
    headers, raw = receiver.wait_for(1)[0]
    assert signature_ok(headers, raw, "per-device")
    assert json.loads(raw)["payload"]["receipt_type"] == "delivered"


def test_inbound_message_is_forwarded_as_a_message_webhook(start_sim: StartSim, receiver: Receiver) -> None:
    sim = start_sim(webhooks=[receiver.url])
    sim.paired_device("org_1", "6281200000001")
    text_id = sim.control("/devices/org_1/inbound", {"from": "628777000111", "name": "Ani", "text": "halo"})
    image = sim.control("/devices/org_1/inbound", {"from": "628777000111", "image": {"caption": "see"}})
    image_id = image.json()["results"]["message_id"]

    hits = receiver.wait_for(2)
    assert all(signature_ok(headers, raw, "secret") for headers, raw in hits)  # GOWA's default secret
    events = {event["payload"]["id"]: event for event in (json.loads(raw) for _, raw in hits)}
    text_event = events[text_id.json()["results"]["message_id"]]
    assert text_event["event"] == "message"
    assert text_event["device_id"] == "6281200000001@s.whatsapp.net"
    assert text_event["session_id"] == "org_1"
    assert "timestamp" not in text_event  # message events carry it in the payload
    payload = text_event["payload"]
    assert payload["body"] == "halo"
    assert payload["from"] == payload["chat_id"] == "628777000111@s.whatsapp.net"
    assert (payload["from_name"], payload["is_from_me"]) == ("Ani", False)

    image_payload = events[image_id]["payload"]
    assert image_payload["body"] == "see"
    assert image_payload["image"]["caption"] == "see"
    assert re.fullmatch(r"statics/media/\d+-[0-9a-f-]{36}\.jpeg", image_payload["image"]["path"])
    media = requests.get(f"{sim.base_url}/{image_payload['image']['path']}", timeout=5)
    assert media.status_code == 200
    assert media.content


def test_failed_webhook_delivery_is_retried_until_a_2xx(start_sim: StartSim, receiver: Receiver) -> None:
    receiver.failures_left = 2
    sim = start_sim(webhooks=[receiver.url], webhook_retry_delays=(0.05, 0.05, 0.05, 0.05))
    sim.paired_device("org_1")
    sim.control("/devices/org_1/inbound", {"from": "628777000111", "text": "again?"})
    hits = receiver.wait_for(3)
    assert len(hits) == 3
    assert len({raw for _, raw in hits}) == 1  # the same signed body every attempt
    time.sleep(0.2)
    deliveries = requests.get(sim.base_url + "/_sim/webhooks", timeout=5).json()["results"]
    assert [(item["outcome"], item["attempts"]) for item in deliveries] == [("delivered", 3)]


def test_command_line_options_build_the_simulator_config() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = vars(
        parser.parse_args(
            [
                "--basic-auth",
                "a:1,b:2",
                "--webhook",
                "http://x/h1,http://y/h2",
                "--auto-scan-after",
                "3",
                "--ack-read-after-ms",
                "-1",
            ]
        )
    )
    config = config_from_options(options)
    assert config.basic_auth == [("a", "1"), ("b", "2")]
    assert config.webhooks == ["http://x/h1", "http://y/h2"]
    assert (config.webhook_secret, config.auto_scan_after, config.ack_read_after_ms) == ("secret", 3.0, -1)
    with pytest.raises(ValueError):
        config_from_options({**options, "basic_auth": "no-colon"})
