"""What a roster import reports: the rows refused and why, the changes made, and its notes.

Shared by the pupil and staff imports, the `flask roster` commands and the admin page.
"""

from dataclasses import dataclass, field

from server.errors import Refused


class RosterFileError(Refused):
    """The file as a whole cannot be imported; nothing was written."""


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
    # Pupils: the on-roll pupils before the import, and how many leavers await confirmation
    # (not marked because the file would mark too much of the roll as left).
    roll_size: int = 0
    leavers_to_confirm: int = 0
    leavers_confirmed: int | None = None
    # Staff: active accounts not in the file (reported, never disabled by an import).
    not_in_file: list[Change] = field(default_factory=list)
    # Staff: rows that would let someone read incidents, sent to a DSL to approve (SPEC §1).
    requested: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def needs_leaver_confirmation(self) -> bool:
        return self.leavers_to_confirm > 0

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
        if self.requested:
            parts.append(f"{len(self.requested)} {would}sent to a DSL to approve")
        parts.append(f"{len(self.refused)} refused")
        noun = "pupil" if self.kind == "pupils" else "staff"
        return f"{self.rows} {noun} rows: " + ", ".join(parts) + "."
