"""QRIS: CRC-16/CCITT-FALSE, EMVCo TLV parse/build, and the dynamic QRIS made for an invoice."""

from __future__ import annotations

import pytest
from django.conf import settings

from billing import qris

STATIC = (
    "00020101021126440018ID.CO.QRIS.WWW0215ID10200000000010303UMI51440014ID.CO.QRIS.WWW0215"
    "ID20232345678910303UMI5204737253033605802ID5910WAVORA DEV6007JAKARTA61051011062070703A016304B273"
)


def test_crc16_ccitt_false_matches_the_standard_check_value() -> None:
    assert qris.crc_hex("123456789") == "29B1"
    assert qris.crc16_ccitt_false(b"") == 0xFFFF


def test_a_static_payload_parses_into_its_fields_and_its_crc_is_checked() -> None:
    fields = qris.parse(STATIC)
    assert fields[0] == ("00", "01")
    assert qris.field_value(fields, "01") == "11"
    assert qris.field_value(fields, "59") == "WAVORA DEV"
    assert fields[-1] == ("63", "B273")
    with pytest.raises(qris.QrisError, match="CRC mismatch"):
        qris.parse(STATIC[:-4] + "0000")
    with pytest.raises(qris.QrisError):
        qris.parse(STATIC[:-10])


def test_the_dynamic_qris_carries_the_amount_is_dynamic_and_round_trips() -> None:
    dynamic = qris.dynamic_from_static(STATIC, amount=166_500)
    fields = qris.parse(dynamic)  # a wrong CRC would raise
    assert qris.field_value(fields, "01") == "12"
    assert qris.field_value(fields, "54") == "166500"
    assert [tag for tag, _ in fields] == sorted(tag for tag, _ in fields)  # 54 sits between 53 and 58
    assert qris.build(fields) == dynamic
    assert dynamic.endswith("6304" + qris.crc_hex(dynamic[:-4]))
    # everything else of the merchant's payload is kept
    assert [f for f in fields if f[0] not in ("01", "54", "63")] == [
        f for f in qris.parse(STATIC) if f[0] not in ("01", "63")
    ]


def test_an_amount_already_in_the_payload_is_replaced_not_doubled() -> None:
    first = qris.dynamic_from_static(STATIC, amount=1000)
    second = qris.dynamic_from_static(first, amount=2500)
    assert [value for tag, value in qris.parse(second) if tag == "54"] == ["2500"]


def test_zero_or_negative_amounts_are_refused() -> None:
    with pytest.raises(qris.QrisError):
        qris.dynamic_from_static(STATIC, amount=0)


def test_the_configured_platform_payload_is_valid() -> None:
    qris.parse(settings.QRIS_STATIC_PAYLOAD)
