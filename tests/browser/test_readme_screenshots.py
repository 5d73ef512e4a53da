"""Screenshots of the main pages on a demo tenant. They go to the test output folder; with
WAVORA_README_SCREENSHOTS=1 they also replace docs/screenshots/*.png, which the README shows:

    WAVORA_README_SCREENSHOTS=1 WAVORA_ENV=test .venv/bin/python -m pytest \
        tests/browser/test_readme_screenshots.py
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.services import subscription_start_free
from devices.models import Device
from devices.services import device_create, device_sync_from_gowa, gowa_node_create
from messaging.models import Message, MessageStatusChange
from tenants.models import Membership
from tenants.services import invitation_create, tenant_create
from tests.conftest import SIM_PASSWORD, SIM_USER
from tests.e2e.conftest import BASE_DIR, Stack

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

PASSWORD = "kopi-tubruk-2026"
README_DIR = BASE_DIR / "docs" / "screenshots"
# A believable month: messages per day and the share of each final status.
DAILY = [
    12,
    18,
    25,
    9,
    30,
    41,
    22,
    15,
    35,
    48,
    27,
    19,
    33,
    52,
    38,
    21,
    44,
    57,
    29,
    36,
    61,
    47,
    24,
    39,
    66,
    53,
    31,
    45,
    70,
    58,
]


def _demo_tenant(stack: Stack) -> tuple[Device, Device]:
    gowa_node_create(name="sim", base_url=stack.sim.base_url, basic_auth=f"{SIM_USER}:{SIM_PASSWORD}")
    tenant = tenant_create(name="Toko Sinar Jaya", owner_email="budi@example.com", owner_password=PASSWORD)
    kasir = device_create(tenant=tenant, name="Kasir Depan")
    stack.sim.scan(kasir.pk, phone="6281234500001")
    kasir = device_sync_from_gowa(device=kasir)
    gudang = device_create(tenant=tenant, name="Gudang")
    for device in (kasir, gudang):
        subscription_start_free(tenant=tenant, device_id=device.pk)
    now = timezone.now()
    rows = []
    for days_ago, count in enumerate(reversed(DAILY)):
        for i in range(count):
            status = (
                "read" if i % 10 < 6 else "delivered" if i % 10 < 8 else "sent" if i % 10 < 9 else "failed"
            )
            rows.append(
                Message(
                    tenant=tenant,
                    device=kasir,
                    recipient=f"62812{(i * 7919 + days_ago) % 10_000_000:07d}",
                    status=status,
                    error_code="INVALID_PHONE" if status == "failed" else "",
                    error_message="Nomor tidak terdaftar di WhatsApp" if status == "failed" else "",
                    original_payload_json={"text": f"Pesanan #{1000 + i} sudah dikirim. Terima kasih!"},
                )
            )
    Message.objects.bulk_create(rows)
    for index, message in enumerate(Message.objects.filter(tenant=tenant).order_by("pk")):
        days_ago = index % len(DAILY)
        Message.objects.filter(pk=message.pk).update(
            created_at=now - dt.timedelta(days=days_ago, minutes=index)
        )
    latest = Message.objects.filter(tenant=tenant, status="read").order_by("-created_at").first()
    assert latest is not None
    for step, status in enumerate(("pending", "sending", "sent", "delivered", "read")):
        MessageStatusChange.objects.create(
            message=latest, status=status, at=latest.created_at + dt.timedelta(seconds=step)
        )
    user = get_user_model().objects.create_user("sari@example.com", "sari@example.com", PASSWORD)
    Membership.objects.create(tenant=tenant, user=user, role=Membership.Role.ADMIN)
    invitation_create(
        tenant=tenant, email="andi@example.com", role="member", invited_by=None, acting_role="owner"
    )
    return kasir, gudang


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"readme-{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("WAVORA_README_SCREENSHOTS") == "1":
        README_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_DIR / f"{name}.png")


def test_screenshots_of_the_main_pages(page: Page, live: Stack) -> None:
    kasir, gudang = _demo_tenant(live)
    page.goto("/accounts/login/")
    page.locator("select[name=language]").select_option("id")
    expect(page.locator("h1")).to_have_text("Masuk")
    _shot(page, "login")
    page.fill("input[name=username]", "budi@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form.stack button[type=submit]").click()
    page.wait_for_url("**/dashboard/")
    expect(page.locator("svg rect").first).to_be_visible()
    _shot(page, "overview")

    page.goto(f"/dashboard/devices/{gudang.pk}/")
    page.locator("#link-card form.row button[type=submit]").click()
    expect(page.locator("[data-qr-image]")).to_have_attribute("src", re.compile(r"^data:image/png"))
    _shot(page, "device-qr")

    page.goto("/dashboard/send/")
    page.locator("select[name=type]").select_option("interactive")
    page.fill("input[name=to]", "0812-3456-7890")
    page.fill("textarea[name=text]", "Pesanan Anda siap diambil. Konfirmasi?")
    page.fill("textarea[name=choices]", "ya | Ya, saya ambil\nnanti | Nanti saja")
    _shot(page, "send")

    page.goto("/dashboard/messages/")
    expect(page.locator("#message-log")).to_be_visible()
    _shot(page, "messages")
    latest = Message.objects.filter(history__isnull=False).distinct().get()
    page.goto(f"/dashboard/messages/{latest.pk}/")
    expect(page.locator(".timeline li")).to_have_count(5)
    _shot(page, "message-detail")

    page.goto("/dashboard/team/")
    _shot(page, "team")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/dashboard/")
    _shot(page, "overview-phone")
    assert kasir.status == Device.Status.CONNECTED
