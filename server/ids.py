"""Ids as clients send them: the one place that decides what counts as a row id.

A form sends strings and the Add Incident page sends JSON numbers; either may be anything at
all. An id is accepted only as an int or a string of ASCII digits, 1 ≤ n < 2**31 (ids are
32-bit integer columns in PostgreSQL), so nothing larger, negative, fractional or written in
other scripts' digits ever reaches a query.
"""

from typing import Any

from werkzeug.routing import IntegerConverter, ValidationError

MAX_ID = 2**31 - 1
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(value: Any) -> int | None:
    """`value` as an id, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        digits = value.strip()
        # str.isdigit() alone also accepts "²" and "٣", which int() then refuses or misreads.
        if not digits.isascii() or not digits.isdigit():
            return None
        digits = digits.lstrip("0") or "0"
        if len(digits) > _MAX_DIGITS:
            return None
        value = int(digits)
    if not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ID else None


def parse_ids(values: Any) -> list[int] | None:
    """A list of ids, duplicates dropped and order kept ([] for None); None when any is not one."""
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        return None
    ids = [parse_id(value) for value in values]
    if any(i is None for i in ids):
        return None
    return list(dict.fromkeys(ids))


class IdConverter(IntegerConverter):
    """The app's `<int:…>` URL converter: only ids (1 ≤ n ≤ MAX_ID, ASCII digits) match.

    Werkzeug's own has no upper bound and its `\\d` also matches other scripts' digits, so a
    path such as /alerts/99999999999/read reached a query and failed there. Out of range, a
    path simply matches no route: 404 on every route, before any view or query runs.
    """

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        # Refuse by length before int(): thousands of digits are not worth converting.
        if self.max is not None and len(value.lstrip("-0")) > len(str(abs(self.max))):
            raise ValidationError()
        return super().to_python(value)


def row_by_id(model, value: Any):
    """The `model` row whose id is `value` as a client sent it, or None when `value` is not an id
    or there is no such row: for the callers that answer both the same way (usually 404)."""
    from server.extensions import db

    found = parse_id(value)
    return db.session.get(model, found) if found is not None else None
