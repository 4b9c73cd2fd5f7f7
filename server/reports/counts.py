"""Counts as governors' reports show them: anything from 1 to 4 as "fewer than 5" (SPEC §7)."""

from dataclasses import dataclass

SUPPRESS_BELOW = 5
FEWER_THAN = f"fewer than {SUPPRESS_BELOW}"


@dataclass(frozen=True)
class Count:
    value: int

    @property
    def suppressed(self) -> bool:
        # Nought reveals nobody; one to four could point at a child.
        return 0 < self.value < SUPPRESS_BELOW

    @property
    def shown(self) -> str:
        return FEWER_THAN if self.suppressed else f"{self.value:,}"

    def __str__(self) -> str:
        return self.shown


def trend(now: Count, before: Count) -> str:
    """ "up", "down", "same", or "" when either side is suppressed (a change would reveal it)."""
    if now.suppressed or before.suppressed:
        return ""
    if now.value > before.value:
        return "up"
    if now.value < before.value:
        return "down"
    return "same"
