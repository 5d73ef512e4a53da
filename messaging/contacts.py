"""Contacts of a device (seeds 002, 003): captured from inbound 1:1 messages and synced from GOWA's
contact list. Writes and reads both live here; the API is in ``contacts_apis``.

- Capture: the sender of a 1:1 chat. Group members are not captured (a busy group would fill the
  list with people who never wrote to the business), nor are broadcasts or newsletters.
- ``contacts.new`` is emitted once per (device, JID), when a message first brings it in. A sync
  emits one ``contacts.sync`` with counts instead of one event per contact (a first sync can bring
  thousands).
- ``source`` says how the contact was first learned of and never changes; a non-empty name from
  a later message (push name) or sync (contact name) replaces the stored one.
"""

from __future__ import annotations

import csv
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from devices.gowa import GowaClient
from devices.models import Device
from wavora.api.errors import DeviceNotConnected
from webhooks.events import event_emit

from .models import Contact, Message

logger = logging.getLogger(__name__)

# "628123…@s.whatsapp.net", with an optional agent/device suffix ("628123….0:12@…"), or a LID.
_PERSON_JID = re.compile(r"^([0-9]{5,20})(?:\.[0-9]+)?(?::[0-9]+)?@(s\.whatsapp\.net|lid)$")
_SEARCH_SEPARATORS = re.compile(r"[\s\-().+]")

CSV_HEADER = ("phone", "name", "jid", "source", "first_seen_at", "last_seen_at")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def person_identity(jid: str) -> tuple[str, str] | None:
    """(JID, phone digits) of a person; the phone is empty for a LID. None for anything else."""
    match = _PERSON_JID.match(jid.strip())
    if match is None:
        return None
    user, server = match.groups()
    if server == "lid":
        return f"{user}@lid", ""
    return f"{user}@s.whatsapp.net", user


