"""Who is alerted to an incident or an action, and why (SPEC §1, §4). All the rules are here.

- Every incident alerts the roles in the `incident` rule (default dsl, slt and pastoral) and,
  when switched on, the class teacher(s) of the incident's own pupil — never of a linked pupil:
  an alert lets its recipient read the incident for good (`server.incidents.policy`), and a
  class teacher may read only their own class's records (SPEC §1). The preview before
  submitting shows the same people.
- The dsl is in the default `incident` rule so that a "Cause for concern – Safeguarding
  disclosure", which any member of staff may record and which is not itself sensitive, reaches
  every designated (and deputy) safeguarding lead, not only those who also hold slt or pastoral.
- A sensitive (Safeguarding) incident alerts only the roles in the `sensitive_incident` rule
  (default dsl, slt and pastoral), and a rule may only name roles that may see sensitive
  categories: see `rule_refusal`.
- A class teacher is never alerted to a safeguarding incident as a class teacher:
  see `class_teacher_rule_applies` (and `rule_refusal`, which keeps it out of the sensitive rule).
- Nobody is ever alerted to a sensitive incident unless they may see it, whatever the rules or
  the author chose: see `may_be_alerted`.
- Every action alerts the `action` rule's roles (default slt and pastoral), the incident's
  author and any assignee, but never the action's own author; if the rule names the class
  teacher, that is again only the teacher(s) of the incident's own pupil.
- The author of an incident is not alerted about it; disabled accounts are never alerted.
"""

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import literal, or_, select
from sqlalchemy.orm import joinedload

from server.alerts.models import AlertRule
from server.auth.models import User, UserRole
from server.auth.roles import ROLE_PERMISSIONS, Permission, Role
from server.extensions import db
from server.incidents.policy import refusal_if_alerted
from server.pupils.models import Pupil, class_teachers
from server.settings_cache import cached


class Event(StrEnum):
    INCIDENT = "incident"
    SENSITIVE_INCIDENT = "sensitive_incident"
    ACTION = "action"

    @property
    def label(self) -> str:
        return EVENT_LABELS[self]


EVENT_LABELS = {
    Event.INCIDENT: "Every incident",
    Event.SENSITIVE_INCIDENT: "Safeguarding (sensitive) incidents",
    Event.ACTION: "Every action",
}


class Reason(StrEnum):
    """Why someone was alerted. Role reasons carry the role's own value."""

    DSL = Role.DSL.value
    SLT = Role.SLT.value
    PASTORAL = Role.PASTORAL.value
    STAFF = Role.STAFF.value
    CLASS_TEACHER = "class_teacher"  # the incident's own pupil's class teacher, not every one
    CHOSEN = "chosen"
    AUTHOR = "author"
    ASSIGNEE = "assignee"
    ESCALATION = "escalation"  # not alerted by the rules, reached by escalation (SPEC §4)

    @property
    def label(self) -> str:
        return REASON_LABELS[self]


REASON_LABELS = {
    Reason.DSL: "Designated safeguarding lead",
    Reason.SLT: "Senior leadership",
    Reason.PASTORAL: "Pastoral",
    Reason.STAFF: "All staff",
    Reason.CLASS_TEACHER: "Class teacher of the pupil",
    Reason.CHOSEN: "Chosen by the author",
    Reason.AUTHOR: "Author of the incident",
    Reason.ASSIGNEE: "Assigned the action",
    Reason.ESCALATION: "Escalated: no DSL had read it",
}

# Roles a rule may name: everyone who reads incidents, except class teachers as a whole, who
# are alerted for their own pupils through the class-teacher rule instead.
RULE_ROLES = (Role.DSL, Role.SLT, Role.PASTORAL, Role.STAFF)
# The reasons that are whole roles (every active holder), as against the pupil's class teacher.
ROLE_REASONS = frozenset(Reason(role.value) for role in RULE_ROLES)
# Who each event's rule may name, in the order they are shown and take precedence.
RULE_RECIPIENTS: dict[Event, tuple[Reason, ...]] = {
    Event.INCIDENT: (*(Reason(r.value) for r in RULE_ROLES), Reason.CLASS_TEACHER),
    Event.SENSITIVE_INCIDENT: (*(Reason(r.value) for r in RULE_ROLES), Reason.CLASS_TEACHER),
    Event.ACTION: (
        Reason.ASSIGNEE,
        Reason.AUTHOR,
        *(Reason(r.value) for r in RULE_ROLES),
        Reason.CLASS_TEACHER,
    ),
}

DEFAULT_RULES: dict[Event, frozenset[Reason]] = {
    Event.INCIDENT: frozenset({Reason.DSL, Reason.SLT, Reason.PASTORAL, Reason.CLASS_TEACHER}),
    Event.SENSITIVE_INCIDENT: frozenset({Reason.DSL, Reason.SLT, Reason.PASTORAL}),
    Event.ACTION: frozenset({Reason.SLT, Reason.PASTORAL, Reason.AUTHOR, Reason.ASSIGNEE}),
}

UNKNOWN_REFUSAL = "no such account"

Rules = dict[Event, frozenset[Reason]]


@dataclass(frozen=True)
class Recipient:
    user: User
    reason: Reason


def class_teacher_rule_applies(sensitive: bool) -> bool:
    """A class teacher is never alerted to a safeguarding incident (SPEC §1, §4).

    They may still record one; only dsl, slt and pastoral are told of it.
    """
    return not sensitive


def refusal(user: User | None, sensitive: bool) -> str | None:
    """Why this person may not be alerted to such an incident, or None if they may: the same
    rule as who may read it once alerted (server/incidents/policy.py)."""
    if user is None:
        return UNKNOWN_REFUSAL
    return refusal_if_alerted(user, sensitive)


