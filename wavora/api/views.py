"""Base API views: UTC times and per-key rate limiting with X-RateLimit-* headers, on top of DRF."""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone, translation
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.principal import Principal

from .errors import RateLimited

WINDOW_SECONDS = 60


class UtcMixin:
    # SPEC §3: the API speaks ISO-8601 UTC and English, whatever time zone and language the
    # dashboard shows (WIB, Bahasa Indonesia).
    # (Comments, not docstrings, on these mixins: drf-spectacular would publish a docstring as the
    # description of every endpoint.)

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with timezone.override(UTC), translation.override("en"):
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class RateLimitMixin:
    # Fixed one-minute window per API key (or per dashboard user), counted in Redis.

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        user = request.user
        if not isinstance(user, Principal):
            return
        limit = (
            user.api_key.rate_limit_per_minute if user.api_key else None
        ) or settings.API_RATE_LIMIT_PER_MINUTE
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        reset = (window + 1) * WINDOW_SECONDS
        counter = f"ratelimit:{user.rate_key}:{window}"
        cache.add(counter, 0, timeout=WINDOW_SECONDS + 5)
        try:
            used = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.set(counter, 1, timeout=WINDOW_SECONDS + 5)
            used = 1
        request._rate_headers = {  # type: ignore[attr-defined]
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(reset),
        }
        if used > limit:
            retry_after = max(1, int(reset - now))
            raise RateLimited(
                f"Rate limit of {limit} requests per minute exceeded. Retry in {retry_after} s.",
                headers={**request._rate_headers, "Retry-After": str(retry_after)},  # type: ignore[attr-defined]
            )

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        for name, value in getattr(request, "_rate_headers", {}).items():
            response[name] = value
        return response


class ApiView(UtcMixin, RateLimitMixin, APIView):
    pass


class GenericApiView(UtcMixin, RateLimitMixin, GenericAPIView):
    pass
