"""Importing the school roll from a CSV exported by the MIS (SIMS, Arbor, Bromcom).

`import_pupils` and `import_staff` are what the `flask roster` commands and the admin page call.
Each row stands alone: a bad row is refused with its reason and writes nothing, good rows are
imported. A whole file is refused (RosterFileError) when it cannot be read or lacks a required
column. See docs/roster-import.md for the columns a school's export may use.
"""

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

from server.audit.operations import record
from server.auth import accounts
from server.auth.models import User
from server.auth.operations import AuthError, normalise_email
from server.auth.roles import Permission, Role
from server.clock import school_today
from server.extensions import db
from server.pupils.models import Pupil, SchoolClass
from server.pupils.upn import normalise_upn, upn_problem
from server.pupils.years import parse_year_group

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
NAME_LENGTH = 80
CLASS_NAME_LENGTH = 40

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

# How staff files may name a role, besides its value and label.
ROLE_ALIASES: dict[str, Role] = {
    "teacher": Role.CLASS_TEACHER,
    "class teacher": Role.CLASS_TEACHER,
    "form tutor": Role.CLASS_TEACHER,
    "ct": Role.CLASS_TEACHER,
    "dsl": Role.DSL,
    "deputy dsl": Role.DSL,
    "ddsl": Role.DSL,
    "designated safeguarding lead": Role.DSL,
    "deputy designated safeguarding lead": Role.DSL,
    "slt": Role.SLT,
    "senior leadership team": Role.SLT,
    "senior leader": Role.SLT,
    "pastoral manager": Role.PASTORAL,
    "pastoral assistant": Role.PASTORAL,
    "admin": Role.ADMIN,
    "office": Role.ADMIN,
    "office manager": Role.ADMIN,
    "teaching assistant": Role.STAFF,
    "ta": Role.STAFF,
    "support staff": Role.STAFF,
}

