"""Manual payments: dynamic QRIS and bank details, proof upload (checked by content, private), and
the platform admin's approve/reject through the admin API."""

from __future__ import annotations

import base64
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from billing import qris
from billing.models import BillingEvent, Invoice, Payment
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor
from webhooks.models import Event

from .conftest import png_bytes, subscription_of


def start_qris(actor: Actor, invoice: Invoice) -> dict[str, Any]:
    return assert_ok(actor.api.post(f"/api/v1/billing/invoices/{invoice.pk}/pay/qris-manual"), 201)


def upload_proof(actor: Actor, payment_id: Any, content: bytes | None = None, **fields: Any) -> Any:
    form = {
        "proof": SimpleUploadedFile("bukti.png", png_bytes() if content is None else content, "image/png"),
        "paid_amount": 166_500,
        "paid_at": "2026-11-22T08:00:00+07:00",
        "payer_name": "Alice",
        "note": "transfer dari BCA",
        **fields,
    }
    return actor.api.post(f"/api/v1/billing/payments/{payment_id}/proof", form, format="multipart")


def test_qris_manual_returns_a_dynamic_qris_for_the_total_as_png_and_string(
    alice: Actor, order_invoice: Invoice
) -> None:
    data = start_qris(alice, order_invoice)
    fields = qris.parse(data["qris"])
    assert qris.field_value(fields, "54") == "166500" and qris.field_value(fields, "01") == "12"
    assert data["qris_image"].startswith("data:image/png;base64,")
    assert base64.b64decode(data["qris_image"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    payment = Payment.objects.get(pk=data["payment_id"])
    assert (payment.method, payment.status, payment.amount) == ("qris_manual", "awaiting_proof", 166_500)
    # asking again reuses the payment that waits for proof
    assert start_qris(alice, order_invoice)["payment_id"] == data["payment_id"]


def test_bank_transfer_returns_the_platform_accounts_and_a_reference(
    alice: Actor, order_invoice: Invoice, settings: Any
) -> None:
    settings.BILLING_BANK_ACCOUNTS = [{"bank": "BCA", "account_number": "123", "account_name": "PT Wavora"}]
    data = assert_ok(alice.api.post(f"/api/v1/billing/invoices/{order_invoice.pk}/pay/bank-transfer"), 201)
    assert data["bank_accounts"] == [{"bank": "BCA", "account_number": "123", "account_name": "PT Wavora"}]
    assert data["amount"] == 166_500 and data["reference"].startswith(order_invoice.number)
    assert Payment.objects.get(pk=data["payment_id"]).method == "bank_transfer_manual"


def test_a_method_the_admin_disabled_is_refused(alice: Actor, order_invoice: Invoice, admin_api: Any) -> None:
    assert_ok(
        admin_api.post(
            f"/admin/tenants/{alice.tenant.pk}/billing-settings",
            {"allowed_payment_methods": ["doku"]},
            format="json",
        )
    )
    response = alice.api.post(f"/api/v1/billing/invoices/{order_invoice.pk}/pay/qris-manual")
    assert_error(response, 409, "PAYMENT_METHOD_UNAVAILABLE")


def test_proof_upload_moves_payment_and_invoice_to_pending_verification(
    alice: Actor, order_invoice: Invoice
) -> None:
    payment_id = start_qris(alice, order_invoice)["payment_id"]
    data = assert_ok(upload_proof(alice, payment_id))
    assert (data["status"], data["paid_amount"], data["payer_name"]) == (
        "pending_verification",
        166_500,
        "Alice",
    )
    assert data["has_proof"] is True and data["proof_content_type"] == "image/png"
    order_invoice.refresh_from_db()
    assert order_invoice.status == "pending_verification"
    payment = Payment.objects.get(pk=payment_id)
    # stored under a random name, never the client's, never derived from the payment id
    assert payment.proof.name.startswith("billing-proofs/") and "bukti" not in payment.proof.name
    assert str(payment.pk) not in payment.proof.name
    # the tenant can read its proof back; a second upload is refused
    download = alice.api.get(f"/api/v1/billing/payments/{payment_id}/proof")
    assert download.status_code == 200 and download.getvalue() == png_bytes()
    assert download["Cache-Control"] == "private, no-store"
    assert_error(upload_proof(alice, payment_id), 409, "PAYMENT_STATE_CONFLICT")


def test_proof_is_checked_by_content_and_size_and_fields_are_required(
    alice: Actor, order_invoice: Invoice, settings: Any
) -> None:
    payment_id = start_qris(alice, order_invoice)["payment_id"]
    # an executable named .png is refused
    assert_error(
        upload_proof(alice, payment_id, content=b"MZ\x90\x00" + b"\x00" * 200), 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    settings.BILLING_PROOF_MAX_BYTES = 1000
    assert_error(upload_proof(alice, payment_id, content=png_bytes(400)), 413, "PAYLOAD_TOO_LARGE")
    settings.BILLING_PROOF_MAX_BYTES = 5 * 1024 * 1024
    response = alice.api.post(
        f"/api/v1/billing/payments/{payment_id}/proof",
        {
            "proof": SimpleUploadedFile(
                "a.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf"
            )
        },
        format="multipart",
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert {"paid_amount", "paid_at"} <= set(error["details"])
    assert Payment.objects.get(pk=payment_id).status == "awaiting_proof"
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    assert assert_ok(upload_proof(alice, payment_id, content=pdf))["proof_content_type"] == "application/pdf"


def test_another_tenant_cannot_see_or_upload_proof_and_a_tenant_cannot_approve(
    alice: Actor, charlie: Actor, order_invoice: Invoice
) -> None:
    payment_id = start_qris(alice, order_invoice)["payment_id"]
    assert_error(upload_proof(charlie, payment_id), 404, "NOT_FOUND")
    assert_ok(upload_proof(alice, payment_id))
    assert_error(charlie.api.get(f"/api/v1/billing/payments/{payment_id}/proof"), 404, "NOT_FOUND")
    assert_error(charlie.api.get(f"/admin/billing/payments/{payment_id}/proof"), 403, "FORBIDDEN")
    assert_error(alice.api.post(f"/admin/billing/payments/{payment_id}/approve"), 403, "FORBIDDEN")
    assert_error(alice.api.get("/admin/billing/payments/pending-verification"), 403, "FORBIDDEN")
    assert Payment.objects.get(pk=payment_id).status == "pending_verification"


def test_admin_approves_through_the_api_the_invoice_is_paid_and_the_plan_starts(
    alice: Actor,
    order_invoice: Invoice,
    admin_api: Any,
    mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment_id = start_qris(alice, order_invoice)["payment_id"]
    assert_ok(upload_proof(alice, payment_id))
    [pending] = assert_ok(admin_api.get("/admin/billing/payments/pending-verification"))
    assert (
        pending["id"] == payment_id and pending["proof_url"] == f"/admin/billing/payments/{payment_id}/proof"
    )
    proof = admin_api.get(pending["proof_url"])
    assert proof.status_code == 200 and proof["Content-Type"] == "image/png"
    with django_capture_on_commit_callbacks(execute=True):
        data = assert_ok(admin_api.post(f"/admin/billing/payments/{payment_id}/approve"))
    assert data["status"] == "paid"
    order_invoice.refresh_from_db()
    assert order_invoice.status == "paid" and order_invoice.paid_at is not None
    subscription = subscription_of(order_invoice)
    assert subscription.plan.code == "pro" and subscription.current_period_end is not None
    assert any(order_invoice.number in m.subject and "paid" in m.subject for m in mailoutbox)
    assert (
        BillingEvent.objects.filter(payment_id=payment_id, action="payment.paid")
        .get()
        .actor.startswith("admin")
    )
    # a second decision is refused
    assert_error(
        admin_api.post(f"/admin/billing/payments/{payment_id}/approve"), 409, "PAYMENT_STATE_CONFLICT"
    )


def test_admin_rejects_with_a_reason_the_invoice_reopens_and_the_tenant_is_told(
    alice: Actor,
    order_invoice: Invoice,
    admin_api: Any,
    mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment_id = start_qris(alice, order_invoice)["payment_id"]
    assert_ok(upload_proof(alice, payment_id))
    error = assert_error(
        admin_api.post(f"/admin/billing/payments/{payment_id}/reject", {}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert "reason" in error["details"]
    with django_capture_on_commit_callbacks(execute=True):
        data = assert_ok(
            admin_api.post(
                f"/admin/billing/payments/{payment_id}/reject",
                {"reason": "Nominal tidak sesuai"},
                format="json",
            )
        )
    assert (data["status"], data["rejection_reason"]) == ("rejected", "Nominal tidak sesuai")
    order_invoice.refresh_from_db()
    assert order_invoice.status == "open"
    assert Event.objects.get(type="payment.rejected").data["reason"] == "Nominal tidak sesuai"
    assert any("Nominal tidak sesuai" in m.body for m in mailoutbox)
    # the tenant can pay again
    assert start_qris(alice, order_invoice)["payment_id"] != payment_id


def test_admin_api_manages_plans_invoices_and_tenant_settings(
    alice: Actor, order_invoice: Invoice, admin_api: Any
) -> None:
    created = assert_ok(
        admin_api.post(
            "/admin/billing/plans", {"code": "business", "name": "Business", "price": 400_000}, format="json"
        ),
        201,
    )
    updated = assert_ok(
        admin_api.post(f"/admin/billing/plans/{created['id']}", {"price": 450_000}, format="json")
    )
    assert (updated["price"], updated["name"]) == (450_000, "Business")
    assert_error(
        admin_api.post("/admin/billing/plans", {"code": "business", "name": "B", "price": 1}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(admin_api.post("/admin/billing/plans/99999", {"price": 1}, format="json"), 404, "NOT_FOUND")
    invoices = assert_ok(admin_api.get(f"/admin/billing/invoices?status=open&tenant_id={alice.tenant.pk}"))
    assert [i["number"] for i in invoices] == [order_invoice.number] and invoices[0][
        "tenant_name"
    ] == "Alice Co"
    data = assert_ok(
        admin_api.post(
            f"/admin/tenants/{alice.tenant.pk}/billing-settings",
            {"device_limit_override": 12, "tax_rate_percent": "0", "invoice_due_days": 14},
            format="json",
        )
    )
    assert (data["device_limit"], data["tax_rate_percent"], data["invoice_due_days"]) == (12, "0.00", 14)
    assert_error(
        admin_api.post(
            f"/admin/tenants/{alice.tenant.pk}/billing-settings",
            {"allowed_payment_methods": ["cash"]},
            format="json",
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        alice.api.post(f"/admin/tenants/{alice.tenant.pk}/billing-settings", {}, format="json"),
        403,
        "FORBIDDEN",
    )


def test_admin_plan_input_out_of_range_or_with_nul_is_a_400_not_a_500(admin_api: Any) -> None:
    """Found by schemathesis: numbers beyond PostgreSQL's integer and NUL inside JSON."""
    base = {"code": "huge", "name": "Huge", "price": 1}
    error = assert_error(
        admin_api.post(
            "/admin/billing/plans", {**base, "rate_limit_per_minute": 360298711837}, format="json"
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert "rate_limit_per_minute" in error["details"]
    error = assert_error(
        admin_api.post("/admin/billing/plans", {**base, "features": {"a": "\x00"}}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert "features" in error["details"]