def contact_data(contact: Contact) -> dict[str, Any]:
    """The contact as the API lists it and as ``contacts.new`` carries it."""
    return {
        "id": str(contact.pk),
        "device_id": str(contact.device_id),
        "phone": contact.phone,
        "name": contact.name,
        "jid": contact.jid,
        "source": contact.source,
        "first_seen_at": _iso(contact.first_seen_at),
        "last_seen_at": _iso(contact.last_seen_at),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _push_name(payload: dict[str, Any], phone: str) -> str:
    """The sender's own name: ``from_name``; GOWA's display name only when it is not just the number."""
    name = str(payload.get("from_name") or "").strip()
    if not name:
        display = str(payload.get("sender_display_name") or "").strip()
        if display and display not in (phone, str(payload.get("from") or "").split("@", 1)[0]):
            name = display
    return name[:200]


# --- capture ---------------------------------------------------------------------------------
def capture_from_inbound(*, device: Device, payload: dict[str, Any], message: Message) -> Contact | None:
    """Records the sender of an inbound 1:1 message; the first time, emits ``contacts.new`` in the
    caller's transaction. Returns the contact, or None when the message is not from a person's chat.

    Never raises: a contact that cannot be stored must not lose the inbound message with it."""
    try:
        with transaction.atomic():
            return _capture(device=device, payload=payload, message=message)
    except Exception:
        logger.exception("Capturing the sender of message %s as a contact failed", message.pk)
        return None


def _capture(*, device: Device, payload: dict[str, Any], message: Message) -> Contact | None:
    chat = str(payload.get("chat_id") or "")
    if chat and person_identity(chat) is None:
        return None  # a group, broadcast or newsletter
    identity = person_identity(str(payload.get("from") or chat))
    if identity is None:
        return None
    jid, phone = identity
    name = _push_name(payload, phone)
    seen = message.created_at or timezone.now()
    contact, created = Contact.objects.get_or_create(
        device=device,
        jid=jid,
        defaults={
            "tenant_id": device.tenant_id,
            "phone": phone,
            "name": name,
            "source": Contact.Source.INBOUND,
            "first_seen_at": seen,
            "last_seen_at": seen,
        },
    )
    if created:
        event_emit(
            tenant_id=device.tenant_id, type="contacts.new", device_id=device.pk, data=contact_data(contact)
        )
        return contact
    Contact.objects.filter(pk=contact.pk).update(
        last_seen_at=seen, name=name or F("name"), updated_at=timezone.now()
    )
    contact.last_seen_at = seen
    contact.name = name or contact.name
    return contact


# --- sync ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncResult:
    total: int
    created: int
    updated: int


def _synced_key(device_id: uuid.UUID) -> str:
    return f"contacts:synced:{device_id}"


def contacts_sync_is_recent(*, device: Device) -> bool:
    """True when the device was synced less than CONTACTS_AUTO_SYNC_INTERVAL_SECONDS ago."""
    return cache.get(_synced_key(device.pk)) is not None


def _listed_contacts(items: Iterable[Any]) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        identity = person_identity(str(item.get("jid") or ""))
        if identity is None:
            continue  # groups and newsletters can be in the store too
        jid, phone = identity
        found[jid] = (phone, str(item.get("name") or "").strip()[:200])
    return found


def contacts_sync(*, device: Device) -> SyncResult:
    """Pulls GOWA's ``/user/my/contacts`` and upserts it; emits ``contacts.sync`` with the counts.

    Raises DeviceNotConnected, or the GowaError of a failed call. The GOWA call is made outside any
    transaction; the upsert and the event are one transaction."""
    if device.status != Device.Status.CONNECTED:
        raise DeviceNotConnected(
            f"Device {device.pk} is {device.status}; contacts can only be synced from a connected device.",
            details={"device_status": device.status},
        )
    found = _listed_contacts(GowaClient(device.node).my_contacts(device.gowa_id))
    now = timezone.now()
    with transaction.atomic():
        # One sync of a device at a time, so the counts are those of this sync.
        Device.objects.select_for_update().filter(pk=device.pk).values_list("pk", flat=True).first()
        existing = {
            contact.jid: contact
            for contact in Contact.objects.filter(device=device).only("pk", "jid", "name", "updated_at")
        }
        new = [
            Contact(
                tenant_id=device.tenant_id,
                device=device,
                jid=jid,
                phone=phone,
                name=name,
                source=Contact.Source.SYNC,
                first_seen_at=now,
                last_seen_at=now,
            )
            for jid, (phone, name) in found.items()
            if jid not in existing
        ]
        # ignore_conflicts: an inbound message may capture the same contact meanwhile.
        Contact.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        renamed = []
        for jid, (_phone, name) in found.items():
            contact = existing.get(jid)
            if contact is not None and name and contact.name != name:
                contact.name = name
                contact.updated_at = now
                renamed.append(contact)
        Contact.objects.bulk_update(renamed, ["name", "updated_at"], batch_size=1000)
        result = SyncResult(total=len(found), created=len(new), updated=len(renamed))
        event_emit(
            tenant_id=device.tenant_id,
            type="contacts.sync",
            device_id=device.pk,
            data={"total": result.total, "created": result.created, "updated": result.updated},
        )
    cache.set(_synced_key(device.pk), now.isoformat(), timeout=settings.CONTACTS_AUTO_SYNC_INTERVAL_SECONDS)
    logger.info("Synced contacts of device %s: %s", device.pk, result)
    return result


# --- reads -----------------------------------------------------------------------------------
def contacts_of_device(*, device: Device, search: str = "") -> QuerySet[Contact]:
    """Most recently seen first. ``search`` matches the name, the JID or the phone in any of the
    forms the API accepts (``+62 812-…``, ``0812…``)."""
    contacts = Contact.objects.filter(device=device)
    search = search.strip()
    if search:
        condition = Q(name__icontains=search) | Q(jid__icontains=search) | Q(phone__icontains=search)
        digits = _SEARCH_SEPARATORS.sub("", search)
        if digits.isascii() and digits.isdigit():
            if digits.startswith("0"):
                digits = settings.DEFAULT_COUNTRY_CODE + digits[1:]
            condition |= Q(phone__contains=digits)
        contacts = contacts.filter(condition)
    return contacts.order_by("-last_seen_at", "jid")


def csv_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a ``'`` in front."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def contacts_csv_rows(contacts: QuerySet[Contact]) -> Iterator[list[str]]:
    """The header, then one row per contact, read from the database in chunks."""
    yield list(CSV_HEADER)
    for contact in contacts.iterator(chunk_size=2000):
        yield [
            csv_cell(contact.phone),
            csv_cell(contact.name),
            csv_cell(contact.jid),
            contact.source,
            _iso(contact.first_seen_at),
            _iso(contact.last_seen_at),
        ]


class _Echo:
    """A file whose ``write`` hands the line back, so the csv module can feed a streamed response."""

    def write(self, value: str) -> str:
        return value


def contacts_csv_lines(contacts: QuerySet[Contact]) -> Iterator[str]:
    """The export as CSV text lines (formulas escaped), for a streamed download."""
    writer = csv.writer(_Echo())
    return (writer.writerow(row) for row in contacts_csv_rows(contacts))
