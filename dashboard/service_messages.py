"""Service refusals in the user's language on dashboard pages.

The services raise `WavoraError`s with English messages because the API speaks English (SPEC §3);
they stay so. A dashboard page passes a message it shows (a form error, a flash message) through
`service_message`/`service_detail`: the common refusals a dashboard user meets are translated here,
the rest (rare, admin-only or API-only ones) are shown as they are.
"""

from __future__ import annotations

import re

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from wavora.api.errors import WavoraError

# Whole messages, exactly as the services write them.
MESSAGES: dict[str, Promise] = {
    "This device's subscription is not active. Renew it to send messages.": _(
        "This device's subscription is not active. Renew it to send messages."
    ),
    "No WhatsApp gateway node has room for a new device. Please try again later.": _(
        "No WhatsApp gateway node has room for a new device. Please try again later."
    ),
    "The payment gateway could not open a checkout. Please try again.": _(
        "The payment gateway could not open a checkout. Please try again."
    ),
    "proof: the file is empty.": _("The file is empty."),
    "DOKU payments are confirmed by DOKU; no proof is needed.": _(
        "DOKU payments are confirmed by DOKU; no proof is needed."
    ),
}

# Messages with values in them: the pattern's named groups fill the translation.
PATTERNS: tuple[tuple[re.Pattern[str], Promise], ...] = (
    (
        re.compile(
            r"Your plan allows (?P<limit>\d+) device\(s\) and you have (?P<live>\d+)\. "
            r"Delete a device or upgrade to add another\."
        ),
        _(
            "Your plan allows %(limit)s device(s) and you have %(live)s. Delete a device or upgrade to add another."  # noqa: E501
        ),
    ),
    (
        re.compile(r"Device \S+ is \w+; contacts can only be synced from a connected device\."),
        _("Contacts can only be synced from a connected device."),
    ),
    (
        re.compile(r"Device \S+ is \w+, not connected\..*"),
        _("The device is not connected to WhatsApp. Link it first."),
    ),
    (
        re.compile(r"The (?P<plan>.+) plan allows (?P<quota>\d+) messages per period .*"),
        _("The %(plan)s plan's message quota for this period is used up."),
    ),
    (
        re.compile(r"A URL is required\."),
        _("A URL is required."),
    ),
    (
        re.compile(r"This is not a valid URL\."),
        _("This is not a valid URL."),
    ),
    (
        re.compile(r"Only http and https URLs are allowed, not (?P<scheme>.+)\."),
        _("Only http and https URLs are allowed, not %(scheme)s."),
    ),
    (
        re.compile(r"The host (?P<host>\S+) could not be resolved\."),
        _("The host %(host)s could not be resolved."),
    ),
    (
        re.compile(
            r"The host (?P<host>\S+) resolves to (?P<problem>.+); "
            r"Wavora only fetches public internet addresses\."
        ),
        _("The host %(host)s resolves to %(problem)s; Wavora only fetches public internet addresses."),
    ),
    (
        re.compile(r"(?P<host>\S+) is a cloud metadata endpoint; Wavora never fetches it\."),
        _("%(host)s is a cloud metadata endpoint; Wavora never fetches it."),
    ),
    (
        re.compile(r"\w+: '.*' is not a valid phone number \(8–15 digits with country code\)\."),
        _("Invalid phone number: use 8–15 digits with the country code."),
    ),
)

# Parts of messages that are translated on their own (the kind of address a URL was refused for).
TERMS: dict[str, Promise] = {
    "a cloud metadata endpoint": _("a cloud metadata endpoint"),
    "a loopback address": _("a loopback address"),
    "an unspecified address": _("an unspecified address"),
    "a link-local address": _("a link-local address"),
    "a site-local address": _("a site-local address"),
    "a multicast address": _("a multicast address"),
    "a shared (carrier-grade NAT) address": _("a shared (carrier-grade NAT) address"),
    "a reserved address": _("a reserved address"),
    "a private address": _("a private address"),
    "a non-public address": _("a non-public address"),
}

# Per-field details (`WavoraError.details`), shown under the form field they name.
DETAILS: dict[str, Promise] = {
    "Required.": _("This field is required."),
    "Invalid phone number.": _("Invalid phone number."),
    "Invalid JID.": _("Invalid JID."),
    "Phone number expected.": _("Phone number expected."),
    "The file is empty.": _("The file is empty."),
    "Unknown plan.": _("Unknown plan."),
}


def service_message(message: str) -> str:
    """A service's English message in the active language when it is a common one, else unchanged."""
    known = MESSAGES.get(message)
    if known is not None:
        return str(known)
    for pattern, translation in PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            values = {name: str(TERMS.get(value, value)) for name, value in match.groupdict().items()}
            return str(translation) % values
    return message


def service_detail(problem: object) -> str:
    """One field detail of a service error, translated when it is a common one."""
    text = str(problem)
    known = DETAILS.get(text)
    return str(known) if known is not None else service_message(text)


def error_message(exc: WavoraError) -> str:
    return service_message(exc.message)
