"""The case conference report (SPEC §7): the pupil's chronology, a summary (counts by
category, agencies involved, open actions) and the body maps drawn from the recorded marks.
"""

from collections import Counter
from dataclasses import dataclass

from server.chronology.build import Chronology, display_status
from server.incidents.models import ACTIVE_STATUSES


@dataclass(frozen=True)
class Summary:
    incidents_about: int
    incidents_linked: int
    by_category: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    agencies: list[str]
    open_actions: list  # actions with an assignee or a due date, on incidents open or monitored
    # Incidents imported from previous schools: (school, how many, when imported), and the
    # agencies those schools recorded.
    imported_from: list[tuple[str, int, object]] = ()
    imported_agencies: list[str] = ()


def summarise(chronology: Chronology) -> Summary:
    own = [i for i in chronology.incidents if i.pupil_id == chronology.pupil.id]
    categories = Counter(c.full_name for i in own for c in i.categories)
    statuses = Counter(display_status(i) for i in own)
    agencies = sorted({a.name for i in chronology.incidents for a in i.agencies})
    open_actions = [
        action
        for incident in chronology.incidents
        if incident.status in ACTIVE_STATUSES
        for action in incident.actions
        if action.assignee_id is not None or action.due_on is not None
    ]
    schools: dict[str, list] = {}
    for entry in chronology.imported:
        schools.setdefault(entry.incident.school_name, []).append(entry.incident)
    return Summary(
        imported_from=[
            (school, len(rows), max(row.imported_at for row in rows))
            for school, rows in sorted(schools.items())
        ],
        imported_agencies=sorted(
            {name for entry in chronology.imported for name in entry.data.get("agencies") or []}
        ),
        incidents_about=len(own),
        incidents_linked=len(chronology.incidents) - len(own),
        by_category=sorted(categories.items(), key=lambda item: (-item[1], item[0])),
        by_status=sorted(statuses.items()),
        agencies=agencies,
        open_actions=sorted(open_actions, key=lambda a: (a.due_on is None, a.due_on, a.id)),
    )


def body_maps(chronology: Chronology) -> list[tuple]:
    """(incident, marks by side) for each incident with marks, in time order."""
    return sorted(
        [*_own_body_maps(chronology), *_imported_body_maps(chronology)],
        key=lambda item: item[0].occurred_at,
    )


def _imported_body_maps(chronology: Chronology) -> list[tuple]:
    """Imported incidents' marks, as their school recorded them (dicts with the same fields)."""
    return [
        (
            entry.incident,
            {
                side: [m for m in entry.data["body_marks"] if _drawable(m, side)]
                for side in ("front", "back")
            },
        )
        for entry in chronology.imported
        if entry.data.get("body_marks")
    ]


def _drawable(mark, side: str) -> bool:
    return (
        isinstance(mark, dict)
        and mark.get("side") == side
        and all(
            isinstance(mark.get(axis), int | float) and not isinstance(mark.get(axis), bool)
            for axis in ("x", "y")
        )
    )


def _own_body_maps(chronology: Chronology) -> list[tuple]:
    return [
        (
            incident,
            {
                side: [m for m in incident.body_marks if m.side == side]
                for side in ("front", "back")
            },
        )
        for incident in chronology.incidents
        if incident.body_marks
    ]
