"""Indonesian and English: every dashboard string translated, the committed .mo current, the choice kept."""

from __future__ import annotations

import gettext
from pathlib import Path

import polib  # type: ignore[import-untyped]
from django.conf import settings
from django.test import Client

from tests.conftest import Actor

PO = Path(settings.BASE_DIR) / "locale" / "id" / "LC_MESSAGES" / "django.po"


def test_every_indonesian_entry_is_translated_and_none_is_fuzzy() -> None:
    po = polib.pofile(str(PO))
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []


def test_the_committed_mo_file_matches_the_po_file() -> None:
    """Run `python scripts/compile_messages.py` after editing the .po file."""
    with PO.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [
        e.msgid for e in polib.pofile(str(PO)) if not e.msgid_plural and compiled.gettext(e.msgid) != e.msgstr
    ]
    assert stale == []


def test_indonesian_is_the_default_and_english_is_one_switch_away(client: Client, alice: Actor) -> None:
    client.force_login(alice.user)
    page = client.get("/dashboard/")
    assert b'<html lang="id">' in page.content
    assert b"Ringkasan" in page.content
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/dashboard/devices/"})
    assert switched.status_code == 302
    assert switched["Location"] == "/dashboard/devices/"
    assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get("/dashboard/")
    assert b'<html lang="en">' in page.content
    assert b"Overview" in page.content
    assert b"Ringkasan" not in page.content


def test_the_log_in_page_offers_the_language_switch(client: Client, db: None) -> None:
    page = client.get("/accounts/login/")
    assert b'action="/i18n/setlang/"' in page.content
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert b"Forgot your password?" in client.get("/accounts/login/").content
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    assert b"Lupa kata sandi?" in client.get("/accounts/login/").content
