"""Checking one row of a pupil file: UPN, names, date of birth, year group and class.

`clean_pupil_row` turns a row's text into a PupilRow or raises RowProblem with the reason the
school is shown.
"""

import re
from dataclasses import dataclass
from datetime import date

from server.pupils.import_report import RowProblem
from server.pupils.upn import normalise_upn, upn_problem
from server.pupils.years import parse_year_group

NAME_LENGTH = 80
CLASS_NAME_LENGTH = 40

_UK_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_MIDNIGHT = re.compile(r"[ T]00:00(?::00)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
