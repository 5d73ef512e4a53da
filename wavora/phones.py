"""Phone and JID normalisation of SPEC §3."""

from __future__ import annotations

import re

from django.conf import settings

from wavora.api.errors import InvalidPhone

_SEPARATORS = re.compile(r"[\s\-().]")
# ASCII digits only: str.isdigit() and \d also accept Arabic-Indic, full-width or superscript digits.
_USER_JID = re.compile(r"^([0-9]{8,15})(?::[0-9]+)?@s\.whatsapp\.net$")
_GROUP_JID = re.compile(r"^[0-9-]{6,40}@g\.us$")
_LID_JID = re.compile(r"^[0-9]{6,20}@lid$")
_DIGITS = re.compile(r"^[0-9]{8,15}$")


def normalize_recipient(value: object, *, field: str = "to") -> str:
    """Digits for a person (``628123456789``) or the JID for a group/LID; raises ``InvalidPhone``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidPhone(f"{field}: a phone number is required.", details={field: ["Required."]})
    raw = value.strip()
    if "@" in raw:
        user = _USER_JID.match(raw)
        if user:
            return user.group(1)
        if _GROUP_JID.match(raw) or _LID_JID.match(raw):
            return raw
        raise InvalidPhone(
            f"{field}: {raw!r} is not a valid WhatsApp JID.", details={field: ["Invalid JID."]}
        )
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = settings.DEFAULT_COUNTRY_CODE + digits[1:]
    if not _DIGITS.match(digits):
        raise InvalidPhone(
            f"{field}: {raw!r} is not a valid phone number (8–15 digits with country code).",
            details={field: ["Invalid phone number."]},
        )
    return digits


def to_jid(recipient: str) -> str:
    return recipient if "@" in recipient else f"{recipient}@s.whatsapp.net"
