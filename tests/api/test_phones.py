"""``wavora.phones.normalize_recipient``: the phone formats SPEC §3 accepts, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from wavora.api.errors import InvalidPhone
from wavora.phones import normalize_recipient, to_jid


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+62 812-3456-7890", "6281234567890"),
        ("+62 (812) 3456.7890", "6281234567890"),
        ("081234567890", "6281234567890"),
        ("0812 3456 7890", "6281234567890"),
        ("6281234567890", "6281234567890"),
        ("006281234567890", "6281234567890"),
        ("  6281234567890  ", "6281234567890"),
        ("+14155550123", "14155550123"),
    ],
)
def test_phone_numbers_are_normalised_to_digits_with_country_code(raw: str, expected: str) -> None:
    assert normalize_recipient(raw) == expected


def test_leading_zero_takes_the_configured_default_country_code(settings: Any) -> None:
    settings.DEFAULT_COUNTRY_CODE = "60"
    assert normalize_recipient("0123456789") == "60123456789"


def test_length_bounds_are_8_and_15_digits_after_normalisation() -> None:
    assert normalize_recipient("12345678") == "12345678"
    assert normalize_recipient("0123456") == "62123456"  # 8 once the country code replaces the 0
    assert normalize_recipient("123456789012345") == "123456789012345"
    with pytest.raises(InvalidPhone):
        normalize_recipient("012345")  # 6212345: 7 digits


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6281234567890@s.whatsapp.net", "6281234567890"),
        ("6281234567890:12@s.whatsapp.net", "6281234567890"),
    ],
)
def test_user_jids_become_their_phone_digits(raw: str, expected: str) -> None:
    assert normalize_recipient(raw) == expected


@pytest.mark.parametrize(
    "jid", ["120363025246125486@g.us", "6281234567890-1617171717@g.us", "123456789012@lid"]
)
def test_group_and_lid_jids_are_kept_as_jids(jid: str) -> None:
    assert normalize_recipient(jid) == jid


@pytest.mark.parametrize(
    "raw",
    [
        "1234567",  # 7 digits: too short
        "1234567890123456",  # 16 digits: too long
        "+62 812 3456 7890 1234",  # too long once separators go
        "62812abc7890",
        "phone",
        "+",
        "",
        "   ",
        "62812#34567890",
        "abc@s.whatsapp.net",
        "6281234567890@example.com",
        "@g.us",
        "6281234567890@s.whatsapp.net@s.whatsapp.net",
    ],
)
def test_invalid_recipients_raise_invalid_phone(raw: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize_recipient(raw)
    assert caught.value.code == "INVALID_PHONE"
    assert caught.value.status_code == 400
    assert "to" in caught.value.details


@pytest.mark.parametrize("raw", [None, 6281234567890, ["6281234567890"]])
def test_non_string_recipients_raise_invalid_phone(raw: object) -> None:
    with pytest.raises(InvalidPhone):
        normalize_recipient(raw)


def test_the_error_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize_recipient("12", field="phone")
    assert set(caught.value.details) == {"phone"}
    assert caught.value.message.startswith("phone:")


@pytest.mark.parametrize(
    "raw",
    [
        "٠٨١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits: str.isdigit() is true for them
        "０８１２３４５６７８９０",  # full-width digits
        "62812³4567890",  # a superscript digit
        "٦٢٨١٢٣٤٥٦٧٨٩@s.whatsapp.net",
    ],
)
def test_non_ascii_digits_are_rejected_not_passed_to_gowa(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_recipient(raw)


def test_to_jid_adds_the_user_server_only_to_bare_numbers() -> None:
    assert to_jid("6281234567890") == "6281234567890@s.whatsapp.net"
    assert to_jid("120363025246125486@g.us") == "120363025246125486@g.us"