def may_be_alerted(user: User, sensitive: bool) -> bool:
    """The last word on every recipient: active, reads incidents, may see sensitive ones."""
    return refusal(user, sensitive) is None


def rule_refusal(event: Event, recipient: Reason) -> str | None:
    """Why a rule may not name this recipient for this event (the admin's edit is refused)."""
    if recipient not in RULE_RECIPIENTS[event]:
        return f"“{recipient.label}” cannot be alerted for {event.label.lower()}."
    if event is not Event.SENSITIVE_INCIDENT:
        return None
    if recipient is Reason.CLASS_TEACHER and not class_teacher_rule_applies(sensitive=True):
        return "A class teacher is never alerted to a Safeguarding incident."
    role = Role(recipient.value)
    if Permission.SEE_SENSITIVE not in ROLE_PERMISSIONS[role]:
        return f"{role.label} may not see Safeguarding incidents, so cannot be alerted to them."
    return None


def users_with_role(role: Role) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole)
            .where(UserRole.role == role.value, User.active.is_(True))
            .order_by(User.full_name, User.id)
        )
    )


def class_teachers_of(pupil: Pupil | None) -> list[User]:
    """The class teacher(s) of the incident's own pupil; linked pupils are not asked."""
    return list(pupil.class_teachers) if pupil is not None else []


def _candidates_by_reason(reasons: list[Reason], pupil) -> dict[Reason, list[User]]:
    """Everyone the role and class-teacher reasons could name, in ONE query (users with their
    roles), split by reason here: a submission must not ask the database once per role."""
    roles = {Role(reason.value) for reason in reasons if reason in ROLE_REASONS}
    wanted_teachers = Reason.CLASS_TEACHER in reasons and pupil is not None and pupil.class_id
    if not roles and not wanted_teachers:
        return {}
    holders = select(UserRole.user_id).where(UserRole.role.in_([role.value for role in roles]))
    is_teacher = (
        User.id.in_(
            select(class_teachers.c.user_id).where(class_teachers.c.class_id == pupil.class_id)
        )
        if wanted_teachers
        else literal(False)
    )
    rows = (
        db.session.execute(
            select(User, is_teacher.label("teaches_pupil"))
            .where(or_(User.id.in_(holders), is_teacher))
            .options(joinedload(User.role_rows))
            .order_by(User.full_name, User.id)
        )
        .unique()
        .all()
    )
    found: dict[Reason, list[User]] = {}
    for user, teaches_pupil in rows:
        if teaches_pupil:
            found.setdefault(Reason.CLASS_TEACHER, []).append(user)
        if user.active:
            for role in user.roles & roles:
                found.setdefault(Reason(role.value), []).append(user)
    return found


def _candidates(reason: Reason, found, *, pupil, incident_author=None, assignee=None) -> list[User]:
    if reason is Reason.AUTHOR:
        return [incident_author] if incident_author is not None else []
    if reason is Reason.ASSIGNEE:
        return [assignee] if assignee is not None else []
    return found.get(reason, [])


def _collect(event, rules, sensitive, exclude, **people) -> list[Recipient]:
    """Each person once, under the first reason in `RULE_RECIPIENTS` order that names them."""
    chosen: dict[int, Recipient] = {}
    reasons = [
        reason
        for reason in RULE_RECIPIENTS[event]
        if reason in rules[event]
        and (reason is not Reason.CLASS_TEACHER or class_teacher_rule_applies(sensitive))
    ]
    found = _candidates_by_reason(reasons, people.get("pupil"))
    for reason in reasons:
        for user in _candidates(reason, found, **people):
            if user.id in exclude or user.id in chosen or not may_be_alerted(user, sensitive):
                continue
            chosen[user.id] = Recipient(user, reason)
    return list(chosen.values())


def incident_recipients(
    *, author: User, pupil: Pupil | None, sensitive: bool, rules: Rules
) -> list[Recipient]:
    """The automatic recipients of a new incident about `pupil` (the incident's own pupil).

    Linked pupils are deliberately not an argument: being linked to an incident never makes
    their class teacher a recipient (SPEC §1, §4).
    """
    event = Event.SENSITIVE_INCIDENT if sensitive else Event.INCIDENT
    return _collect(event, rules, sensitive, {author.id}, pupil=pupil)


def action_recipients(
    *,
    action_author: User,
    incident_author: User,
    assignee: User | None,
    pupil: Pupil,
    sensitive: bool,
    rules: Rules,
) -> list[Recipient]:
    """The recipients of a new action on an incident about `pupil` (its own pupil only)."""
    return _collect(
        Event.ACTION,
        rules,
        sensitive,
        {action_author.id},
        pupil=pupil,
        incident_author=incident_author,
        assignee=assignee,
    )


def current_rules() -> Rules:
    """The rules as they stand, from the per-process cache while no one has changed them."""
    return dict(cached("alert_rules", _read_rules))


def _read_rules() -> Rules:
    rules: dict[Event, set[Reason]] = {event: set() for event in Event}
    for event_name, recipient in db.session.execute(select(AlertRule.event, AlertRule.recipient)):
        rules[Event(event_name)].add(Reason(recipient))
    return {event: frozenset(recipients) for event, recipients in rules.items()}


def install_default_rules() -> bool:
    """Add the default rules if there are none (the migration seeds them too)."""
    if db.session.scalar(select(AlertRule.id).limit(1)) is not None:
        return False
    for event, recipients in DEFAULT_RULES.items():
        for recipient in sorted(recipients):
            db.session.add(AlertRule(event=event.value, recipient=recipient.value))
    db.session.flush()
    return True
