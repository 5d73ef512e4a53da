"""The back office (/backoffice/): payments with a private proof preview, approve and reject
(with a reason) actions calling the same services as the admin API; list pages without N+1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import Invoice, Payment
from devices.models import Device
from tests.api.helpers import assert_ok
from tests.conftest import Actor

from .conftest import subscription_of
from .test_manual_payments import start_qris, upload_proof

CHANGELIST = "/backoffice/billing/payment/"


@pytest.fixture
def backoffice(staff_user: Any) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def proofed_payment(alice: Actor, order_invoice: Invoice) -> Payment:
    payment_id = start_qris(alice, order_invoice)["payment_id"]
    assert_ok(upload_proof(alice, payment_id))
    return Payment.objects.get(pk=payment_id)


def test_the_payment_page_previews_the_proof_through_an_admin_only_view(
    backoffice: Client, proofed_payment: Payment, alice: Actor
) -> None:
    page = backoffice.get(f"{CHANGELIST}{proofed_payment.pk}/change/")
    assert page.status_code == 200
    proof_url = f"{CHANGELIST}{proofed_payment.pk}/proof/"
    assert f'<img src="{proof_url}"' in page.content.decode()
    proof = backoffice.get(proof_url)
    assert proof.status_code == 200 and proof["Content-Type"] == "image/png"
    # not for the tenant's owner, not for the anonymous
    owner = Client()
    owner.force_login(alice.user)
    assert owner.get(proof_url).status_code == 302  # to the admin login
    assert Client().get(proof_url).status_code == 302
    assert proofed_payment.proof.url not in page.content.decode()


def test_approve_action_pays_the_invoice_and_starts_the_plan(
    backoffice: Client, proofed_payment: Payment
) -> None:
    response = backoffice.post(
        CHANGELIST, {"action": "approve_payments", "_selected_action": [str(proofed_payment.pk)]}, follow=True
    )
    assert response.status_code == 200 and "Approved 1 payment(s)." in response.content.decode()
    proofed_payment.refresh_from_db()
    assert proofed_payment.status == "paid" and proofed_payment.reviewed_by is not None
    assert proofed_payment.invoice.status == "paid"
    assert subscription_of(proofed_payment.invoice).plan.code == "pro"


def test_reject_action_asks_for_a_reason_then_reopens_the_invoice(
    backoffice: Client, proofed_payment: Payment, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    form = backoffice.post(
        CHANGELIST, {"action": "reject_payments", "_selected_action": [str(proofed_payment.pk)]}
    )
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    proofed_payment.refresh_from_db()
    assert proofed_payment.status == "pending_verification"  # nothing happens before the reason
    with django_capture_on_commit_callbacks(execute=True):
        done = backoffice.post(
            CHANGELIST,
            {
                "action": "reject_payments",
                "_selected_action": [str(proofed_payment.pk)],
                "apply": "1",
                "reason": "Bukti transfer buram",
            },
            follow=True,
        )
    assert "Rejected 1 payment(s)" in done.content.decode()
    proofed_payment.refresh_from_db()
    assert (proofed_payment.status, proofed_payment.rejection_reason) == ("rejected", "Bukti transfer buram")
    assert proofed_payment.invoice.status == "open"
    assert any("Bukti transfer buram" in m.body for m in mailoutbox)


def test_list_pages_do_not_grow_queries_with_rows(
    backoffice: Client, alice: Actor, device_of: Callable[..., Device], pro_plan: Any
) -> None:
    def make_invoice_with_payment() -> None:
        device = device_of(alice)
        invoice = assert_ok(
            alice.api.post(
                "/api/v1/billing/subscriptions",
                {"device_id": str(device.pk), "plan_code": "pro"},
                format="json",
            ),
            201,
        )
        alice.api.post(f"/api/v1/billing/invoices/{invoice['id']}/pay/bank-transfer")

    counts: dict[str, list[int]] = {}
    for _ in range(2):
        for _ in range(3):
            make_invoice_with_payment()
        for page in ("payment", "invoice", "subscription", "billingevent"):
            with CaptureQueriesContext(connection) as queries:
                assert backoffice.get(f"/backoffice/billing/{page}/").status_code == 200
            counts.setdefault(page, []).append(len(queries))
    for page, (three, six) in counts.items():
        assert three == six, (page, three, six)
