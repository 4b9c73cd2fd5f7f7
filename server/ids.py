"""Ids as clients send them: the one place that decides what counts as a row id.

A form sends strings and the Add Incident page sends JSON numbers; either may be anything at
all. An id is accepted only as an int or a string of ASCII digits, 1 ≤ n < 2**31 (ids are
32-bit integer columns in PostgreSQL), so nothing larger, negative, fractional or written in
other scripts' digits ever reaches a query.
"""

from typing import Any

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