_UK_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_MIDNIGHT = re.compile(r"[ T]00:00(?::00)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LIST_SEPARATOR = re.compile(r"[;,]")


class RosterFileError(Exception):
    """The file as a whole cannot be imported; nothing was written."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


class RowProblem(Exception):
    """One row cannot be imported, for the reason given."""


@dataclass(frozen=True)
class RefusedRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    key: str  # the row's UPN or email, as written in the file
    reason: str


@dataclass(frozen=True)
class Change:
    key: str
    name: str
    detail: str = ""


@dataclass
class ImportReport:
    kind: str  # "pupils" or "staff"
    dry_run: bool
    sha256: str
    rows: int = 0
    created: list[Change] = field(default_factory=list)
    updated: list[Change] = field(default_factory=list)
    unchanged: int = 0
    marked_left: list[Change] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    # Pupils: leavers not marked because some rows were refused (the safety rule).
    leavers_withheld: int = 0
    # Staff: active accounts not in the file (reported, never disabled by an import).
    not_in_file: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "marked_left": len(self.marked_left),
            "refused": len(self.refused),
        }

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        parts = [
            f"{len(self.created)} {would}created",
            f"{len(self.updated)} {would}updated",
            f"{self.unchanged} unchanged",
        ]
        if self.kind == "pupils":
            parts.append(f"{len(self.marked_left)} {would}marked as left")
        parts.append(f"{len(self.refused)} refused")
        noun = "pupil" if self.kind == "pupils" else "staff"
        return f"{self.rows} {noun} rows: " + ", ".join(parts) + "."


@dataclass(frozen=True)
class RosterFile:
    """A CSV read and split into rows keyed by our field names."""

    headers: list[str]
    columns: dict[str, str]  # field -> the header that supplies it
    rows: list[tuple[int, dict[str, str]]]
    sha256: str


Source = str | bytes | Path | IO | Iterable[Mapping[str, Any]] | RosterFile


# Reading the file ---------------------------------------------------------------------------


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


# Cleaning values ----------------------------------------------------------------------------


def parse_date(text: str) -> date:
    """DD/MM/YYYY (as UK exports write it) or YYYY-MM-DD."""
    value = _MIDNIGHT.sub("", text.strip())
    try:
        if match := _UK_DATE.match(value):
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        if match := _ISO_DATE.match(value):
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day)
    except ValueError:
        raise RowProblem(f"“{text}” is not a real date.") from None
    raise RowProblem(f"“{text}” is not a date in the form DD/MM/YYYY or YYYY-MM-DD.")


def _name(value: str, label: str, *, required: bool = True) -> str | None:
    value = " ".join(value.split())
    if not value:
        if required:
            raise RowProblem(f"The {label} is missing.")
        return None
    if _CONTROL.search(value):
        raise RowProblem(f"The {label} contains a control character.")
    if len(value) > NAME_LENGTH:
        raise RowProblem(f"The {label} is longer than {NAME_LENGTH} characters.")
    return value


def _date_of_birth(text: str, today: date) -> date:
    if not text:
        raise RowProblem("The date of birth is missing.")
    born = parse_date(text)
    if born > today:
        raise RowProblem(f"The date of birth {text} is in the future.")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if not 1 <= age <= 25:
        raise RowProblem(f"The date of birth {text} makes the pupil {age}: is it mistyped?")
    return born


def _year_group(text: str) -> str:
    if not text:
        raise RowProblem("The year group is missing.")
    year = parse_year_group(text)
    if year is None:
        raise RowProblem(f"“{text}” is not a year group (use N, R or 1 to 13, or “Year 3”).")
    return year


def _class_name(text: str) -> str | None:
    name = " ".join(text.split())
    if len(name) > CLASS_NAME_LENGTH:
        raise RowProblem(f"The class name is longer than {CLASS_NAME_LENGTH} characters.")
    if _CONTROL.search(name):
        raise RowProblem("The class name contains a control character.")
    return name or None


@dataclass(frozen=True)
class PupilRow:
    upn: str
    legal_first_name: str
    legal_last_name: str
    preferred_first_name: str | None
    preferred_last_name: str | None
    date_of_birth: date
    year_group: str
    class_name: str | None

    @property
    def name(self) -> str:
        return f"{self.preferred_first_name or self.legal_first_name} " + (
            self.preferred_last_name or self.legal_last_name
        )


def clean_pupil_row(raw: dict[str, str], today: date) -> PupilRow:
    upn = normalise_upn(raw.get("upn"))
    if problem := upn_problem(upn):
        raise RowProblem(problem)
    first = _name(raw.get("legal_first_name", ""), "legal forename")
    last = _name(raw.get("legal_last_name", ""), "legal surname")
    preferred_first = _name(
        raw.get("preferred_first_name", ""), "preferred forename", required=False
    )
    preferred_last = _name(raw.get("preferred_last_name", ""), "preferred surname", required=False)
    return PupilRow(
        upn=upn,
        legal_first_name=first,
        legal_last_name=last,
        preferred_first_name=None if preferred_first == first else preferred_first,
        preferred_last_name=None if preferred_last == last else preferred_last,
        date_of_birth=_date_of_birth(raw.get("date_of_birth", ""), today),
        year_group=_year_group(raw.get("year_group", "")),
        class_name=_class_name(raw.get("class_name", "")),
    )


# Pupils -------------------------------------------------------------------------------------

_PUPIL_FIELDS = (
    "legal_first_name",
    "legal_last_name",
    "preferred_first_name",
    "preferred_last_name",
    "date_of_birth",
    "year_group",
)


class _Roll:
    """The existing roll and classes, loaded once for the whole file."""

    def __init__(self):
        self.pupils = {pupil.upn: pupil for pupil in db.session.scalars(select(Pupil))}
        self.classes = {
            school_class.name.casefold(): school_class
            for school_class in db.session.scalars(select(SchoolClass))
        }

    def school_class(self, name: str | None, year_group: str) -> SchoolClass | None:
        if name is None:
            return None
        found = self.classes.get(name.casefold())
        if found is None:
            found = SchoolClass(name=name, year_group=year_group)
            db.session.add(found)
            self.classes[name.casefold()] = found
        return found


def _apply_pupil(roll: _Roll, row: PupilRow) -> tuple[str, Change | None]:
    school_class = roll.school_class(row.class_name, row.year_group)
    pupil = roll.pupils.get(row.upn)
    if pupil is None:
        pupil = Pupil(upn=row.upn, on_roll=True, school_class=school_class)
        for name in _PUPIL_FIELDS:
            setattr(pupil, name, getattr(row, name))
        db.session.add(pupil)
        roll.pupils[row.upn] = pupil
        return "created", Change(row.upn, row.name, row.class_name or "no class")
    changes = [name for name in _PUPIL_FIELDS if getattr(pupil, name) != getattr(row, name)]
    for name in changes:
        setattr(pupil, name, getattr(row, name))
    if pupil.school_class is not school_class:
        before = pupil.school_class.name if pupil.school_class else "no class"
        changes.append(f"class {before} → {row.class_name or 'no class'}")
        pupil.school_class = school_class
    if not pupil.on_roll:
        pupil.on_roll, pupil.left_on = True, None
        changes.append("back on roll")
    if not changes:
        return "unchanged", None
    return "updated", Change(row.upn, row.name, ", ".join(c.replace("_", " ") for c in changes))


def import_pupils(
    rows_or_file: Source,
    *,
    mark_leavers: bool = True,
    dry_run: bool = False,
    progress: Callable[[int], Any] | None = None,
    by: User | None = None,
) -> ImportReport:
    """Create and update pupils by UPN, and mark those on roll but missing from the file as left.

    Leavers are marked only when every row was accepted: a refused row may be a pupil who is
    still in school. The caller commits; a dry run leaves nothing to commit.
    """
    _check_permission(by)
    roster = read_roster_csv(rows_or_file, PUPIL_COLUMNS, PUPIL_REQUIRED)
    report = ImportReport("pupils", dry_run, roster.sha256, rows=len(roster.rows))
    today = school_today()
    keys = [normalise_upn(raw.get("upn")) for _, raw in roster.rows]
    duplicates = _duplicates(roster.rows, keys)
    with _transaction(dry_run):
        roll = _Roll()
        for (number, raw), key in zip(roster.rows, keys, strict=True):
            shown = raw.get("upn", "")
            if key in duplicates:
                _refuse_duplicate(report, number, shown, "UPN", duplicates[key])
            else:
                _import_row(
                    report,
                    number,
                    shown,
                    lambda raw=raw: clean_pupil_row(raw, today),
                    lambda row: _apply_pupil(roll, row),
                )
            if progress:
                progress(1)
        _mark_leavers(roll, set(keys), mark_leavers, today, report)
        if not dry_run:
            _audit("roster.pupils_imported", report, by, mark_leavers=mark_leavers)
    return report


def _mark_leavers(roll: _Roll, in_file: set[str], mark_leavers: bool, today, report) -> None:
    absent = [p for upn, p in roll.pupils.items() if p.on_roll and upn not in in_file]
    if not mark_leavers or not absent:
        return
    if report.refused:
        report.leavers_withheld = len(absent)
        report.notes.append(
            f"{len(absent)} pupils on roll are not in this file, but because some rows were "
            f"refused nobody {'would be' if report.dry_run else 'has been'} marked as left (a "
            "refused row may be a pupil still in school). Correct the refused rows and import "
            "the file again."
        )
        return
    for pupil in sorted(absent, key=lambda p: (p.legal_last_name, p.legal_first_name)):
        pupil.on_roll, pupil.left_on = False, today
        report.marked_left.append(Change(pupil.upn, pupil.display_name, f"left {today:%d/%m/%Y}"))
    db.session.flush()


# Shared by both imports ---------------------------------------------------------------------


@contextmanager
def _transaction(dry_run: bool):
    """A dry run does everything inside a savepoint and rolls it back: exactly what would
    happen, and nothing written."""
    if not dry_run:
        yield
        db.session.flush()
        return
    savepoint = db.session.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()


def _duplicates(rows, keys: list[str]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for (number, _), key in zip(rows, keys, strict=True):
        if key:
            seen.setdefault(key, []).append(number)
    return {key: numbers for key, numbers in seen.items() if len(numbers) > 1}


def _refuse_duplicate(report, number: int, shown: str, what: str, numbers: list[int]) -> None:
    listed = " and ".join(str(n) for n in numbers)
    reason = f"{what} {shown} is on more than one row ({listed}): none of them was imported."
    report.refused.append(RefusedRow(number, shown, reason))


def _import_row(report: ImportReport, number: int, shown: str, clean, apply) -> None:
    """Check one row, then write it inside a savepoint so that a failure leaves nothing."""
    try:
        row = clean()
        with db.session.begin_nested():
            outcome, change = apply(row)
            db.session.flush()
    except RowProblem as problem:
        report.refused.append(RefusedRow(number, shown, str(problem)))
        return
    except AuthError as problem:
        report.refused.append(RefusedRow(number, shown, problem.message))
        return
    if outcome == "created":
        report.created.append(change)
    elif outcome == "updated":
        report.updated.append(change)
    else:
        report.unchanged += 1


def _check_permission(by: User | None) -> None:
    if by is not None and not by.can(Permission.MANAGE_ROSTER):
        raise RosterFileError("You do not have permission to import the roster.", 403)


def _audit(action: str, report: ImportReport, by: User | None, **extra) -> None:
    record(
        action,
        object_type="roster",
        actor=by,
        details={**report.counts(), "sha256": report.sha256, **extra},
    )


# Staff --------------------------------------------------------------------------------------


def _role_lookup() -> dict[str, Role]:
    lookup = dict(ROLE_ALIASES)
    for role in Role:
        lookup[role.value] = role
        lookup[role.value.replace("_", " ")] = role
        lookup[role.label.lower()] = role
    return lookup


def parse_roles(text: str) -> set[Role]:
    lookup = _role_lookup()
    roles, unknown = set(), []
    for part in _LIST_SEPARATOR.split(text):
        key = " ".join(part.strip().lower().replace("_", " ").split())
        if not key:
            continue
        if key in lookup:
            roles.add(lookup[key])
        else:
            unknown.append(part.strip())
    if unknown:
        accepted = ", ".join(role.label for role in Role)
        raise RowProblem(f"Unknown role “{'”, “'.join(unknown)}” (use {accepted}, DSL or SLT).")
    if not roles:
        raise RowProblem("The roles are missing: give at least one.")
    return roles


@dataclass(frozen=True)
class StaffRow:
    email: str
    full_name: str
    initials: str | None
    roles: frozenset[Role]
    classes: tuple[str, ...] | None  # None when the file has no classes column


def clean_staff_row(raw: dict[str, str], has_classes: bool) -> StaffRow:
    email = raw.get("email", "").strip()
    if not email:
        raise RowProblem("The email address is missing.")
    full_name = " ".join(raw.get("full_name", "").split()) or " ".join(
        f"{raw.get('first_name', '')} {raw.get('last_name', '')}".split()
    )
    if not full_name:
        raise RowProblem("The name is missing (give First Name and Last Name, or Full Name).")
    roles = frozenset(parse_roles(raw.get("roles", "")))
    classes = None
    if has_classes:
        classes = tuple(
            dict.fromkeys(
                " ".join(part.split()) for part in _LIST_SEPARATOR.split(raw.get("classes", ""))
            )
        )
        classes = tuple(name for name in classes if name)
        if classes and Role.CLASS_TEACHER not in roles:
            raise RowProblem("Classes are listed but the roles do not include Class teacher.")
    return StaffRow(email, full_name, raw.get("initials", "").strip() or None, roles, classes)


class _Staff:
    """Existing accounts and classes, loaded once for the whole file."""

    def __init__(self):
        self.users = {user.email.lower(): user for user in db.session.scalars(select(User))}
        self.classes = {c.name.casefold(): c for c in db.session.scalars(select(SchoolClass))}


_STAFF_PARTS = ("email", "name", "initials", "roles")


def _apply_staff(staff: _Staff, row: StaffRow, by: User | None) -> tuple[str, Change | None]:
    wanted = []
    for name in row.classes or ():
        found = staff.classes.get(name.casefold())
        if found is None:
            raise RowProblem(f"There is no class called “{name}”: import the pupils first?")
        wanted.append(found)
    roles = sorted(role.value for role in row.roles)
    user = staff.users.get(normalise_email(row.email))
    if user is None:
        user = accounts.create_user(
            email=row.email, full_name=row.full_name, initials=row.initials, roles=roles
        )
        staff.users[user.email.lower()] = user
        if row.classes:
            _set_classes(user, wanted, staff)
        return "created", Change(user.email, user.full_name, user.role_labels)
    if by is not None and by.id == user.id and Role.ADMIN in user.roles - row.roles:
        raise RowProblem("This row would remove your own Administrator role; nothing was changed.")
    before = (user.email, user.full_name, user.initials, user.roles)
    accounts.update_user(
        user,
        email=row.email,
        full_name=row.full_name,
        initials=row.initials or user.initials,
        roles=roles,
    )
    after = (user.email, user.full_name, user.initials, user.roles)
    changes = [
        part for part, old, new in zip(_STAFF_PARTS, before, after, strict=True) if old != new
    ]
    if row.classes is not None or Role.CLASS_TEACHER not in row.roles:
        # Only class teachers teach classes: losing the role ends the classes too.
        changes += _set_classes(user, wanted, staff)
    if not changes:
        return "unchanged", None
    return "updated", Change(user.email, user.full_name, ", ".join(changes))


def _set_classes(user: User, wanted: list[SchoolClass], staff: _Staff) -> list[str]:
    """Make the classes this person teaches exactly `wanted`, auditing each class changed."""
    changes = []
    for school_class in staff.classes.values():
        teaches = user in school_class.teachers
        if school_class in wanted and not teaches:
            school_class.teachers.append(user)
            changes.append(f"teaches {school_class.name}")
        elif school_class not in wanted and teaches:
            school_class.teachers.remove(user)
            changes.append(f"no longer teaches {school_class.name}")
        else:
            continue
        record(
            "class.teachers_changed",
            object_type="class",
            object_id=school_class.id,
            details={
                "class": school_class.name,
                "added" if school_class in wanted else "removed": [user.email],
                "by": "staff import",
            },
        )
    return changes


def import_staff(
    rows_or_file: Source,
    *,
    dry_run: bool = False,
    progress: Callable[[int], Any] | None = None,
    by: User | None = None,
) -> ImportReport:
    """Create and update staff accounts by email, with their roles and the classes they teach.

    New accounts have no password: the person sets one with "Forgotten your password?".
    Active staff missing from the file are listed in the report, never disabled.
    """
    _check_permission(by)
    roster = read_roster_csv(rows_or_file, STAFF_COLUMNS, STAFF_REQUIRED)
    named = roster.columns.keys()
    if "full_name" not in named and not {"first_name", "last_name"} <= named:
        raise RosterFileError(
            "The file is missing the staff names: give First Name and Last Name columns, "
            "or a Full Name column. Nothing was imported."
        )
    report = ImportReport("staff", dry_run, roster.sha256, rows=len(roster.rows))
    has_classes = "classes" in named
    keys = [normalise_email(raw.get("email", "")) for _, raw in roster.rows]
    duplicates = _duplicates(roster.rows, keys)
    with _transaction(dry_run):
        staff = _Staff()
        for (number, raw), key in zip(roster.rows, keys, strict=True):
            shown = raw.get("email", "")
            if key in duplicates:
                _refuse_duplicate(report, number, shown, "Email", duplicates[key])
            else:
                _import_row(
                    report,
                    number,
                    shown,
                    lambda raw=raw: clean_staff_row(raw, has_classes),
                    lambda row: _apply_staff(staff, row, by),
                )
            if progress:
                progress(1)
        _report_staff_status(staff, set(keys), report)
        if not dry_run:
            _audit("roster.staff_imported", report, by, not_in_file=len(report.not_in_file))
    return report


def _report_staff_status(staff: _Staff, in_file: set[str], report: ImportReport) -> None:
    for user in sorted(staff.users.values(), key=lambda u: u.full_name):
        if user.email.lower() not in in_file:
            if user.active:
                report.not_in_file.append(Change(user.email, user.full_name, user.role_labels))
        elif not user.active:
            report.notes.append(
                f"{user.email} is in the file but their account is disabled: re-enable it on "
                "the Staff and roles page if they have returned."
            )
