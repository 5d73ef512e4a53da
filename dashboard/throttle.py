"""Log-in throttling against password guessing: failures are counted per (IP address, username) in
the cache (Redis), so every web process sees the same count. A success clears the count."""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    # Behind a proxy REMOTE_ADDR is the proxy; the proxy is trusted to set X-Forwarded-For's last hop.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and settings.IS_PRODUCTION:
        return forwarded.split(",")[-1].strip()
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _key(ip: str, username: str) -> str:
    digest = hashlib.sha256(f"{ip}|{username.strip().lower()}".encode()).hexdigest()[:32]
    return f"login-fail:{digest}"


def seconds_locked(ip: str, username: str) -> int:
    """0 when log-in may be tried; else how many seconds until the lock-out ends."""
    key = _key(ip, username)
    count = cache.get(key) or 0
    if count < settings.LOGIN_MAX_FAILURES:
        return 0
    until = cache.get(f"{key}:until") or time.time()
    return max(1, math.ceil(until - time.time()))


def record_failure(ip: str, username: str) -> None:
    key = _key(ip, username)
    window = settings.LOGIN_LOCKOUT_SECONDS
    # An atomic increment, so a burst of parallel guesses is counted in full; the window restarts
    # with every failure, so a slow steady guesser stays locked out.
    cache.add(key, 0, timeout=window)
    cache.incr(key)
    cache.touch(key, timeout=window)
    cache.set(f"{key}:until", time.time() + window, timeout=window)


def clear(ip: str, username: str) -> None:
    key = _key(ip, username)
    cache.delete_many([key, f"{key}:until"])
