"""QRIS (EMVCo merchant-presented QR) payloads: TLV parse/build, CRC-16/CCITT-FALSE, static → dynamic.

Pure functions only. A QRIS payload is a run of ``ID(2) LEN(2) VALUE`` fields; the last one is the
CRC (tag 63, length 04) computed over everything before its value, ``6304`` included."""

from __future__ import annotations

TAG_POINT_OF_INITIATION = "01"
TAG_AMOUNT = "54"
TAG_CRC = "63"
STATIC = "11"
DYNAMIC = "12"


class QrisError(ValueError):
    pass


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def crc_hex(data: str) -> str:
    return f"{crc16_ccitt_false(data.encode()):04X}"


def parse(payload: str) -> list[tuple[str, str]]:
    """``[(tag, value), …]`` in order; raises QrisError on a malformed payload or a wrong CRC."""
    fields: list[tuple[str, str]] = []
    position = 0
    while position < len(payload):
        header = payload[position : position + 4]
        if len(header) < 4 or not header.isdigit():
            raise QrisError(f"malformed field header at position {position}")
        tag, length = header[:2], int(header[2:])
        value = payload[position + 4 : position + 4 + length]
        if len(value) != length:
            raise QrisError(f"field {tag} is shorter than its length {length}")
        fields.append((tag, value))
        position += 4 + length
    if not fields or fields[-1][0] != TAG_CRC or len(fields[-1][1]) != 4:
        raise QrisError("the payload does not end with a CRC field (6304…)")
    expected = crc_hex(payload[:-4])
    if fields[-1][1].upper() != expected:
        raise QrisError(f"CRC mismatch: payload says {fields[-1][1]}, computed {expected}")
    return fields


def build(fields: list[tuple[str, str]]) -> str:
    """Serialises ``fields`` (any CRC field among them is dropped) and appends a fresh CRC."""
    body = ""
    for tag, value in fields:
        if tag == TAG_CRC:
            continue
        if len(tag) != 2 or not tag.isdigit() or len(value) > 99:
            raise QrisError(f"field {tag!r} cannot be encoded")
        body += f"{tag}{len(value):02d}{value}"
    body += f"{TAG_CRC}04"
    return body + crc_hex(body)


def field_value(fields: list[tuple[str, str]], tag: str) -> str | None:
    return next((value for t, value in fields if t == tag), None)


def dynamic_from_static(static_payload: str, *, amount: int) -> str:
    """The platform's static QRIS with point of initiation ``12`` and the amount (tag 54) set.

    Tag 54 sits in ascending tag order (after 53, the currency) as EMVCo lays fields out."""
    if amount <= 0:
        raise QrisError("amount must be a positive number of rupiah")
    fields = [(tag, value) for tag, value in parse(static_payload) if tag not in (TAG_AMOUNT, TAG_CRC)]
    fields = [(tag, DYNAMIC if tag == TAG_POINT_OF_INITIATION else value) for tag, value in fields]
    if field_value(fields, TAG_POINT_OF_INITIATION) is None:
        fields.insert(1, (TAG_POINT_OF_INITIATION, DYNAMIC))
    index = next((i for i, (tag, _) in enumerate(fields) if tag > TAG_AMOUNT), len(fields))
    fields.insert(index, (TAG_AMOUNT, str(amount)))
    return build(fields)
