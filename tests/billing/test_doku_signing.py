"""DOKU signing and verification, against values computed by hand with openssl:

    BODY='{"order":{"invoice_number":"INV-1","amount":150000}}'
    printf %s "$BODY" | openssl dgst -sha256 -binary | base64
    printf 'Client-Id:MCH-0001-1\\nRequest-Id:req-1\\nRequest-Timestamp:2026-11-22T01:00:00Z\\n'\\
'Request-Target:/webhook/payment/doku\\nDigest:%s' "$DIGEST" \\
        | openssl dgst -sha256 -hmac SK-secret -binary | base64
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from billing import doku

BODY = b'{"order":{"invoice_number":"INV-1","amount":150000}}'
DIGEST = "teqHz5VNH5fsFc0RBWfuKMVCMWwBl4aVB1NM6qDaoRE="
SIGNATURE = "HMACSHA256=EnV1xxXDAXXh0h1o0EVGvWSgvdMLaOxT8C2czLYWwrs="
HEADERS = {
    "Client-Id": "MCH-0001-1",
    "Request-Id": "req-1",
    "Request-Timestamp": "2026-11-22T01:00:00Z",
    "Signature": SIGNATURE,
}


def test_digest_is_base64_sha256_of_the_raw_body() -> None:
    assert doku.digest(BODY) == DIGEST


def test_signature_matches_the_hand_computed_vector() -> None:
    assert (
        doku.sign(
            secret_key="SK-secret",
            client_id="MCH-0001-1",
            request_id="req-1",
            timestamp="2026-11-22T01:00:00Z",
            target="/webhook/payment/doku",
            body=BODY,
        )
        == SIGNATURE
    )


def test_verify_accepts_the_genuine_notification_with_any_header_case() -> None:
    lower = {name.lower(): value for name, value in HEADERS.items()}
    for headers in (HEADERS, lower):
        assert doku.verify(secret_key="SK-secret", headers=headers, target="/webhook/payment/doku", body=BODY)


@pytest.mark.parametrize(
    "change",
    [
        {"body": BODY.replace(b"150000", b"1500")},
        {"target": "/other/path"},
        {"secret_key": "SK-other"},
        {"headers": {**HEADERS, "Request-Id": "req-2"}},
        {"headers": {**HEADERS, "Signature": "HMACSHA256=" + "A" * 44}},
        {"headers": {k: v for k, v in HEADERS.items() if k != "Signature"}},
        {"secret_key": ""},
    ],
)
def test_verify_refuses_any_change(change: dict[str, Any]) -> None:
    arguments = {
        "secret_key": "SK-secret",
        "headers": HEADERS,
        "target": "/webhook/payment/doku",
        "body": BODY,
    }
    assert not doku.verify(**{**arguments, **change})


def test_parse_notification_reads_reference_amount_and_status() -> None:
    body = doku.notification_body(
        invoice_number="INV-1-AB", amount=166_500, status="SUCCESS", original_request_id="r"
    )
    parsed = doku.parse_notification(body)
    assert (parsed.invoice_number, parsed.amount, parsed.status) == ("INV-1-AB", 166_500, "SUCCESS")
    with pytest.raises(doku.DokuError):
        doku.parse_notification(b'{"order": {}}')
    with pytest.raises(doku.DokuError):
        doku.parse_notification(b"not json")
    for amount in (-1, 10**19, "abc"):
        bad = json.dumps(
            {"order": {"invoice_number": "X", "amount": amount}, "transaction": {"status": "SUCCESS"}}
        )
        with pytest.raises(doku.DokuError):
            doku.parse_notification(bad.encode())


class _FakeDoku(BaseHTTPRequestHandler):
    """Answers like DOKU Checkout after checking the signature the way DOKU does."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        ok = doku.verify(secret_key="SK-merchant", headers=dict(self.headers), target=self.path, body=raw)
        self.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw), "ok": ok}
        )
        payload = {
            "message": ["SUCCESS"],
            "response": {
                "order": json.loads(raw)["order"],
                "payment": {
                    "url": "https://sandbox.doku.com/checkout/link/abc123",
                    "token_id": "abc123",
                    "expired_date": "20261122090000",
                },
            },
        }
        data = json.dumps(payload).encode() if ok else b'{"error": {"message": "Invalid Signature"}}'
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_doku() -> Any:
    _FakeDoku.received = []
    server = HTTPServer(("127.0.0.1", 0), _FakeDoku)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_checkout_request_is_signed_for_the_checkout_path_and_returns_the_payment_url(fake_doku: str) -> None:
    client = doku.DokuClient(base_url=fake_doku, client_id="MCH-0001-1", secret_key="SK-merchant")
    body = doku.checkout_body(
        invoice_number="INV-202611-000001-AB12",
        amount=166_500,
        due_minutes=60,
        callback_url="https://app.example/dashboard/billing/",
    )
    session = client.create_checkout(body)
    assert session.url == "https://sandbox.doku.com/checkout/link/abc123"
    [request] = _FakeDoku.received
    assert request["ok"] is True
    assert request["path"] == "/checkout/v1/payment"
    assert request["headers"]["Client-Id"] == "MCH-0001-1"
    assert request["headers"]["Request-Id"] == session.request_id
    assert request["body"]["order"] == {
        "amount": 166_500,
        "invoice_number": "INV-202611-000001-AB12",
        "currency": "IDR",
        "callback_url": "https://app.example/dashboard/billing/",
        "auto_redirect": True,
    }
    assert request["body"]["payment"] == {"payment_due_date": 60}


def test_a_refused_checkout_raises_doku_error(fake_doku: str) -> None:
    client = doku.DokuClient(base_url=fake_doku, client_id="MCH-0001-1", secret_key="SK-wrong")
    with pytest.raises(doku.DokuError, match="400"):
        client.create_checkout(
            doku.checkout_body(invoice_number="X", amount=1, due_minutes=60, callback_url="https://a/")
        )
