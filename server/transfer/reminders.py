"""The five-school-day clock (SPEC §8): once a transfer's school days have passed without a
confirmed receipt, the DSL who made it (or, if they no longer are one, every DSL) is reminded
each school day, in the app and by push, until the receipt is confirmed.

Run by the push sweep (`server.push.delivery.sweep`: the `clock` process, or the in-process
loop). Each reminder is one `transfer_reminders` row, unique per transfer and school day: with
several workers the one whose insert commits reminds, the others do nothing.
"""

import logging
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.alerts.rules import users_with_role
from server.audit.operations import record
from server.auth.models import User
from server.auth.roles import Permission, Role
from server.clock import school_today, utcnow
from server.extensions import db
from server.push.outbox import queue_for_users
from server.transfer.models import OutgoingTransfer, TransferReminder
from server.transfer.operations import due_by
from server.transfer.schooldays import is_school_day

log = logging.getLogger(__name__)


def overdue(today: date | None = None) -> list[OutgoingTransfer]:
    """Transfers past their school days without a confirmed receipt."""
    today = today or school_today()
    waiting = db.session.scalars(
        select(OutgoingTransfer).where(OutgoingTransfer.confirmed_at.is_(None))
    )
    return [transfer for transfer in waiting if due_by(transfer) < today]


def remind_due(today: date | None = None) -> list[TransferReminder]:
    today = today or school_today()
    if not is_school_day(today):
        return []
    done = []
    for transfer in overdue(today):
        reminder = remind(transfer.id, today)
        if reminder is not None:
            done.append(reminder)
    return done


def _recipients(transfer: OutgoingTransfer) -> list[User]:
    maker = transfer.created_by
    if maker.active and maker.can(Permission.TRANSFER_RECORDS):
        return [maker]
    return users_with_role(Role.DSL)


def remind(transfer_id: int, today: date) -> TransferReminder | None:
    transfer = db.session.get(OutgoingTransfer, transfer_id)
    if transfer is None or transfer.confirmed_at is not None:
        return None
    recipients = _recipients(transfer)
    reminder = TransferReminder(
        transfer_id=transfer.id, school_day=today, recipients=len(recipients), created_at=utcnow()
    )
    try:
        db.session.add(reminder)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return None
    queue_for_users(
        [user.id for user in recipients], high_urgency=False, transfer_reminder_id=reminder.id
    )
    record(
        "transfer.reminded",
        object_type="pupil",
        object_id=transfer.pupil_id,
        actor_label="system",
        details={"package_id": transfer.package_id, "day": today.isoformat(),
                 "recipients": len(recipients)},
    )  # fmt: skip
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    log.info("transfer %s: reminded %d people", transfer.package_id, len(recipients))
    return reminder


# The home page's card counts at most this many (oldest first, so the overdue ones are in it).
AWAITING_SHOWN = 100


def awaiting(user: User) -> list[tuple[OutgoingTransfer, date, bool]]:
    """For the home page: (transfer, due by, overdue) for every transfer awaiting its receipt."""
    if not user.can(Permission.TRANSFER_RECORDS):
        return []
    today = school_today()
    rows = db.session.scalars(
        select(OutgoingTransfer)
        .where(OutgoingTransfer.confirmed_at.is_(None))
        .order_by(OutgoingTransfer.created_at)
        .limit(AWAITING_SHOWN)
    )
    return [(row, due_by(row), due_by(row) < today) for row in rows]
