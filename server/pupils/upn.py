"""Unique Pupil Numbers (DfE): the format and check letter every pupil's UPN must pass.

A UPN is 13 characters: a check letter, then 11 digits (local authority, establishment, year of
allocation, serial) and a final digit. A temporary UPN ends in a letter instead of a digit.
"""

import re

# The DfE's letter table: I, O and S are left out so they are never confused with digits.
CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_SHAPE = re.compile(rf"^[{CHECK_LETTERS}]\d{{11}}[\d{CHECK_LETTERS}]$")


def normalise_upn(upn: str | None) -> str:
    return "".join((upn or "").split()).upper()


def check_letter(body: str) -> str:
    """The check letter for the 12 characters after it (positions 2 to 13)."""
    total = 0
    for position, char in enumerate(body, start=2):
        value = int(char) if char.isdigit() else CHECK_LETTERS.index(char)
        total += value * position
    return CHECK_LETTERS[total % 23]


def upn_problem(upn: str | None) -> str | None:
    """Why this is not a valid UPN, in a sentence, or None when it is valid."""
    upn = normalise_upn(upn)
    if not upn:
        return "The UPN is missing."
    if len(upn) != 13:
        return f"A UPN has 13 characters; “{upn}” has {len(upn)}."
    if not _SHAPE.match(upn):
        return (
            f"“{upn}” is not shaped like a UPN: a check letter, 11 digits, then a digit "
            "(or a letter for a temporary UPN)."
        )
    expected = check_letter(upn[1:])
    if upn[0] != expected:
        return f"The check letter of “{upn}” is wrong (it should be {expected}): mistyped?"
    return None


def is_valid_upn(upn: str | None) -> bool:
    return upn_problem(upn) is None


def is_temporary_upn(upn: str) -> bool:
    return is_valid_upn(upn) and normalise_upn(upn)[-1].isalpha()


def make_upn(body: str) -> str:
    """A valid UPN from its 12 characters after the check letter (for fictional rolls)."""
    return check_letter(body) + body
