"""Plain Django views: DOKU's notification receiver and the dev-mode sandbox checkout page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from wavora.api.envelope import error, meta, success

from . import doku, services
from .models import Payment

_HEADERS = ("Client-Id", "Request-Id", "Request-Timestamp", "Signature")
_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 404: "NOT_FOUND"}


@csrf_exempt
@require_POST
def doku_notification(request: HttpRequest) -> JsonResponse:
    """DOKU's HTTP notification. 2xx means "received, do not retry" (also for a replay); 401 for a bad
    signature, 404 for an unknown invoice, and nothing changes in either case."""
    headers = {name: request.headers.get(name, "") for name in _HEADERS}
    result = services.doku_notification_handle(raw_body=request.body, headers=headers)
    if result.status >= 300:
        return JsonResponse(error(_CODES.get(result.status, "ERROR"), result.message), status=result.status)
    return JsonResponse({**success(None, result.message), "meta": meta()}, status=result.status)


def _sandbox_payment(reference: str) -> Payment:
    if not settings.DOKU_DEV_SANDBOX:
        raise Http404("The DOKU sandbox exists only in dev mode without DOKU credentials.")
    payment = Payment.objects.select_related("invoice", "tenant").filter(
        external_reference=reference, method=Payment.Method.DOKU
    ).first()
    if payment is None:
        raise Http404("Unknown payment.")
    return payment


def sandbox_notification(payment: Payment, outcome: str) -> dict[str, Any]:
    """The notification DOKU would send for this payment, with its signed headers."""
    body = doku.notification_body(
        invoice_number=payment.external_reference,
        amount=payment.amount,
        status="SUCCESS" if outcome == "pay" else "FAILED",
        original_request_id=payment.gateway_request_id or str(payment.pk),
    )
    headers = doku.signed_headers(
        secret_key=settings.DOKU_SECRET_KEY,
        client_id=settings.DOKU_CLIENT_ID,
        target=services.doku_notification_path(),
        body=body,
    )
    return {"body": body.decode(), "headers": headers}


@require_GET
def doku_sandbox(request: HttpRequest, reference: str) -> HttpResponse:
    """Stands in for DOKU's hosted checkout in dev: Pay / Fail post a correctly signed notification
    from the browser to our own /webhook/payment/doku, then go back to the dashboard."""
    payment = _sandbox_payment(reference)
    notifications = {outcome: sandbox_notification(payment, outcome) for outcome in ("pay", "fail")}
    return render(
        request,
        "billing/doku_sandbox.html",
        {
            "payment": payment,
            "amount": services.rupiah(payment.amount),
            "notifications": notifications,
            "callback_path": services.doku_notification_path(),
            "return_url": "/dashboard/billing/",
        },
    )
