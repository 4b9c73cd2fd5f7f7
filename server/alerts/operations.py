"""Making alerts, reading them, and the inbox: the functions views and the incidents feature call.

Who is alerted is decided in `server.alerts.rules`; this module writes the rows, checks
permission, audits and flushes. Views commit.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import g, has_request_context
from sqlalchemy import Select, and_, exists, func, insert, or_, select
from sqlalchemy.orm import make_transient_to_detached, selectinload

from server.alerts import rules
from server.alerts.models import (
    DANGER_RANK,
    UNREAD_RANK,
    Alert,
    AlertRule,
    AlertUnread,
    IncidentOpening,
    IncidentRead,
)
from server.alerts.rules import Reason, Recipient
from server.approvals import operations as approvals
from server.audit.operations import record
from server.auth import accounts
from server.auth.models import User
from server.auth.roles import Permission
from server.clock import utcnow
from server.errors import Refused
from server.extensions import db
from server.ids import parse_id, row_by_id
from server.incidents.models import Action, Category, Incident
from server.incidents.policy import (  # noqa: F401 (was_alerted: callers)
    DISABLED_REFUSAL,
    NO_INCIDENTS_REFUSAL,
    can_view,
    may_see_incident_if_alerted,
    was_alerted,
)
from server.incidents.queries import in_family, sensitive_incident
from server.pupils.models import Pupil
from server.push.outbox import devices_of, queue_for_alerts

INBOX_PAGE_SIZE = 50
# The menu's badge counts this far, then shows "99+".
UNREAD_COUNT_CAP = 99


class AlertError(Refused):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message, status)


class AlertRefused(AlertError):
    """A chosen recipient may not be alerted; the whole submission is refused (422)."""

    def __init__(self, message: str):
        super().__init__(message, 422)


# --- Who will be alerted -------------------------------------------------------------------


def _person(user: User | None, person_id, reason: str, label: str | None = None) -> dict:
    return {
        "id": person_id,
        "name": user.full_name if user is not None else "",
        "reason": reason,
        "reason_label": label or reason,
    }


def _recipient_json(recipient: Recipient) -> dict:
    return _person(
        recipient.user, recipient.user.id, recipient.reason.value, recipient.reason.label
    )


@dataclass
class Preview:
    """Who an incident would alert, and which chosen individuals are refused (and why)."""

    sensitive: bool
    recipients: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"sensitive": self.sensitive, "recipients": self.recipients, "refused": self.refused}


def _as_id(value) -> int | None:
    return parse_id(value)


def _chosen(author: User, extra_ids, sensitive: bool, already: set[int]):
    """Split chosen individuals into (recipients, refusals as {id, name, reason})."""
    accepted: list[Recipient] = []
    refused: list[dict] = []
    seen = set(already) | {author.id}
    for raw in extra_ids or ():
        person_id = _as_id(raw)
        if person_id is not None and person_id in seen:
            continue
        user = db.session.get(User, person_id) if person_id is not None else None
        why = rules.refusal(user, sensitive)
        if why is not None:
            refused.append(_person(user, raw if person_id is None else person_id, why))
        else:
            accepted.append(Recipient(user, Reason.CHOSEN))
        if person_id is not None:
            seen.add(person_id)
    return accepted, refused


def preview_recipients(author: User, pupil_ids, category_ids, extra_recipient_ids) -> Preview:
    """What the Add Incident form shows before submitting (SPEC §2 "Alert staff").

    `pupil_ids` holds the incident's own pupil (none before one is chosen); any further ids are
    ignored, exactly as `create_incident_alerts` asks only `incident.pupil`: a linked pupil's
    class teacher is never alerted, so is never shown.
    """
    pupil = _first_pupil(pupil_ids)
    sensitive = any(category.sensitive for category in _by_ids(Category, category_ids))
    automatic = rules.incident_recipients(
        author=author, pupil=pupil, sensitive=sensitive, rules=rules.current_rules()
    )
    chosen, refused = _chosen(
        author, extra_recipient_ids, sensitive, {r.user.id for r in automatic}
    )
    return Preview(
        sensitive=sensitive,
        recipients=[_recipient_json(r) for r in automatic + chosen],
        refused=[_as_shown_to_author(item) for item in refused],
    )


# The form's staff list holds only active people who read incidents. For any other id the
# author learns nothing: neither a name nor whether the account exists, is disabled or is the
# office's.
OFF_THE_STAFF_LIST = frozenset(
    {rules.UNKNOWN_REFUSAL, DISABLED_REFUSAL, NO_INCIDENTS_REFUSAL}
)
NOT_ON_THE_STAFF_LIST = "is not on the staff list"


def _as_shown_to_author(item: dict) -> dict:
    if item["reason"] not in OFF_THE_STAFF_LIST:
        return item
    return {
        **item,
        "name": "",
        "reason": NOT_ON_THE_STAFF_LIST,
        "reason_label": NOT_ON_THE_STAFF_LIST,
    }


def _first_pupil(pupil_ids) -> Pupil | None:
    first = next(iter(pupil_ids or ()), None)
    pupil_id = _as_id(first)
    return db.session.get(Pupil, pupil_id) if pupil_id is not None else None


def _by_ids(model, ids) -> list:
    wanted = {i for i in (_as_id(raw) for raw in ids or ()) if i is not None}
    if not wanted:
        return []
    return list(db.session.scalars(select(model).where(model.id.in_(wanted))))


# --- Making alerts ------------------------------------------------------------------------


def _refusal_message(refused: list[dict]) -> str:
    names = "; ".join(
        f"{item['name'] or 'Account ' + str(item['id'])} {item['reason']}" for item in refused
    )
    return (
        f"These people cannot be alerted to this incident: {names}. "
        "Remove them from “Alert staff” and submit again."
    )


@dataclass(frozen=True)
class AlertPlan:
    recipients: list[Recipient]
    devices: dict[int, list[int]]  # {user id: their push subscriptions' ids}


def incident_alert_plan(
    author: User, pupil: Pupil | None, sensitive: bool, extra_recipient_ids=()
) -> AlertPlan:
    """Who a new incident will alert, and their devices, worked out before it is written.

    Raises `AlertRefused` when a chosen individual may not see it; a chosen individual whose
    account has since been disabled is simply not alerted. Nothing here needs the incident's
    row, so a submission asks before it takes the numbering lock, not while holding it.
    """
    automatic = rules.incident_recipients(
        author=author, pupil=pupil, sensitive=sensitive, rules=rules.current_rules()
    )
    chosen, refused = _chosen(
        author, extra_recipient_ids, sensitive, {r.user.id for r in automatic}
    )
    refused = [item for item in refused if item["reason"] != DISABLED_REFUSAL]
    if refused:
        raise AlertRefused(_refusal_message([_as_shown_to_author(item) for item in refused]))
    recipients = automatic + chosen
    return AlertPlan(recipients, devices_of({r.user.id for r in recipients}))


def create_incident_alerts(
    incident: Incident, extra_recipient_ids=(), plan: AlertPlan | None = None
) -> list[Alert]:
    """The alert rows for a new incident, in the incident's own transaction, as `plan` (from
    `incident_alert_plan`) says, or worked out now.

    Raises `AlertRefused` (and writes nothing) when a chosen individual may not see it.
    """
    db.session.flush()
    if plan is None:
        plan = incident_alert_plan(
            incident.author, incident.pupil, incident.is_sensitive, extra_recipient_ids
        )
    return _write_alerts(
        plan.recipients, incident_id=incident.id, action_id=None, devices=plan.devices
    )


def create_action_alerts(action: Action) -> list[Alert]:
    """The alert rows for a new action: by default slt, pastoral, the incident's author and any
    assignee (`server.alerts.rules`)."""
    db.session.flush()
    incident = action.incident
    recipients = rules.action_recipients(
        action_author=action.author,
        incident_author=incident.author,
        assignee=action.assignee,
        pupil=incident.pupil,
        sensitive=incident.is_sensitive,
        rules=rules.current_rules(),
    )
    return _write_alerts(recipients, incident_id=incident.id, action_id=action.id)


def _write_alerts(
    recipients: Iterable[Recipient], *, incident_id: int, action_id, devices=None
) -> list[Alert]:
    """All the alert rows in ONE statement (INSERT … VALUES (…), (…) RETURNING), however many
    people are alerted; each person appears once, so the ids are matched by recipient. Sent as
    an executemany, which SQLAlchemy batches into that one statement ("insertmanyvalues") from
    a compiled form it caches: `.values(rows)` would compile a new statement every time, a
    millisecond of Python while the submission holds the numbering lock."""
    now = utcnow()
    rows = [
        {
            "user_id": r.user.id,
            "incident_id": incident_id,
            "action_id": action_id,
            "reason": r.reason.value,
            "created_at": now,
        }
        for r in recipients
    ]
    if not rows:
        return []
    db.session.flush()
    table = Alert.__table__
    ids = dict(db.session.execute(insert(table).returning(table.c.user_id, table.c.id), rows).all())
    alerts = []
    for row in rows:
        # The rows as written, made persistent in the session without reading them back.
        alert = Alert(id=ids[row["user_id"]], **row)
        make_transient_to_detached(alert)
        db.session.add(alert)
        alerts.append(alert)
    # The outbox: each alert's deliveries commit (or roll back) with the alert itself.
    queue_for_alerts(alerts, devices)
    return alerts


# --- Reading ------------------------------------------------------------------------------


def last_read(user: User, incident: Incident) -> datetime | None:
    return db.session.scalar(
        select(func.max(IncidentRead.read_at)).where(
            IncidentRead.user_id == user.id, IncidentRead.incident_id == incident.id
        )
    )


def _has_unread(user: User, incident: Incident, since: datetime | None) -> bool:
    query = select(Alert.id).where(Alert.user_id == user.id, Alert.incident_id == incident.id)
    if since is not None:
        query = query.where(Alert.created_at > since)
    return db.session.scalar(query.limit(1)) is not None


def read_state(user: User, incident: Incident) -> datetime | None:
    """When `user` last read `incident`; None if never, or if alerted to something since."""
    latest = last_read(user, incident)
    if latest is None or _has_unread(user, incident, latest):
        return None
    return latest


def _session_row():
    return g.get("user_session") if has_request_context() else None


def mark_read(user: User, incident: Incident, session_row=None) -> IncidentRead:
    """Record that `user` has read `incident` now (audited); only for someone who may read it.

    Reading again when nothing new has been alerted since adds nothing: the first reading stands.
    """
    if not can_view(user, incident, session_row or _session_row()):
        raise AlertError("You may not see this incident.", 403)
    previous = last_read(user, incident)
    if previous is not None and not _has_unread(user, incident, previous):
        return db.session.scalar(
            select(IncidentRead)
            .where(IncidentRead.user_id == user.id, IncidentRead.incident_id == incident.id)
            .order_by(IncidentRead.read_at.desc())
            .limit(1)
        )
    reading = IncidentRead(incident_id=incident.id, user_id=user.id, read_at=utcnow())
    db.session.add(reading)
    record(
        "incident.marked_read",
        object_type="incident",
        object_id=incident.id,
        actor=user,
        details={"number": incident.number},
    )
    db.session.flush()
    return reading


def readers(incident: Incident) -> list[dict]:
    """Who has read `incident`, each with when they first did, earliest first."""
    first = func.min(IncidentRead.read_at).label("read_at")
    rows = db.session.execute(
        select(IncidentRead.user_id, first)
        .where(IncidentRead.incident_id == incident.id)
        .group_by(IncidentRead.user_id)
        .order_by(first, IncidentRead.user_id)
    ).all()
    users = {u.id: u for u in _by_ids(User, [row.user_id for row in rows])}
    return [{"user": users[row.user_id], "read_at": row.read_at} for row in rows]


def not_yet_read(incident: Incident) -> list[dict]:
    """Who was alerted to `incident`, may still read it, and has never read it, with when they
    were first alerted. Someone who has lost access since (a re-categorisation as Safeguarding,
    a changed role, a closed account) is not waiting to read it: they cannot."""
    has_read = exists().where(
        IncidentRead.incident_id == Alert.incident_id, IncidentRead.user_id == Alert.user_id
    )
    first = func.min(Alert.created_at).label("alerted_at")
    rows = db.session.execute(
        select(Alert.user_id, first)
        .where(Alert.incident_id == incident.id, ~has_read)
        .group_by(Alert.user_id)
    ).all()
    users = {u.id: u for u in _by_ids(User, [row.user_id for row in rows])}
    opened = first_openings(incident)
    people = [
        {
            "user": users[row.user_id],
            "alerted_at": row.alerted_at,
            "opened_at": opened.get(row.user_id),
        }
        for row in rows
        if may_see_incident_if_alerted(users[row.user_id], incident)
    ]
    return sorted(people, key=lambda item: (item["user"].full_name, item["user"].id))


def first_openings(incident: Incident) -> dict[int, datetime]:
    """{user id: when they first opened the incident} for everyone who has."""
    rows = db.session.execute(
        select(IncidentOpening.user_id, func.min(IncidentOpening.opened_at))
        .where(IncidentOpening.incident_id == incident.id)
        .group_by(IncidentOpening.user_id)
    ).all()
    return {user_id: opened_at for user_id, opened_at in rows}


def note_opened(user: User, incident: Incident) -> IncidentOpening | None:
    """Someone alerted to `incident` opened it: recorded once per alert they have had, so the
    author and DSL can tell "opened" from "marked as read". Call after the view is allowed."""
    latest_alert = db.session.scalar(
        select(func.max(Alert.created_at)).where(
            Alert.user_id == user.id, Alert.incident_id == incident.id
        )
    )
    if latest_alert is None:
        return None
    seen_since = db.session.scalar(
        select(
            exists().where(
                IncidentOpening.user_id == user.id,
                IncidentOpening.incident_id == incident.id,
                IncidentOpening.opened_at >= latest_alert,
            )
        )
    )
    if seen_since:
        return None
    opening = IncidentOpening(incident_id=incident.id, user_id=user.id, opened_at=utcnow())
    db.session.add(opening)
    db.session.flush()
    return opening


# --- The inbox ----------------------------------------------------------------------------


def _visible(user: User, query: Select) -> Select:
    if not user.can(Permission.SEE_SENSITIVE):
        query = query.where(~sensitive_incident(Alert.incident_id))
    return query


def unread_count(user: User) -> int:
    """The menu's count: the user's unread alerts on incidents they may still see, counted up
    to UNREAD_COUNT_CAP + 1 (shown as "99+"), so the count reads at most that many index
    entries of the unread set (`alert_unread`, kept by triggers), however large the backlog."""
    query = select(AlertUnread.alert_id).where(AlertUnread.user_id == user.id)
    if not user.can(Permission.SEE_SENSITIVE):
        query = query.where(AlertUnread.sensitive.is_(False))
    capped = query.limit(UNREAD_COUNT_CAP + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(capped)) or 0


# Sections of the inbox, in the order shown (the first two are alert_unread's ranks).
UNREAD_DANGER, UNREAD, READ = DANGER_RANK, UNREAD_RANK, 2


@dataclass(frozen=True)
class InboxCursor:
    """Where a page of the inbox ends: (section, created_at, id) of its last alert."""

    section: int
    created_at: datetime
    alert_id: int

    def token(self) -> str:
        return f"{self.section}.{self.created_at.isoformat()}.{self.alert_id}"

    @classmethod
    def parse(cls, token: str | None) -> "InboxCursor | None":
        """None for no cursor; AlertError (400) for one that cannot be read."""
        if not token:
            return None
        try:
            section, rest = token.split(".", 1)
            moment, alert_id = rest.rsplit(".", 1)
            cursor = cls(int(section), datetime.fromisoformat(moment), int(alert_id))
        except ValueError:
            raise AlertError("That page of alerts could not be found.", 400) from None
        if cursor.section not in (UNREAD_DANGER, UNREAD, READ) or cursor.created_at.tzinfo is None:
            raise AlertError("That page of alerts could not be found.", 400)
        return cursor


@dataclass
class InboxPage:
    alerts: list[Alert]
    next_cursor: str | None = None
    first: bool = True

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def _filtered(user: User, query: Select, family_id: int | None) -> Select:
    query = _visible(user, query)
    if family_id is not None:
        query = query.where(in_family(Alert.incident_id, family_id))
    return query


def _before(created_at, alert_id, cursor: InboxCursor):
    """SQL: (created_at, id) after `cursor` in newest-first order. The plain `<=` bound lets
    the index range start at the cursor rather than at the top of the section."""
    return and_(
        created_at <= cursor.created_at,
        or_(created_at < cursor.created_at, alert_id < cursor.alert_id),
    )


def _unread_rows(user: User, family_id: int | None) -> Select:
    query = select(AlertUnread.rank, AlertUnread.created_at, AlertUnread.alert_id).where(
        AlertUnread.user_id == user.id
    )
    if not user.can(Permission.SEE_SENSITIVE):
        query = query.where(AlertUnread.sensitive.is_(False))
    if family_id is not None:
        query = query.where(in_family(AlertUnread.incident_id, family_id))
    return query


def _unread_page(user: User, family_id, cursor: InboxCursor | None, limit: int) -> list[tuple]:
    """(section, created_at, id) of the next unread alerts in the order shown: danger first,
    then the rest, newest first in each. A walk down alert_unread's (user_id, rank,
    created_at desc, alert_id desc) index, LIMITed: page 1 is this one query however many
    alerts are unread."""
    newest_first = (AlertUnread.rank, AlertUnread.created_at.desc(), AlertUnread.alert_id.desc())
    base = _unread_rows(user, family_id)
    if cursor is None:
        return [tuple(row) for row in db.session.execute(base.order_by(*newest_first).limit(limit))]
    keys: list[tuple] = []
    for rank in (DANGER_RANK, UNREAD_RANK):
        if rank < cursor.section or len(keys) >= limit:
            continue
        query = base.where(AlertUnread.rank == rank)
        if rank == cursor.section:
            query = query.where(_before(AlertUnread.created_at, AlertUnread.alert_id, cursor))
        rows = db.session.execute(query.order_by(*newest_first).limit(limit - len(keys)))
        keys += [tuple(row) for row in rows]
    return keys


def _read_page(user: User, family_id, cursor: InboxCursor | None, limit: int) -> list[int]:
    """Ids of the next read alerts, newest first: a walk down (user_id, created_at, id)."""
    unread = exists().where(AlertUnread.alert_id == Alert.id)
    query = _filtered(user, select(Alert.id).where(Alert.user_id == user.id, ~unread), family_id)
    if cursor is not None and cursor.section == READ:
        query = query.where(_before(Alert.created_at, Alert.id, cursor))
    return list(
        db.session.scalars(query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit))
    )


def inbox(
    user: User,
    *,
    unread_only: bool = False,
    family_id: int | None = None,
    after: str | None = None,
) -> InboxPage:
    """The user's alerts: unread urgent and Safeguarding first, then unread, then read; newest
    first within each. Keyset pages (`after` is the previous page's `next_cursor`): a page
    costs the same with 1,000 alerts or 100,000, however many of them are unread."""
    cursor = InboxCursor.parse(after)
    wanted = INBOX_PAGE_SIZE + 1  # one more, to know whether there is a next page
    keys: list[tuple] = []
    if cursor is None or cursor.section != READ:
        keys = _unread_page(user, family_id, cursor, wanted)
    if not unread_only and len(keys) < wanted:
        read_ids = _read_page(user, family_id, cursor, wanted - len(keys))
        keys += [(READ, None, alert_id) for alert_id in read_ids]
    shown, more = keys[:INBOX_PAGE_SIZE], len(keys) > INBOX_PAGE_SIZE
    alerts = _load_alerts([alert_id for _, _, alert_id in shown])
    next_cursor = None
    if more and shown:
        last = alerts[-1]
        next_cursor = InboxCursor(shown[-1][0], last.created_at, last.id).token()
    return InboxPage(alerts=alerts, next_cursor=next_cursor, first=cursor is None)


def _load_alerts(ids: list[int]) -> list[Alert]:
    if not ids:
        return []
    found = db.session.scalars(
        select(Alert)
        .where(Alert.id.in_(ids))
        .options(
            selectinload(Alert.incident).selectinload(Incident.events),
            selectinload(Alert.incident).selectinload(Incident.original_categories),
            selectinload(Alert.action),
        )
    ).all()
    by_id = {alert.id: alert for alert in found}
    return [by_id[alert_id] for alert_id in ids]


def families_for(user: User) -> list[Category]:
    """The category families the inbox can be filtered by."""
    query = select(Category).where(Category.parent_id.is_(None)).order_by(Category.position)
    if not user.can(Permission.SEE_SENSITIVE):
        query = query.where(Category.sensitive.is_(False))
    return list(db.session.scalars(query))


def own_alert(user: User, alert_id) -> Alert:
    """The user's own alert, or 404 for anyone else's (whose existence is not revealed)."""
    alert = row_by_id(Alert, alert_id)
    if alert is None or alert.user_id != user.id:
        raise AlertError("There is no such alert.", 404)
    return alert


def incident_by_number(number) -> Incident:
    number = parse_id(number)  # numbers are ids too: a 32-bit column, 1 and up
    incident = (
        db.session.scalar(select(Incident).where(Incident.number == number))
        if number is not None
        else None
    )
    if incident is None:
        raise AlertError("There is no such incident.", 404)
    return incident


# --- What an alert may say (SPEC §4 content rule) -----------------------------------------


def category_label(incident: Incident, *, family_only_if_sensitive: bool = False) -> str:
    names = []
    for category in incident.categories:
        if category.sensitive and family_only_if_sensitive:
            family = category.parent or category
            name = family.name
        else:
            name = category.full_name
        if name not in names:
            names.append(name)
    return ", ".join(names)


def raised_by(alert: Alert) -> str:
    """Who raised it: the author, or the person they recorded it for."""
    return raised_by_incident(alert.action if alert.action is not None else alert.incident)


def raised_by_incident(record_) -> str:
    """Who raised an incident (or action): the author, or the person they recorded it for."""
    if record_.recorded_on_behalf_name:
        return f"{record_.author.full_name} for {record_.recorded_on_behalf_name}"
    return record_.author.full_name


def alert_summary(alert: Alert) -> dict:
    """The whole text of a notification: who raised it and the category, nothing else.

    Never the child's name, nor any of the account or an action's text. A sensitive
    category is named by its family only ("Safeguarding"), since it may show on a lock screen.
    """
    category = category_label(alert.incident, family_only_if_sensitive=True)
    if alert.action is not None:
        return {"title": f"New action: {category}", "body": f"Added by {raised_by(alert)}"}
    return {"title": f"New concern: {category}", "body": f"Raised by {raised_by(alert)}"}


# --- Editing the rules (admin) ------------------------------------------------------------

DSL_REQUIRED = "The designated safeguarding lead must always be alerted to Safeguarding incidents."
# Disclosures are recorded as "Cause for concern – Safeguarding disclosure", which is not a
# sensitive category: the every-incident rule is the only way they reach the DSL.
DSL_REQUIRED_FOR_EVERY_INCIDENT = (
    "The designated safeguarding lead must be alerted to every incident: safeguarding "
    "disclosures reach them only this way."
)


def set_rules(chosen: dict, *, by: User):
    """Replace the alert rules with `chosen` ({event: recipients}); audited. Returns whether
    anything changed, or — when a rule would alert more people and `by` is not a DSL — the
    request filed for a DSL to approve (an alert lets its recipient read the incident).
    Refused (422, nothing written) if a rule breaks one of `rules.py`'s."""
    wanted = _clean_rules(chosen)
    before = rules.current_rules()
    if wanted == before:
        return False
    widens = any(wanted[event] - before[event] for event in rules.Event)
    if widens and not accounts.decides_who_reads(by):
        return approvals.file_alert_rules_request(
            {event.value: {r.label for r in before[event]} for event in rules.Event},
            {event.value: {r.label for r in wanted[event]} for event in rules.Event},
            labels={event.value: event.label for event in rules.Event},
            by=by,
            change={
                "before": {event.value: sorted(before[event]) for event in rules.Event},
                "after": {event.value: sorted(wanted[event]) for event in rules.Event},
            },
        )
    _write_rules(before, wanted, by)
    return True


def apply_rules_request(change: dict, *, by: User) -> None:
    """A DSL's approval: the rules asked for, if they still stand as they did when asked."""
    before = rules.current_rules()
    if {event.value: sorted(before[event]) for event in rules.Event} != change["before"]:
        raise AlertError(accounts.STALE_REQUEST_MESSAGE, 409)
    _write_rules(before, _clean_rules(change["after"]), by)


def _write_rules(before: rules.Rules, wanted: rules.Rules, by: User) -> None:
    for row in db.session.scalars(select(AlertRule)):
        if Reason(row.recipient) not in wanted[rules.Event(row.event)]:
            db.session.delete(row)
    for event, recipients in wanted.items():
        for recipient in sorted(recipients - before[event]):
            db.session.add(AlertRule(event=event.value, recipient=recipient.value))
    record(
        "alerts.rules_changed",
        object_type="alert_rules",
        actor=by,
        details={
            event.value: {"before": sorted(before[event]), "after": sorted(wanted[event])}
            for event in rules.Event
            if before[event] != wanted[event]
        },
    )
    db.session.flush()


def _clean_rules(chosen: dict) -> rules.Rules:
    wanted: dict = {}
    problems: list[str] = []
    for event in rules.Event:
        wanted[event] = set()
        for value in chosen.get(event, chosen.get(event.value, ())) or ():
            try:
                recipient = Reason(value)
            except ValueError:
                problems.append(f"“{value}” is not someone who can be alerted.")
                continue
            problem = rules.rule_refusal(event, recipient)
            if problem:
                problems.append(problem)
            else:
                wanted[event].add(recipient)
    if Reason.DSL not in wanted[rules.Event.SENSITIVE_INCIDENT]:
        problems.append(DSL_REQUIRED)
    if Reason.DSL not in wanted[rules.Event.INCIDENT]:
        problems.append(DSL_REQUIRED_FOR_EVERY_INCIDENT)
    if problems:
        raise AlertError(" ".join(dict.fromkeys(problems)), 422)
    return {event: frozenset(recipients) for event, recipients in wanted.items()}
