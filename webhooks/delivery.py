"""The adapter to tenants' webhook URLs: the exact bytes we send, how they are signed, the retry
schedule, and one POST through the SSRF guard. Everything but ``send`` is pure.

Signature scheme (seed 003): ``X-Webhook-Signature`` is the lowercase hex HMAC-SHA256 of the raw
request body, keyed with the endpoint's secret (the whole ``whsec_…`` string, UTF-8). During a
rotation's grace period the request also carries ``X-Webhook-Signature-Previous``, the same HMAC
keyed with the previous secret; a receiver accepts the request when the HMAC it computes with the
secret it holds equals either header. ``X-Webhook-Timestamp`` (Unix seconds of this attempt) is
informational and not signed; the body's ``timestamp`` (the event's time) is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from wavora import ssrf

EXCERPT_BYTES = 1024
# Seconds to wait after the n-th failed attempt of a retry window (n = 1, 2, …); the last value
# repeats until the window (WEBHOOK_RETRY_WINDOW_HOURS, at least 24 h) is over.
BACKOFF_SECONDS = (10, 30, 60, 5 * 60, 15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600)
JITTER_FRACTION = 0.2  # ± 20 %, so endpoints that failed together do not retry in lockstep


def body_bytes(envelope: dict[str, Any]) -> bytes:
    """Compact JSON: the exact bytes that are signed and sent."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_headers(
    *,
    event_id: str,
    event_type: str,
    body: bytes,
    secret: str,
    previous_secret: str | None,
    attempt: int,
    now: datetime,
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Wavora-Webhooks/{settings.WAVORA_VERSION}",
        "X-Webhook-Id": event_id,
        "X-Webhook-Event": event_type,
        "X-Webhook-Timestamp": str(int(now.timestamp())),
        "X-Webhook-Attempt": str(attempt),
        "X-Webhook-Signature": sign(secret, body),
    }
    if previous_secret:
        headers["X-Webhook-Signature-Previous"] = sign(previous_secret, body)
    return headers


def retry_delay_seconds(failed_attempts: int, jitter: float = 0.0) -> float:
    """Wait after the ``failed_attempts``-th failure: ~10 s, 30 s, 1 min, 5 min, 15 min, 30 min,
    1 h, 2 h, then 4 h. ``jitter`` in [-1, 1] moves it by up to ± JITTER_FRACTION."""
    base = BACKOFF_SECONDS[min(max(failed_attempts, 1), len(BACKOFF_SECONDS)) - 1]
    return base * (1 + JITTER_FRACTION * max(-1.0, min(1.0, jitter)))


def next_attempt_at(
    *, failed_attempts: int, first_attempt_at: datetime, now: datetime, window: timedelta, jitter: float = 0.0
) -> datetime | None:
    """When to try again after a failure, or None once the retry window is over (→ failed).

    The last retry is placed at the end of the window, so a delivery is retried for the whole window
    and is given up at (not hours after) the window's end."""
    deadline = first_attempt_at + window
    if now >= deadline:
        return None
    return min(now + timedelta(seconds=retry_delay_seconds(failed_attempts, jitter)), deadline)


@dataclass(frozen=True)
class Outcome:
    success: bool
    status_code: int | None
    duration_ms: int
    excerpt: str
    error: str


def send(*, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """One POST. Any 2xx is success; anything else (including a refused URL) is a failure."""
    started = time.monotonic()
    try:
        answer = ssrf.post(
            url,
            body=body,
            headers=headers,
            timeout=float(settings.WEBHOOK_TIMEOUT_SECONDS),
            excerpt_bytes=EXCERPT_BYTES,
        )
    except ssrf.UnsafeUrl as exc:
        return Outcome(False, None, _elapsed_ms(started), "", f"URL refused: {exc.reason}")
    except ssrf.UrlFetchFailed as exc:
        return Outcome(False, None, _elapsed_ms(started), "", _capitalised(exc.reason))
    ok = 200 <= answer.status < 300
    return Outcome(
        success=ok,
        status_code=answer.status,
        duration_ms=_elapsed_ms(started),
        excerpt=excerpt_text(answer.excerpt),
        error="" if ok else f"HTTP {answer.status}; a 2xx answer is needed.",
    )


def excerpt_text(raw: bytes) -> str:
    # PostgreSQL text cannot hold NUL; a cut multi-byte character becomes U+FFFD.
    return raw[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


def _capitalised(reason: str) -> str:
    return reason[:1].upper() + reason[1:]
