"""Who may see and act on which incident (SPEC §1): the one place these rules live.

- The office (admin without any other role) never reads incident content.
- The author always may.
- A sensitive (Safeguarding) incident: otherwise only dsl, slt and pastoral (SEE_SENSITIVE).
- Anyone alerted to it may, for good: reading an alert does not take access away.
- With review unlocked by a passkey step-up: REVIEW_ALL holders may read any incident,
  REVIEW_OWN_CLASS holders (class teachers) those about pupils in their own class.
- Actions: whoever may read it. Status: REVIEW_ALL holders who may read it. Corrections: dsl
  who may read it, with a passkey assertion in the last 5 minutes.

Every page, endpoint and file download goes through `require_view`, which asks `can_view`;
nothing else decides who reads an incident. Lists, chronologies and reports, which cannot ask
one incident at a time, filter with `visible_incidents`: the same rules as SQL, held to the
same answers as `access_reason` by tests/test_visibility.py.

This module depends on the alerts' table only (whether someone was alerted), never on the
alerts feature's functions: alerts ask this policy, not the other way round.
"""

from flask import abort, g
from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import aliased

from server.alerts.models import Alert
from server.auth.models import User, UserSession
from server.auth.roles import READS_INCIDENTS, Permission, Role
from server.auth.step_up import has_fresh_assertion, note_review_activity, review_unlocked
from server.extensions import db
from server.incidents.models import Incident
from server.incidents.queries import sensitive_incident
from server.pupils.models import Pupil, class_teachers


def reads_incidents(user: User) -> bool:
    return any(user.can(permission) for permission in READS_INCIDENTS)


def was_alerted(user: User, incident: Incident) -> bool:
    """Whether `user` was ever alerted to `incident`; reading it does not take that away."""
    return bool(
        db.session.scalar(
            select(exists().where(Alert.user_id == user.id, Alert.incident_id == incident.id))
        )
    )


def access_reason(user: User, incident: Incident, session_row: UserSession | None) -> str | None:
    """Why `user` may read `incident` — "author", "alerted" or "review" — or None."""
    if user is None or not user.is_authenticated:
        return None
    if not reads_incidents(user):
        return None
    # Safeguarding is for dsl, slt and pastoral only (SPEC §1): once a DSL re-categorises a
    # concern as Safeguarding, even its author no longer reads it, nor what is done about it.
    if incident.is_sensitive and not user.can(Permission.SEE_SENSITIVE):
        return None
    if incident.author_id == user.id:
        return "author"
    # Being alerted gives lasting access: reading the alert does not take it away (SPEC §4).
    if was_alerted(user, incident):
        return "alerted"
    if review_unlocked(session_row) and _reviews(user, incident):
        return "review"
    return None


def _reviews(user: User, incident: Incident) -> bool:
    if user.can(Permission.REVIEW_ALL):
        return True
    return user.can(Permission.REVIEW_OWN_CLASS) and user in incident.pupil.class_teachers


