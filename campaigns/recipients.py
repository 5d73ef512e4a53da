"""Recipients from a CSV upload or a JSON list: phones normalised (SPEC §3), errors numbered by row,
duplicates reported and dropped; and the ``{{Column}}`` templates filled from a recipient's fields.

Pure functions over streams: a 100,000-row file is read row by row, never held whole."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from wavora.api.errors import InvalidPhone, ValidationFailed
from wavora.phones import normalize_recipient

PHONE_COLUMNS = ("phone", "number", "phonenumber", "nomor", "nohp", "nomorhp", "whatsapp", "wa", "hp", "to")
NAME_COLUMNS = ("name", "nama")
# Seed 001's placeholders ({{Company}} → companyName) and their usual spellings.
ALIASES = {"company": "companyname", "perusahaan": "companyname", "title": "jobtitle", "jabatan": "jobtitle"}
BUILTINS = frozenset({"name", "nama", "phone", "number"})
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
TEMPLATE_HEADER = ["phone", "name", "companyName", "jobTitle"]
TEMPLATE_ROWS = [
    ["081234567890", "Budi Santoso", "Toko Maju", "Pemilik"],
    ["+62 812-3456-7891", "Siti Rahma", "CV Sejahtera", "Manager"],
]
MAX_FIELD_LENGTH = 1000


def norm_key(key: str) -> str:
    """``Company Name``, ``company_name`` and ``companyName`` are one column."""
    return re.sub(r"[^0-9a-z]", "", key.lower())


@dataclass
class Recipient:
    phone: str
    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    row: int | None = None


@dataclass
class RowError:
    row: int
    field: str
    message: str
    value: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message, "value": self.value}


@dataclass
class Duplicate:
    row: int
    phone: str
    first_row: int

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "phone": self.phone, "first_row": self.first_row}


Item = Recipient | RowError | Duplicate


@dataclass
class Preview:
    """Counts of a whole stream, with only its first rows of each kind kept (memory stays flat)."""

    recipients: list[Recipient] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    duplicate_rows: list[dict[str, Any]] = field(default_factory=list)
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0


def preview(items: Iterable[Item], *, keep: int, keep_problems: int) -> Preview:
    """Reads every item, keeping the first ``keep`` recipients and ``keep_problems`` errors/duplicates."""
    result = Preview()
    for item in items:
        if isinstance(item, Recipient):
            result.valid += 1
            if len(result.recipients) < keep:
                result.recipients.append(item)
        elif isinstance(item, RowError):
            result.invalid += 1
            if len(result.errors) < keep_problems:
                result.errors.append(item.as_dict())
        else:
            result.duplicates += 1
            if len(result.duplicate_rows) < keep_problems:
                result.duplicate_rows.append(item.as_dict())
    return result


def recipient_from_mapping(raw: dict[str, Any], row: int) -> Recipient | RowError:
    """One row (CSV or JSON) → a recipient with a normalised phone, or the error naming the field."""
    phone_key = next((k for k in raw if norm_key(str(k)) in PHONE_COLUMNS), None)
    if phone_key is None or not str(raw.get(phone_key) or "").strip():
        return RowError(row=row, field="phone", message="A phone number is required.")
    value = str(raw[phone_key]).strip()
    try:
        phone = normalize_recipient(value, field="phone")
    except InvalidPhone as exc:
        return RowError(
            row=row, field="phone", message=exc.message.removeprefix("phone: "), value=value[:100]
        )
    name = ""
    fields: dict[str, str] = {}
    for key, cell in raw.items():
        if key == phone_key or key is None:
            continue
        text = "" if cell is None else str(cell).strip()
        if "\x00" in text or "\x00" in str(key):
            # PostgreSQL cannot store it, and no real name or column has one.
            return RowError(
                row=row, field=str(key).replace("\x00", ""), message="NUL characters are not allowed."
            )
        if len(text) > MAX_FIELD_LENGTH:
            return RowError(row=row, field=str(key), message=f"At most {MAX_FIELD_LENGTH} characters.")
        if norm_key(str(key)) in NAME_COLUMNS and not name:
            name = text[:200]
        else:
            fields[str(key)] = text
    return Recipient(phone=phone, name=name, fields=fields, row=row)


def dedupe(items: Iterable[Recipient | RowError]) -> Iterator[Item]:
    """Drops repeats of a phone (the first row wins), reporting each as a ``Duplicate``."""
    first: dict[str, int] = {}
    for item in items:
        if isinstance(item, Recipient):
            seen = first.get(item.phone)
            if seen is not None:
                yield Duplicate(row=item.row or 0, phone=item.phone, first_row=seen)
                continue
            first[item.phone] = item.row or 0
        yield item


def from_json(rows: list[Any]) -> Iterator[Item]:
    """Seed 001's ``recipients``: ``{number|phone, name, companyName, jobTitle, …}`` (row = index + 1)."""

    def parsed() -> Iterator[Recipient | RowError]:
        for index, raw in enumerate(rows, start=1):
            if isinstance(raw, str):
                raw = {"phone": raw}
            if not isinstance(raw, dict):
                yield RowError(row=index, field="recipient", message="Expected an object with a phone.")
                continue
            yield recipient_from_mapping(raw, index)

    return dedupe(parsed())


