"""The dashboard billing page: owners and admins only, tenant-scoped, plan change, paying by each
method, QRIS image, bank details, proof upload through the form, WIB times and rupiah."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from billing.models import Invoice, Payment, Plan
from devices.models import Device
from tests.conftest import Actor

from .conftest import png_bytes, subscription_of


def signed_in(actor: Actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def test_owner_sees_plans_devices_and_invoices_in_rupiah_and_wib(
    alice: Actor, order_invoice: Invoice
) -> None:
    response = signed_in(alice).get("/dashboard/billing/")
    assert response.status_code == 200
    html = response.content.decode()
    assert order_invoice.number in html
    assert "Rp 166.500" in html and "Rp 150.000" in html
    assert "WIB" in html


def test_a_member_gets_403_and_other_tenants_invoices_and_proofs_are_404(
    alice: Actor, bob: Actor, charlie: Actor, order_invoice: Invoice
) -> None:
    assert signed_in(bob).get("/dashboard/billing/").status_code == 403
    assert signed_in(bob).get(f"/dashboard/billing/invoices/{order_invoice.pk}/").status_code == 403
    owner = signed_in(alice)
    owner.post(f"/dashboard/billing/invoices/{order_invoice.pk}/pay/qris/")
    payment = Payment.objects.get(invoice=order_invoice)
    outsider = signed_in(charlie)
    assert outsider.get("/dashboard/billing/").status_code == 200
    assert order_invoice.number not in outsider.get("/dashboard/billing/").content.decode()
    assert outsider.get(f"/dashboard/billing/invoices/{order_invoice.pk}/").status_code == 404
    assert outsider.get(f"/dashboard/billing/payments/{payment.pk}/").status_code == 404
    assert outsider.get(f"/dashboard/billing/payments/{payment.pk}/proof/").status_code == 404
    assert outsider.post(f"/dashboard/billing/invoices/{order_invoice.pk}/pay/bank/").status_code == 404


def test_changing_a_devices_plan_issues_an_invoice_and_opens_it(
    alice: Actor, device_of: Callable[..., Device], pro_plan: Plan
) -> None:
    device = device_of(alice)
    response = signed_in(alice).post(
        "/dashboard/billing/subscriptions/", {"device_id": str(device.pk), "plan_code": "pro"}
    )
    invoice = Invoice.objects.get(device_id=device.pk)
    assert (
        response.status_code == 302 and response["Location"] == f"/dashboard/billing/invoices/{invoice.pk}/"
    )
    page = signed_in(alice).get(response["Location"]).content.decode()
    assert "Rp 16.500" in page and "Rp 166.500" in page and "DOKU" in page


def test_pay_with_doku_redirects_to_the_checkout(alice: Actor, order_invoice: Invoice) -> None:
    response = signed_in(alice).post(f"/dashboard/billing/invoices/{order_invoice.pk}/pay/doku/")
    payment = Payment.objects.get(invoice=order_invoice, method="doku")
    assert response.status_code == 302 and response["Location"] == payment.checkout_url


def test_qris_shows_the_image_and_the_proof_form_uploads_proof(
    alice: Actor, order_invoice: Invoice, settings: Any
) -> None:
    settings.TIME_ZONE = "UTC"  # the form's time is WIB whatever the server's zone
    owner = signed_in(alice)
    response = owner.post(f"/dashboard/billing/invoices/{order_invoice.pk}/pay/qris/")
    payment = Payment.objects.get(invoice=order_invoice)
    assert response["Location"] == f"/dashboard/billing/payments/{payment.pk}/"
    page = owner.get(response["Location"]).content.decode()
    assert 'src="data:image/png;base64,' in page and 'name="proof"' in page
    # a bad file is shown as a form error, nothing changes
    bad = owner.post(
        response["Location"],
        {
            "proof": SimpleUploadedFile("x.png", b"not an image at all"),
            "paid_amount": 166500,
            "paid_at": "2026-11-22T10:00",
        },
    )
    assert bad.status_code == 200 and "JPEG, PNG or WebP image or a PDF" in bad.content.decode()
    assert Payment.objects.get(pk=payment.pk).status == "awaiting_proof"
    done = owner.post(
        response["Location"],
        {
            "proof": SimpleUploadedFile("bukti.png", png_bytes()),
            "paid_amount": 166500,
            "paid_at": "2026-11-22T10:00",
            "payer_name": "Alice",
        },
    )
    assert done.status_code == 302
    payment.refresh_from_db()
    assert (payment.status, payment.payer_name) == ("pending_verification", "Alice")
    assert (
        payment.paid_at is not None and payment.paid_at.isoformat() == "2026-11-22T03:00:00+00:00"
    )  # 10:00 WIB
    proof = owner.get(f"/dashboard/billing/payments/{payment.pk}/proof/")
    assert proof.status_code == 200 and proof["Content-Type"] == "image/png"


def test_bank_transfer_shows_the_accounts(alice: Actor, order_invoice: Invoice, settings: Any) -> None:
    settings.BILLING_BANK_ACCOUNTS = [
        {"bank": "BCA", "account_number": "5550001112", "account_name": "PT Wavora"}
    ]
    owner = signed_in(alice)
    response = owner.post(f"/dashboard/billing/invoices/{order_invoice.pk}/pay/bank/", follow=True)
    html = response.content.decode()
    assert "5550001112" in html and "Rp 166.500" in html
    assert subscription_of(order_invoice).plan.code == "free"


def test_the_page_speaks_indonesian_and_english(alice: Actor, order_invoice: Invoice) -> None:
    owner = signed_in(alice)
    owner.cookies["django_language"] = "en"
    assert "Plan per device" in owner.get("/dashboard/billing/").content.decode()
    owner.cookies["django_language"] = "id"
    assert "Paket per perangkat" in owner.get("/dashboard/billing/").content.decode()
