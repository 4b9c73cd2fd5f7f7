"""Year groups and the school year (1 September to 31 August)."""

from datetime import date

from server.pupils.models import YEAR_GROUPS

_WORDS = {
    "n": "N",
    "nur": "N",
    "nursery": "N",
    "n1": "N",
    "n2": "N",
    "fs1": "N",
    "r": "R",
    "rec": "R",
    "reception": "R",
    "fs2": "R",
}
_PREFIXES = ("national curriculum year", "nc year", "year", "yr", "y", "")


def parse_year_group(text: str | None) -> str | None:
    """'Year 3', 'Y3', '03', 'Reception', 'YR', 'N' -> the stored code ('3', 'R', 'N')."""
    cleaned = " ".join((text or "").lower().replace("-", " ").split())
    for prefix in _PREFIXES:
        if cleaned.startswith(prefix) and (code := _code(cleaned[len(prefix) :].strip())):
            return code
    return None


def _code(rest: str) -> str | None:
    if rest in _WORDS:
        return _WORDS[rest]
    if rest.isdigit() and str(int(rest)) in YEAR_GROUPS:
        return str(int(rest))
    return None


def year_index(year_group: str) -> int:
    """Nursery -1, Reception 0, Year 1 is 1 and so on."""
    return YEAR_GROUPS.index(year_group) - 1


def academic_year_start(today: date) -> int:
    """The calendar year in which the current school year began."""
    return today.year if today.month >= 9 else today.year - 1


def birth_window(year_group: str, today: date) -> tuple[date, date]:
    """First and last dates of birth of a child in this year group in the current school year."""
    first_year = academic_year_start(today) - 5 - year_index(year_group)
    return date(first_year, 9, 1), date(first_year + 1, 8, 31)
