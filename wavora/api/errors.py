"""Wavora's API errors (SPEC §3): one exception type carrying code, HTTP status and details."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException


class WavoraError(APIException):
    status_code = 400
    code = "VALIDATION_ERROR"
    default_detail = "Invalid request."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or str(self.default_detail)
        if code:
            self.code = code
        if status:
            self.status_code = status
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message, self.code)


class ValidationFailed(WavoraError):
    status_code = 400
    code = "VALIDATION_ERROR"
    default_detail = "The request has invalid fields."


class InvalidPhone(WavoraError):
    status_code = 400
    code = "INVALID_PHONE"
    default_detail = "The phone number is not valid."


class NotFound(WavoraError):
    status_code = 404
    code = "NOT_FOUND"
    default_detail = "Not found."


class DeviceNotFound(WavoraError):
    status_code = 404
    code = "DEVICE_NOT_FOUND"
    default_detail = "Device not found."


class Forbidden(WavoraError):
    status_code = 403
    code = "FORBIDDEN"
    default_detail = "You do not have permission to do this."


class SubscriptionInactive(WavoraError):
    status_code = 403
    code = "SUBSCRIPTION_INACTIVE"
    default_detail = "The device's subscription is not active."


class QuotaExceeded(WavoraError):
    status_code = 429
    code = "QUOTA_EXCEEDED"
    default_detail = "Quota exceeded."


class DeviceNotConnected(WavoraError):
    status_code = 409
    code = "DEVICE_NOT_CONNECTED"
    default_detail = "The device is not connected to WhatsApp."


class IdempotencyConflict(WavoraError):
    status_code = 409
    code = "IDEMPOTENCY_CONFLICT"
    default_detail = "This Idempotency-Key was used with a different request."


class UpstreamError(WavoraError):
    status_code = 502
    code = "UPSTREAM_ERROR"
    default_detail = "The WhatsApp gateway failed."


class RateLimited(WavoraError):
    status_code = 429
    code = "RATE_LIMITED"
    default_detail = "Too many requests."
