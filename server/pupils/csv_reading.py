"""Reading a roster CSV: size, encoding, delimiter, the header row and its aliases.

A file that cannot be read, or lacks a required column, is refused as a whole (RosterFileError)
before any row is looked at. The column tables say which headers an MIS export may use for each
field; docs/roster-import.md lists them for schools.
"""

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from server.pupils.import_report import RosterFileError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000

# Field -> the headers an MIS export may give it, matched case-insensitively, best first.
PUPIL_COLUMNS: dict[str, tuple[str, ...]] = {
    "upn": ("upn", "unique pupil number"),
    "legal_first_name": (
        "legal forename",
        "legal first name",
        "forename",
        "first name",
        "firstname",
        "given name",
    ),
    "legal_last_name": ("legal surname", "legal last name", "surname", "last name", "lastname"),
    "preferred_first_name": ("preferred forename", "preferred first name", "known as"),
    "preferred_last_name": ("preferred surname", "preferred last name"),
    "date_of_birth": ("dob", "date of birth", "birth date", "birthdate"),
    "year_group": ("year group", "nc year", "national curriculum year", "year", "curriculum year"),
    "class_name": ("reg group", "registration group", "class", "form", "reg", "tutor group"),
}
PUPIL_REQUIRED = ("upn", "legal_first_name", "legal_last_name", "date_of_birth", "year_group")

STAFF_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email", "email address", "school email", "work email", "e mail"),
    "first_name": ("first name", "forename", "firstname", "given name", "legal forename"),
    "last_name": ("last name", "surname", "lastname", "legal surname"),
    "full_name": ("full name", "name", "staff name", "display name"),
    "initials": ("initials", "staff code"),
    "roles": ("roles", "role", "haven roles"),
    "classes": ("classes", "class", "class names", "teaches", "reg group", "registration group"),
}
STAFF_REQUIRED = ("email", "roles")

FIELD_LABELS = {
    "upn": "UPN",
    "legal_first_name": "Legal Forename",
    "legal_last_name": "Legal Surname",
    "date_of_birth": "Date of Birth",
    "year_group": "Year Group",
    "email": "Email",
    "roles": "Roles",
    "first_name": "First Name",
    "last_name": "Last Name",
    "full_name": "Full Name",
}


@dataclass(frozen=True)
class RosterFile:
    """A CSV read and split into rows keyed by our field names."""

    headers: list[str]
    columns: dict[str, str]  # field -> the header that supplies it
    rows: list[tuple[int, dict[str, str]]]
    sha256: str


Source = str | bytes | Path | IO | Iterable[Mapping[str, Any]] | RosterFile


def _header_key(header: str) -> str:
    return " ".join(re.sub(r"[_\-.]+", " ", header.strip().lower()).split())


def _decode(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterFileError(
            "This is an Excel workbook, not a CSV file. In Excel choose File › Save As › "
            "“CSV UTF-8 (Comma delimited)” and upload that."
        )
    if b"\x00" in data:
        raise RosterFileError("This is not a text (CSV) file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Older Excel saves "CSV (Comma delimited)" in the Windows code page.
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise RosterFileError(
            "The file's characters could not be read. Save it as “CSV UTF-8” and try again."
        ) from None


def _read_bytes(source) -> bytes:
    if isinstance(source, Path):
        return source.read_bytes()
    if isinstance(source, bytes):
        return source
    if isinstance(source, str):
        return source.encode("utf-8")
    data = source.read(MAX_FILE_BYTES + 1)
    return data.encode("utf-8") if isinstance(data, str) else data


def _delimiter(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _map_columns(
    headers: list[str], columns: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> dict[str, str]:
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(_header_key(header), header)
    mapped: dict[str, str] = {}
    taken: set[str] = set()
    for name, aliases in columns.items():
        for alias in aliases:
            header = by_key.get(alias)
            if header is not None and header not in taken:
                mapped[name] = header
                taken.add(header)
                break
    missing = [name for name in required if name not in mapped]
    if missing:
        wanted = "; ".join(_describe_column(name, columns[name]) for name in missing)
        found = ", ".join(f"“{header}”" for header in headers if header.strip()) or "none"
        raise RosterFileError(
            f"The file is missing required columns: {wanted}. Columns found: {found}. "
            "Nothing was imported."
        )
    return mapped


def _describe_column(name: str, aliases: tuple[str, ...]) -> str:
    label = FIELD_LABELS.get(name, name)
    others = [f"“{alias}”" for alias in aliases if alias != label.lower()][:3]
    return f"{label} (or {', '.join(others)})" if others else label


def read_roster_csv(
    source: Source, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> RosterFile:
    """Read a CSV into a RosterFile, or refuse it as a whole.

    `source` is a path, the file's bytes, an open file, the CSV text itself (a str), or rows
    already parsed (mappings of header to value).
    """
    if isinstance(source, RosterFile):
        return source
    if not isinstance(source, str | bytes | Path) and not hasattr(source, "read"):
        return _from_mappings(list(source), columns, required)
    data = _read_bytes(source)
    if len(data) > MAX_FILE_BYTES:
        raise RosterFileError("The file is larger than 10 MB: is it the right file?", 413)
    text = _decode(data)
    if not text.strip():
        raise RosterFileError("The file is empty.")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
        table = [row for row in reader]
    except csv.Error as error:
        raise RosterFileError(f"The file is not valid CSV: {error}.") from None
    while table and not any(cell.strip() for cell in table[0]):
        table.pop(0)
    if not table:
        # Text of only quotes, separators and blank lines: no cell holds anything.
        raise RosterFileError("The file is empty: no row has anything in it.")
    headers = [cell.strip() for cell in table[0]]
    mapped = _map_columns(headers, columns, required)
    index = {name: headers.index(header) for name, header in mapped.items()}
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        rows.append((number, {name: _cell(cells, i) for name, i in index.items()}))
    _check_size(rows)
    return RosterFile(headers, mapped, rows, hashlib.sha256(data).hexdigest())


def _from_mappings(records: list[Mapping[str, Any]], columns, required) -> RosterFile:
    headers: list[str] = []
    for item in records:
        headers.extend(key for key in item if key not in headers)
    mapped = _map_columns(headers, columns, required)
    rows = [
        (number, {name: str(item.get(header) or "").strip() for name, header in mapped.items()})
        for number, item in enumerate(records, start=2)
    ]
    _check_size(rows)
    canonical = json.dumps(records, sort_keys=True, default=str).encode()
    return RosterFile(headers, mapped, rows, hashlib.sha256(canonical).hexdigest())


def _check_size(rows: list) -> None:
    if not rows:
        raise RosterFileError(
            "The file has a header row but no rows under it. Nothing was imported."
        )
    if len(rows) > MAX_ROWS:
        raise RosterFileError(f"The file has more than {MAX_ROWS:,} rows: is it the right file?")


def _cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""
