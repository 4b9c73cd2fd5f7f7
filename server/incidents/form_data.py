"""What the Add Incident form needs: vocabulary, roster and staff. The page carries them
(server/incidents/page.py `form_data_json`); the JSON endpoints serve the same to the
device's background refresh. The app shell the service worker keeps carries none of it.
"""

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.auth.models import User
from server.auth.roles import Permission
from server.extensions import db
from server.incidents.files import ACCEPTED_FILE_TYPES, MAX_FILE_BYTES
from server.incidents.models import BODY_MARK_KINDS, Agency, Category
from server.incidents.policy import reads_incidents
from server.pupils.models import Pupil, SchoolClass, year_label
from server.settings_cache import cached


def form_vocabulary(user: User) -> dict[str, Any]:
    return {
        # The same for everyone, and changed only by an admin: kept per process behind the
        # settings token (categories and agencies are among its tables).
        **cached("form-vocabulary", _categories_and_agencies),
        "can_choose_dsl_only": user.can(Permission.CHOOSE_DSL_ONLY_CATEGORIES),
        "body_mark_kinds": list(BODY_MARK_KINDS),
        "max_file_bytes": MAX_FILE_BYTES,
        "accepted_file_types": ACCEPTED_FILE_TYPES,
        "me": {"id": user.id, "name": user.full_name, "initials": user.initials},
    }


def _categories_and_agencies() -> dict[str, list[dict[str, Any]]]:
    categories = db.session.scalars(
        select(Category).where(Category.active.is_(True)).options(selectinload(Category.parent))
    ).all()
    agencies = db.session.scalars(
        select(Agency).where(Agency.active.is_(True)).order_by(Agency.position, Agency.name)
    )
    return {
        "categories": [_category(c) for c in sorted(categories, key=_category_order)],
        "agencies": [{"id": a.id, "name": a.name} for a in agencies],
    }


def _category_order(category: Category) -> tuple:
    if category.parent is None:
        return (category.position, -1, category.name)
    return (category.parent.position, category.position, category.name)


def _category(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "name": category.name,
        "family": category.parent.name if category.parent else category.name,
        "full_name": category.full_name,
        "dsl_only": category.dsl_only,
        "sensitive": category.sensitive,
    }


ROSTER_FORMAT = "roster-2"


def roster(user: User) -> dict[str, Any]:
    """What the pupil type-ahead shows: the name the child is known by, class and year, and
    date of birth, which are enough to pick the right child (SPEC §2).

    A legal name that differs (an adoption, a change of name kept from a parent) goes only to
    those who review every record — dsl, slt and pastoral — who need it for referrals,
    chronologies and transfers; everyone else never receives it.

    Compact, for 2,000 pupils on an iPad: one query of plain rows (no ORM object per pupil);
    each pupil is `[id, name, place, date of birth]` (plus the legal name, when it differs and
    may be sent), where `place` indexes `places`, the few distinct (class, year) pairs, so a
    pupil costs only the bytes that are hers. `pwa/js/pupil-picker.js` (`rosterPupils`) reads it.
    """
    with_legal_name = user.can(Permission.REVIEW_ALL)
    pupils, classes = Pupil.__table__.c, SchoolClass.__table__.c
    rows = db.session.execute(
        select(
            pupils.id,
            pupils.preferred_first_name,
            pupils.legal_first_name,
            pupils.preferred_last_name,
            pupils.legal_last_name,
            pupils.date_of_birth,
            pupils.year_group,
            classes.name,
        )
        .select_from(Pupil.__table__.outerjoin(SchoolClass.__table__))
        .where(pupils.on_roll.is_(True))
        .order_by(pupils.legal_last_name, pupils.legal_first_name, pupils.id)
    ).all()
    places: dict[tuple[str, str], int] = {}
    entries = []
    for pupil_id, first, legal_first, last, legal_last, born, year, class_name in rows:
        place = places.setdefault((class_name or "", year_label(year)), len(places))
        name = f"{first or legal_first} {last or legal_last}"
        entry = [pupil_id, name, place, born.isoformat()]
        legal_name = f"{legal_first} {legal_last}"
        if with_legal_name and legal_name != name:
            entry.append(legal_name)
        entries.append(entry)
    return {"format": ROSTER_FORMAT, "places": [list(place) for place in places], "pupils": entries}


def roster_json(user: User) -> tuple[bytes, str]:
    """The roster as compact JSON bytes, and its ETag: a hash of exactly those bytes, so a
    device that has this roster already is told so (304) and sends nothing again.

    Everyone who records sees one of two rosters, with legal names (REVIEW_ALL) or without:
    each is built once per change to the roll or the classes (their triggers replace the
    settings token, migration 0013_roster_version) and kept by the process, not read and
    serialised again for every member of staff who opens the form."""
    with_legal_name = user.can(Permission.REVIEW_ALL)
    return cached(
        "roster-legal" if with_legal_name else "roster",
        lambda: _roster_bytes(user),
    )


def _roster_bytes(user: User) -> tuple[bytes, str]:
    body = json.dumps(roster(user), separators=(",", ":"), ensure_ascii=False).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


def staff_list() -> list[dict[str, Any]]:
    """Active staff who read incidents (the office's admin accounts are left out)."""
    users = db.session.scalars(
        select(User).where(User.active.is_(True)).order_by(User.full_name, User.id)
    )
    return [
        {
            "id": user.id,
            "name": user.full_name,
            "initials": user.initials,
            "roles": sorted(role.value for role in user.roles),
            "can_see_sensitive": user.can(Permission.SEE_SENSITIVE),
        }
        for user in users
        if reads_incidents(user)
    ]
