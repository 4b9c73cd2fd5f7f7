"""Hiding pupils' names in reports and exports (SPEC §7).

Names are found in the text by matching the roster: every pupil's full name in any mix of legal
and preferred first and last names, and, for pupils linked to the report's incidents, their first
names alone (staff write "Ben pushed her"). First names alone are not matched for the rest of the
roll, where they would catch ordinary words ("Will", "May") and still leave no one identified.
A report about one pupil keeps that pupil's own name.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from server.pupils.models import Pupil

STYLES = {
    "shown": "Show names",
    "initials": "Initials (B.M.)",
    "letters": "Pupil A, Pupil B…",
}


def _full_names(pupil: Pupil) -> set[str]:
    firsts = {pupil.legal_first_name, pupil.preferred_first_name or pupil.legal_first_name}
    lasts = {pupil.legal_last_name, pupil.preferred_last_name or pupil.legal_last_name}
    return {f"{first} {last}" for first in firsts for last in lasts}


def _first_names(pupil: Pupil) -> set[str]:
    return {pupil.legal_first_name, pupil.preferred_first_name or pupil.legal_first_name}


def _pattern(variant: str) -> str:
    return r"\s+".join(re.escape(word) for word in variant.split())


@dataclass(frozen=True)
class NamedElsewhere:
    """A pupil known here only by the name another school's record gives (an imported
    incident's linked pupils): hidden like a linked pupil, first name alone included."""

    name: str

    @property
    def id(self) -> str:
        return f"elsewhere:{self.name.casefold()}"

    @property
    def legal_first_name(self) -> str:
        return self.name.split()[0]

    @property
    def legal_last_name(self) -> str:
        return self.name.split()[-1]

    preferred_first_name = None
    preferred_last_name = None


def named_elsewhere(names: Iterable[str]) -> list[NamedElsewhere]:
    return [NamedElsewhere(" ".join(name.split())) for name in names if name and name.strip()]


class NameHider:
    """A callable that returns text with other pupils' names replaced; `str` when shown."""

    def __init__(
        self,
        style: str,
        roster: Iterable[Pupil],
        *,
        keep: Pupil | None = None,
        linked: Iterable[Pupil] = (),
    ):
        if style not in STYLES:
            raise ValueError(style)
        self.style = style
        self._labels: dict[int, str] = {}
        self._owner: dict[str, Pupil] = {}
        kept = {name.casefold() for name in _full_names(keep)} if keep else set()
        kept_first = {name.casefold() for name in _first_names(keep)} if keep else set()
        for pupil in roster:
            if keep is not None and pupil.id == keep.id:
                continue
            for variant in _full_names(pupil):
                if variant.casefold() not in kept:
                    self._owner.setdefault(variant.casefold(), pupil)
        for pupil in linked:
            if keep is not None and pupil.id == keep.id:
                continue
            for variant in _first_names(pupil):
                if variant.casefold() not in kept_first:
                    self._owner.setdefault(variant.casefold(), pupil)
        self._regex = _matcher(self._owner) if self._owner and style != "shown" else None

    def __call__(self, text: str | None) -> str:
        if not text or self._regex is None:
            return text or ""
        return self._regex.sub(self._replace, text)

    def matches(self, text: str | None) -> list[tuple[int, int, Pupil]]:
        """Where other pupils' names stand in `text`: (start, end, pupil) of each, whatever
        the style (subject access lists them for a DSL to review, server.subject_access)."""
        if not text or not self._owner:
            return []
        regex = self._regex or _matcher(self._owner)
        return [
            (found.start(), found.end(), self._owner[_folded(found.group(0))])
            for found in regex.finditer(text)
        ]

    def _replace(self, match: re.Match) -> str:
        pupil = self._owner[_folded(match.group(0))]
        return self.label(pupil)

    def label(self, pupil: Pupil | NamedElsewhere) -> str:
        if pupil.id not in self._labels:
            self._labels[pupil.id] = (
                _initials(pupil) if self.style == "initials" else _letters(len(self._labels))
            )
        return self._labels[pupil.id]


def _matcher(names) -> re.Pattern:
    """Any of `names` as whole words, longest first, in any case and spacing."""
    variants = sorted(names, key=len, reverse=True)
    return re.compile(
        r"(?<!\w)(?:" + "|".join(_pattern(v) for v in variants) + r")(?!\w)", re.IGNORECASE
    )


def name_matcher(names) -> re.Pattern | None:
    """The same matching for other lists of names (staff, in subject access)."""
    names = [name for name in names if name and name.strip()]
    return _matcher(names) if names else None


def _folded(text: str) -> str:
    return re.sub(r"\s+", " ", text).casefold()


def _initials(pupil: Pupil) -> str:
    return f"{pupil.legal_first_name[:1]}.{pupil.legal_last_name[:1]}.".upper()


def _letters(index: int) -> str:
    """Pupil A … Pupil Z, then Pupil AA, AB…"""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return f"Pupil {letters}"