def visible_incidents(
    user: User, session_row: UserSession | None, *, review: bool | None = None
) -> ColumnElement[bool]:
    """SQL: the incidents `user` may read now, exactly those `access_reason` allows.

    `review` says whether review is unlocked when there is no session to ask: a report built
    by a background job for someone who stepped up to ask for it.
    """
    if user is None or not user.is_authenticated or not reads_incidents(user):
        return false()
    # A probe of (incident_id, user_id) per incident, LIMIT 1: as EXISTS, PostgreSQL may hash
    # every alert the user ever had (a DSL's whole history) to answer a page of fifteen.
    alerted = (
        select(Alert.id)
        .where(Alert.incident_id == Incident.id, Alert.user_id == user.id)
        .correlate_except(Alert)
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    readable = or_(Incident.author_id == user.id, alerted)
    if review_unlocked(session_row) if review is None else review:
        readable = or_(readable, _reviews_sql(user))
    if not user.can(Permission.SEE_SENSITIVE):
        readable = and_(readable, ~sensitive_incident(Incident.id))
    return readable


def _reviews_sql(user: User) -> ColumnElement[bool]:
    if user.can(Permission.REVIEW_ALL):
        return true()
    if not user.can(Permission.REVIEW_OWN_CLASS):
        return false()
    pupil = aliased(Pupil)
    return (
        exists()
        .where(
            pupil.id == Incident.pupil_id,
            class_teachers.c.class_id == pupil.class_id,
            class_teachers.c.user_id == user.id,
        )
        .correlate_except(pupil, class_teachers)
    )


def can_open_pupil_record(
    user: User, pupil: Pupil, session_row: UserSession | None, *, review: bool | None = None
) -> bool:
    """A pupil's record and chronology are review (SPEC §1): REVIEW_ALL holders for any pupil,
    class teachers for pupils in their own class; always with review unlocked (`review` as in
    `visible_incidents`)."""
    unlocked = review_unlocked(session_row) if review is None else review
    if not unlocked or not user.active or not reads_incidents(user):
        return False
    if user.can(Permission.REVIEW_ALL):
        return True
    return user.can(Permission.REVIEW_OWN_CLASS) and user in pupil.class_teachers


def reviews_whole_school(user: User) -> bool:
    """Whether review lets `user` read every incident, Safeguarding included (school reports)."""
    return user.can(Permission.REVIEW_ALL) and user.can(Permission.SEE_SENSITIVE)


class StepUpNeeded(Exception):
    """Review would let this user read the incident, once they confirm it is them (SPEC §6)."""


def _review_would_allow(user: User, incident: Incident) -> bool:
    if not reads_incidents(user):
        return False
    if incident.is_sensitive and not user.can(Permission.SEE_SENSITIVE):
        return False
    return _reviews(user, incident)


def can_view(user: User, incident: Incident, session_row: UserSession | None) -> bool:
    return access_reason(user, incident, session_row) is not None


def can_add_action(user: User, incident: Incident, session_row: UserSession | None) -> bool:
    return can_view(user, incident, session_row)


def can_change_status(user: User, incident: Incident, session_row: UserSession | None) -> bool:
    """Closing, reopening and "no further action" are for those who manage cases."""
    return user.can(Permission.REVIEW_ALL) and can_view(user, incident, session_row)


def can_correct(user: User, incident: Incident, session_row: UserSession | None) -> bool:
    """Corrections are dsl only, with a passkey assertion in the last five minutes (SPEC §6)."""
    return (
        user.can(Permission.CORRECT_RECORDS)
        and can_view(user, incident, session_row)
        and has_fresh_assertion(session_row)
    )


def can_see_corrections(user: User) -> bool:
    return user.can(Permission.CORRECT_RECORDS)


def can_see_readers(user: User, incident: Incident) -> bool:
    """Who has and has not read it: for the author and the dsl (SPEC §4)."""
    return incident.author_id == user.id or user.has_role(Role.DSL)


# Why someone could not read an incident they were alerted to or assigned: the one rule behind
# alert recipients (server/alerts/rules.refusal), assignees and "alerted, not yet read".
DISABLED_REFUSAL = "their account is disabled"
NO_INCIDENTS_REFUSAL = "may not see incidents"
SENSITIVE_REFUSAL = "may not see Safeguarding incidents"


def refusal_if_alerted(user: User, sensitive: bool) -> str | None:
    """Why `user` could not read such an incident once alerted to it, or None if they could."""
    if not user.active:
        return DISABLED_REFUSAL
    if not reads_incidents(user):
        return NO_INCIDENTS_REFUSAL
    if sensitive and not user.can(Permission.SEE_SENSITIVE):
        return SENSITIVE_REFUSAL
    return None


def may_see_incident_if_alerted(user: User, incident: Incident) -> bool:
    """Whether `user` could read `incident` once alerted to it (for assignees and recipients)."""
    return refusal_if_alerted(user, incident.is_sensitive) is None


def require_view(user: User, incident: Incident) -> str:
    """Abort with 403 unless `user` may read `incident`; returns why they may.

    Raises StepUpNeeded instead when a passkey step-up would let them review it.
    """
    session_row = g.get("user_session")
    reason = access_reason(user, incident, session_row)
    if reason is None and not review_unlocked(session_row) and _review_would_allow(user, incident):
        raise StepUpNeeded()
    if reason is None:
        abort(403)
    if reason == "review":
        note_review_activity(session_row)
    return reason
