"""Importing staff accounts from a CSV: create and update by email, roles and class teaching.

`import_staff` is what the `flask roster import-staff` command, the admin page and the demo seed
call. An import never disables an account: staff missing from the file are only reported.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from server.approvals.models import AccessRequest
from server.audit.operations import record
from server.auth import accounts
from server.auth.models import User
from server.auth.operations import normalise_email
from server.auth.roles import Role
from server.extensions import db
from server.pupils.csv_reading import STAFF_COLUMNS, STAFF_REQUIRED, Source, read_roster_csv
from server.pupils.import_report import Change, ImportReport, RosterFileError, RowProblem
from server.pupils.import_steps import (
    audit_import,
    check_permission,
    duplicate_keys,
    import_row,
    refuse_duplicate,
    transaction,
)
from server.pupils.models import SchoolClass

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

_LIST_SEPARATOR = re.compile(r"[;,]")


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
CLASS_NEEDS_DSL = (
    "Only a designated safeguarding lead can make someone a class teacher ({name}): choose "
    "the class's teachers on its Classes page, which sends the change to a DSL to approve."
)


def _apply_staff(staff: _Staff, row: StaffRow, by: User | None) -> tuple[str, Change | None]:
    wanted = []
    for name in row.classes or ():
        found = staff.classes.get(name.casefold())
        if found is None:
            raise RowProblem(f"There is no class called “{name}”: import the pupils first?")
        wanted.append(found)
    roles = sorted(role.value for role in row.roles)
    user = staff.users.get(normalise_email(row.email))
    classes = [c.id for c in wanted] if row.classes else None
    if user is None:
        user = accounts.add_account(
            email=row.email,
            full_name=row.full_name,
            initials=row.initials,
            roles=roles,
            active=True,
            by=by,
            classes=classes,
        )
        if isinstance(user, AccessRequest):
            return "requested", Change(row.email, row.full_name, _roles_text(roles))
        staff.users[user.email.lower()] = user
        if row.classes:
            _set_classes(user, wanted, staff, by)
        return "created", Change(user.email, user.full_name, user.role_labels)
    if by is not None and by.id == user.id and Role.ADMIN in user.roles - row.roles:
        raise RowProblem("This row would remove your own Administrator role; nothing was changed.")
    before = (user.email, user.full_name, user.initials, user.roles)
    request = accounts.save_account(
        user,
        email=row.email,
        full_name=row.full_name,
        initials=row.initials or user.initials,
        roles=roles,
        active=user.active,
        by=by,
        classes=[c.id for c in wanted] if row.classes is not None else None,
        gives_classes=any(user not in c.teachers for c in wanted),
    )
    if request is not None:
        return "requested", Change(user.email, user.full_name, _roles_text(roles))
    after = (user.email, user.full_name, user.initials, user.roles)
    changes = [
        part for part, old, new in zip(_STAFF_PARTS, before, after, strict=True) if old != new
    ]
    if row.classes is not None or Role.CLASS_TEACHER not in row.roles:
        # Only class teachers teach classes: losing the role ends the classes too.
        changes += _set_classes(user, wanted, staff, by)
    if not changes:
        return "unchanged", None
    return "updated", Change(user.email, user.full_name, ", ".join(changes))


def _roles_text(roles) -> str:
    return ", ".join(Role(role).label for role in roles)


def _set_classes(
    user: User, wanted: list[SchoolClass], staff: _Staff, by: User | None
) -> list[str]:
    """Make the classes this person teaches exactly `wanted`, auditing each class changed.

    A class to teach lets its teacher read the class's records: only a DSL (or the server's
    command line) gives one in an import; the office asks on the class's page instead."""
    changes = []
    for school_class in staff.classes.values():
        teaches = user in school_class.teachers
        if school_class in wanted and not teaches and not accounts.decides_who_reads(by):
            raise RowProblem(CLASS_NEEDS_DSL.format(name=school_class.name))
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
    check_permission(by)
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
    duplicates = duplicate_keys(roster.rows, keys)
    with transaction(dry_run):
        staff = _Staff()
        for (number, raw), key in zip(roster.rows, keys, strict=True):
            shown = raw.get("email", "")
            if key in duplicates:
                refuse_duplicate(report, number, shown, "Email", duplicates[key])
            else:
                import_row(
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
            audit_import("roster.staff_imported", report, by, not_in_file=len(report.not_in_file))
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