def sniff_delimiter(header_line: str) -> str:
    """Semicolon (Excel in Indonesian/European locales), comma or tab — whichever the header uses most."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class CsvReader:
    """Streams a CSV upload (UTF-8, with or without BOM) line by line; ``header`` is known at once.

    Each line is decoded on its own, so a stray non-UTF-8 byte is an error on its row, not the file's."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._lines = iter(raw)
        self._bad_lines: set[int] = set()
        self._line_count = 0
        first = next(self._decoded(), "")
        if 1 in self._bad_lines:
            raise ValidationFailed(
                "file: the CSV is not UTF-8 text (save it as “CSV UTF-8”).",
                details={"file": ["Not UTF-8 text."]},
            )
        if not first.strip():
            raise ValidationFailed(
                "file: the CSV is empty; its first row must name the columns (phone, name, …).",
                details={"file": ["Empty file or no header row."]},
            )
        self.delimiter = sniff_delimiter(first)
        self.header = [h.strip() for h in next(csv.reader([first], delimiter=self.delimiter))]
        if not any(norm_key(h) in PHONE_COLUMNS for h in self.header):
            raise ValidationFailed(
                f"file: no phone column in the header {self.header[:10]}; name one of "
                "phone, number, nomor, no_hp, whatsapp.",
                details={"file": ["The header needs a phone column."]},
            )
        blank = [i + 1 for i, h in enumerate(self.header) if not h]
        if blank:
            raise ValidationFailed(
                f"file: column {blank[0]} of the header has no name.",
                details={"file": [f"Header column {blank[0]} is empty."]},
            )

    def _decoded(self) -> Iterator[str]:
        for raw_line in self._lines:
            self._line_count += 1
            if self._line_count == 1 and raw_line.startswith(codecs.BOM_UTF8):
                raw_line = raw_line[len(codecs.BOM_UTF8) :]
            try:
                yield raw_line.decode("utf-8")
            except UnicodeDecodeError:
                self._bad_lines.add(self._line_count)
                yield raw_line.decode("utf-8", errors="replace")

    def _rows(self) -> Iterator[Recipient | RowError]:
        reader = csv.reader(self._decoded(), delimiter=self.delimiter)
        last_line = 1  # the header
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(row=last_line + 1, field="file", message=f"Malformed CSV: {exc}.")
                return
            first_line, last_line = last_line + 1, self._line_count
            if any(n in self._bad_lines for n in range(first_line, last_line + 1)):
                yield RowError(
                    row=first_line, field="row", message="Not UTF-8 text (save it as “CSV UTF-8”)."
                )
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(self.header):
                yield RowError(
                    row=first_line,
                    field="row",
                    message=f"{len(cells)} cells but the header has {len(self.header)} columns.",
                )
                continue
            yield recipient_from_mapping(dict(zip(self.header, cells, strict=False)), first_line)

    def __iter__(self) -> Iterator[Item]:
        return dedupe(self._rows())


# --- templates -------------------------------------------------------------------------------
def placeholders(template: Any) -> set[str]:
    """Every ``{{Name}}`` in the string values of a message body (nested too)."""
    found: set[str] = set()
    if isinstance(template, str):
        found.update(m.strip() for m in PLACEHOLDER.findall(template))
    elif isinstance(template, dict):
        for value in template.values():
            found |= placeholders(value)
    elif isinstance(template, list):
        for value in template:
            found |= placeholders(value)
    return found


def resolve_key(placeholder: str, known: Iterable[str]) -> str | None:
    """The normalised recipient field a placeholder refers to, or None when no recipient has it."""
    key = norm_key(placeholder)
    known = set(known) | BUILTINS
    if key in known:
        return key
    alias = ALIASES.get(key)
    return alias if alias in known else None


def unknown_placeholders(template: Any, known: Iterable[str]) -> list[str]:
    known = set(known)
    return sorted(p for p in placeholders(template) if resolve_key(p, known) is None)


def lookup_of(recipient: Recipient) -> dict[str, str]:
    values = {norm_key(k): v for k, v in recipient.fields.items()}
    values.update({"name": recipient.name, "nama": recipient.name, "phone": recipient.phone})
    values["number"] = recipient.phone
    return values


def render(template: Any, values: dict[str, str]) -> Any:
    """The body with each placeholder replaced by the recipient's value (empty when it has none)."""
    if isinstance(template, str):

        def fill(match: re.Match[str]) -> str:
            key = norm_key(match.group(1))
            if key not in values:
                key = ALIASES.get(key, key)
            return values.get(key, "")

        return PLACEHOLDER.sub(fill, template)
    if isinstance(template, dict):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template


def csv_template() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TEMPLATE_HEADER)
    writer.writerows(TEMPLATE_ROWS)
    return out.getvalue()
