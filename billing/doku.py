"""DOKU Checkout adapter (non-SNAP, ``/checkout/v1/payment``) and its HTTP notification.

Request and notification carry the same four headers — ``Client-Id``, ``Request-Id``,
``Request-Timestamp`` and ``Signature: HMACSHA256=<base64 HMAC-SHA256>`` — over the component string

    Client-Id:<id>\\nRequest-Id:<id>\\nRequest-Timestamp:<ts>\\nRequest-Target:<path>\\nDigest:<digest>

where Digest is base64(SHA-256(raw body)) and Request-Target the path of the URL (ours for a
notification). The signing, verification and parsing functions are pure; ``DokuClient`` is the
only place that talks to DOKU."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

logger = logging.getLogger(__name__)

CHECKOUT_PATH = "/checkout/v1/payment"
SIGNATURE_PREFIX = "HMACSHA256="


class DokuError(Exception):
    pass


def digest(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def component(*, client_id: str, request_id: str, timestamp: str, target: str, body: bytes | None) -> str:
    parts = [
        f"Client-Id:{client_id}",
        f"Request-Id:{request_id}",
        f"Request-Timestamp:{timestamp}",
        f"Request-Target:{target}",
    ]
    if body is not None:  # GET requests (status checks) have no Digest line
        parts.append(f"Digest:{digest(body)}")
    return "\n".join(parts)


def sign(
    *, secret_key: str, client_id: str, request_id: str, timestamp: str, target: str, body: bytes | None
) -> str:
    text = component(
        client_id=client_id, request_id=request_id, timestamp=timestamp, target=target, body=body
    )
    mac = hmac.new(secret_key.encode(), text.encode(), hashlib.sha256).digest()
    return SIGNATURE_PREFIX + base64.b64encode(mac).decode()


def verify(*, secret_key: str, headers: dict[str, str], target: str, body: bytes) -> bool:
    """True when ``headers`` (case-insensitive names) carry DOKU's valid signature of ``body``."""
    lower = {name.lower(): value for name, value in headers.items()}
    client_id = lower.get("client-id", "")
    request_id = lower.get("request-id", "")
    timestamp = lower.get("request-timestamp", "")
    given = lower.get("signature", "")
    if not (secret_key and client_id and request_id and timestamp and given):
        return False
    expected = sign(
        secret_key=secret_key,
        client_id=client_id,
        request_id=request_id,
        timestamp=timestamp,
        target=target,
        body=body,
    )
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def timestamp_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_headers(
    *,
    secret_key: str,
    client_id: str,
    target: str,
    body: bytes,
    request_id: str | None = None,
    timestamp: str | None = None,
) -> dict[str, str]:
    request_id = request_id or str(uuid.uuid4())
    timestamp = timestamp or timestamp_now()
    return {
        "Client-Id": client_id,
        "Request-Id": request_id,
        "Request-Timestamp": timestamp,
        "Signature": sign(
            secret_key=secret_key,
            client_id=client_id,
            request_id=request_id,
            timestamp=timestamp,
            target=target,
            body=body,
        ),
    }


def checkout_body(
    *,
    invoice_number: str,
    amount: int,
    due_minutes: int,
    callback_url: str,
    customer_name: str = "",
    customer_email: str = "",
    line_items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Checkout request: ``order.invoice_number`` is our payment's external reference."""
    order: dict[str, Any] = {
        "amount": amount,
        "invoice_number": invoice_number,
        "currency": "IDR",
        "callback_url": callback_url,
        "auto_redirect": True,
    }
    if line_items:
        order["line_items"] = line_items
    body: dict[str, Any] = {"order": order, "payment": {"payment_due_date": due_minutes}}
    customer = {k: v for k, v in (("name", customer_name), ("email", customer_email)) if v}
    if customer:
        body["customer"] = customer
    return body


@dataclass(frozen=True)
class CheckoutSession:
    url: str
    token_id: str
    request_id: str
    expires: str


def parse_checkout_response(payload: Any) -> tuple[str, str, str]:
    """``(payment.url, payment.token_id, payment.expired_date)`` from DOKU's answer."""
    try:
        payment = payload["response"]["payment"]
        url = str(payment["url"])
    except (KeyError, TypeError) as exc:
        raise DokuError(f"unexpected DOKU checkout response: {str(payload)[:200]}") from exc
    return url, str(payment.get("token_id", "")), str(payment.get("expired_date", ""))


@dataclass(frozen=True)
class Notification:
    invoice_number: str
    amount: int
    status: str  # SUCCESS, FAILED, EXPIRED …
    channel: str
    transaction_date: str


def parse_notification(body: bytes) -> Notification:
    try:
        payload = json.loads(body)
        order = payload["order"]
        transaction = payload["transaction"]
        invoice_number = str(order["invoice_number"])
        amount = int(order["amount"])
        status = str(transaction["status"]).upper()
    except (ValueError, KeyError, TypeError) as exc:
        raise DokuError("not a DOKU payment notification") from exc
    if not 0 <= amount < 10**15 or len(invoice_number) > 128:
        raise DokuError("order.amount or order.invoice_number out of range")
    channel = payload.get("channel") or payload.get("service") or {}
    return Notification(
        invoice_number=invoice_number,
        amount=amount,
        status=status,
        channel=str(channel.get("id", "")) if isinstance(channel, dict) else "",
        transaction_date=str(transaction.get("date", "")),
    )


def notification_body(*, invoice_number: str, amount: int, status: str, original_request_id: str) -> bytes:
    """A Checkout notification as DOKU sends it (used by the dev sandbox)."""
    payload = {
        "service": {"id": "CHECKOUT"},
        "acquirer": {"id": "SANDBOX"},
        "channel": {"id": "WAVORA_SANDBOX"},
        "order": {"invoice_number": invoice_number, "amount": amount},
        "transaction": {
            "status": status,
            "date": timestamp_now(),
            "original_request_id": original_request_id,
        },
    }
    return json.dumps(payload, separators=(",", ":")).encode()


class DokuClient:
    def __init__(self, *, base_url: str, client_id: str, secret_key: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.secret_key = secret_key
        self.timeout = timeout

    def create_checkout(self, body: dict[str, Any]) -> CheckoutSession:
        raw = json.dumps(body, separators=(",", ":")).encode()
        target = urlsplit(self.base_url + CHECKOUT_PATH).path
        headers = signed_headers(
            secret_key=self.secret_key, client_id=self.client_id, target=target, body=raw
        )
        try:
            response = requests.post(
                self.base_url + CHECKOUT_PATH,
                data=raw,
                headers={**headers, "Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise DokuError(f"DOKU unreachable: {exc.__class__.__name__}") from exc
        if response.status_code >= 300:
            raise DokuError(f"DOKU answered {response.status_code}: {response.text[:200]}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise DokuError("DOKU answered with a body that is not JSON") from exc
        url, token, expires = parse_checkout_response(payload)
        logger.info("DOKU checkout created for %s", body.get("order", {}).get("invoice_number"))
        return CheckoutSession(url=url, token_id=token, request_id=headers["Request-Id"], expires=expires)
