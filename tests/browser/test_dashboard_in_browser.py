"""The dashboard in a real browser (Chromium via Playwright) against the running product."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.sync_api import Page, expect

from devices.models import Device
from devices.services import device_refresh_qr, gowa_node_create
from messaging.models import Message
from tenants.models import Membership
from tenants.services import tenant_create
from tests.conftest import SIM_PASSWORD, SIM_USER
from tests.e2e.conftest import Stack, wait_until

pytestmark = pytest.mark.e2e

PASSWORD = "kopi-tubruk-2026"


def _in_worker_thread(work: Callable[[], object]) -> None:
    """What a Celery task does, from a thread: publishing to the Channels layer cannot run in this
    thread, where Playwright's event loop lives."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)


def _log_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form.stack button[type=submit]").click()
    page.wait_for_url("**/dashboard/")


def test_sign_up_link_a_device_by_qr_send_a_text_and_see_it_delivered(page: Page, live: Stack) -> None:
    gowa_node_create(name="sim", base_url=live.sim.base_url, basic_auth=f"{SIM_USER}:{SIM_PASSWORD}")

    page.goto("/accounts/signup/")
    page.fill("input[name=company]", "Toko Sinar Jaya")
    page.fill("input[name=email]", "budi@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form.stack button[type=submit]").click()
    page.wait_for_url("**/dashboard/")
    expect(page.locator("html")).to_have_attribute("lang", "id")  # a new tenant works in Indonesian
    expect(page.locator("h1")).to_have_text("Ringkasan")

    page.goto("/dashboard/devices/")
    page.fill("input[name=name]", "Kasir")
    page.locator("form.inline-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/devices/[0-9a-f-]{36}/$"))
    device_id = page.url.rstrip("/").rsplit("/", 1)[-1]

    page.locator("#link-card form.row button[type=submit]").click()
    qr = page.locator("[data-qr-image]")
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    live_root = page.locator("#device-live")
    expect(live_root).to_have_attribute("data-ws", "ready")  # the page listens on /ws/
    page.evaluate("window.__sameDocument = true")

    # WhatsApp rotates QR codes; the new one is pushed over the WebSocket and replaces the image.
    first_qr = qr.get_attribute("src")
    _in_worker_thread(
        lambda: device_refresh_qr(device=Device.objects.select_related("node").get(pk=device_id))
    )
    expect(qr).not_to_have_attribute("src", first_qr or "")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))

    live.sim.scan(device_id)  # the simulated phone scans the QR code

    expect(page.locator("[data-device-status]")).to_have_class(re.compile(r"\bbadge-connected\b"))
    expect(page.locator("[data-connected-card]")).to_be_visible()
    expect(page.locator("#link-card")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert Device.objects.get(pk=device_id).status == Device.Status.CONNECTED

    page.goto(f"/dashboard/send/?device={device_id}")
    expect(page.locator("[data-name=latitude]")).to_be_hidden()  # only the text type's fields show
    page.fill("input[name=to]", "0812-7777-0001")
    page.fill("textarea[name=text]", "Halo dari browser!")
    page.locator("#send-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/messages/[0-9a-f-]{36}/$"))
    message_id = page.url.rstrip("/").rsplit("/", 1)[-1]

    wait_until(
        lambda: Message.objects.get(pk=message_id).status in ("delivered", "read"),
        timeout=30,
        what="the delivery receipt",
    )
    page.goto("/dashboard/messages/")
    row = page.locator(f"tr[data-message-id='{message_id}']")
    expect(row).to_contain_text("6281277770001")
    expect(row.locator(".badge")).to_have_class(re.compile(r"\bbadge-(delivered|read)\b"))
    row.locator("a").first.click()
    expect(page.locator(".timeline")).to_contain_text("Diterima")  # "Delivered" in the status history


def test_the_language_switch_changes_the_pages_and_is_remembered(page: Page, live: Stack) -> None:
    tenant_create(name="Toko Bahasa", owner_email="sari@example.com", owner_password=PASSWORD)
    _log_in(page, "sari@example.com")
    page.locator("select[name=language]").select_option("id")
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text("Ringkasan")
    page.locator("select[name=language]").select_option("en")
    page.wait_for_url("**/dashboard/")
    expect(page.locator("h1")).to_have_text("Overview")
    page.goto("/dashboard/devices/")
    expect(page.locator("h1")).to_have_text("Devices")  # remembered across pages (cookie)
    page.locator("select[name=language]").select_option("id")
    expect(page.locator("h1")).to_have_text("Perangkat")


def test_a_member_is_refused_the_team_page(page: Page, live: Stack) -> None:
    """The billing page is built on another branch; the team page is the manager-only page here."""
    tenant = tenant_create(name="Toko Tim", owner_email="owner@example.com", owner_password=PASSWORD)
    user = get_user_model().objects.create_user("member@example.com", "member@example.com", PASSWORD)
    Membership.objects.create(tenant=tenant, user=user, role=Membership.Role.MEMBER)

    _log_in(page, "member@example.com")
    expect(page.locator("nav a[href='/dashboard/team/']")).to_have_count(0)
    response = page.goto("/dashboard/team/")
    assert response is not None and response.status == 403
    expect(page.locator("[data-error='403']")).to_be_visible()


def test_the_dashboard_fits_a_phone_screen(page: Page, live: Stack) -> None:
    tenant_create(name="Toko HP", owner_email="hp@example.com", owner_password=PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, "hp@example.com")
    sidebar = page.locator("#sidebar")
    assert sidebar.bounding_box()["x"] < 0  # type: ignore[index]  # off-canvas
    page.locator("[data-toggle-sidebar]").click()
    page.wait_for_function("document.getElementById('sidebar').getBoundingClientRect().x >= 0")
    no_horizontal_scroll = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_horizontal_scroll
