"""What the Add Incident page loads as JSON: vocabulary, roster and staff (no personal data
is in the page itself, so the page can be cached for offline use).
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.auth.models import User
from server.auth.roles import Permission
from server.extensions import db
from server.incidents.files import ACCEPTED_FILE_TYPES, MAX_FILE_BYTES
from server.incidents.models import BODY_MARK_KINDS, Agency, Category
from server.incidents.policy import reads_incidents
from server.pupils.models import Pupil, year_label


def form_vocabulary(user: User) -> dict[str, Any]:
    categories = db.session.scalars(
        select(Category).where(Category.active.is_(True)).options(selectinload(Category.parent))
    ).all()
    agencies = db.session.scalars(
        select(Agency).where(Agency.active.is_(True)).order_by(Agency.position, Agency.name)
    )
    return {
        "categories": [_category(c) for c in sorted(categories, key=_category_order)],
        "agencies": [{"id": a.id, "name": a.name} for a in agencies],
        "can_choose_dsl_only": user.can(Permission.CHOOSE_DSL_ONLY_CATEGORIES),
        "body_mark_kinds": list(BODY_MARK_KINDS),
        "max_file_bytes": MAX_FILE_BYTES,
        "accepted_file_types": ACCEPTED_FILE_TYPES,
        "me": {"id": user.id, "name": user.full_name, "initials": user.initials},
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


def roster(user: User) -> list[dict[str, Any]]:
    """What the pupil type-ahead shows: the name the child is known by, class and year, and
    date of birth, which are enough to pick the right child (SPEC §2).

    A legal name that differs (an adoption, a change of name kept from a parent) goes only to
    those who review every record — dsl, slt and pastoral — who need it for referrals,
    chronologies and transfers; everyone else never receives it.
    """
    with_legal_name = user.can(Permission.REVIEW_ALL)
    pupils = db.session.scalars(
        select(Pupil)
        .where(Pupil.on_roll.is_(True))
        .options(selectinload(Pupil.school_class))
        .order_by(Pupil.legal_last_name, Pupil.legal_first_name, Pupil.id)
    )
    return [_roster_entry(pupil, with_legal_name) for pupil in pupils]


def _roster_entry(pupil: Pupil, with_legal_name: bool) -> dict[str, Any]:
    entry = {
        "id": pupil.id,
        "name": pupil.display_name,
        "class_name": pupil.school_class.name if pupil.school_class else "",
        "year_label": year_label(pupil.year_group),
        "date_of_birth": pupil.date_of_birth.isoformat(),
        "dob_display": f"{pupil.date_of_birth:%-d %b %Y}",
    }
    if with_legal_name:
        entry["legal_name"] = pupil.legal_name
    return entry


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
