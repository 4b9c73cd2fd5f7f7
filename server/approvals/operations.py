"""Filing requests for a DSL's decision, listing them, and deciding them (SPEC §1).

Which changes need a DSL is decided in `server.auth.accounts` (and applied by the features that
own them: accounts, class teachers, alert rules). Here a request is written, shown to the DSL,
and approved — applying the change as the DSL's own, with its own audit — or declined. Either
way the decision is a row of its own and an audit event; nothing is ever rewritten.
"""

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from server.approvals.models import AccessDecision, AccessRequest
from server.audit.operations import record
from server.auth.models import User
from server.auth.roles import Permission, Role
from server.errors import Refused
from server.extensions import db

ACCOUNT = "account"
CLASS_TEACHERS = "class_teachers"
ALERT_RULES = "alert_rules"
# Disposal of a pupil's records at the end of retention (server.retention): filed and decided
# through the same two facts, but on the retention page, by a DSL or SLT.
DISPOSAL = "disposal"
# What this package's own page lists and decides: who reads incidents.
ACCESS_KINDS = (ACCOUNT, CLASS_TEACHERS, ALERT_RULES)


class ApprovalError(Refused):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message, status)


def file_request(kind: str, target_id: int | None, lines: list[str], change: dict, by: User):
    request = AccessRequest(
        kind=kind,
        target_id=target_id,
        summary="\n".join(lines),
        change=change,
        requested_by_id=by.id,
    )
    db.session.add(request)
    db.session.flush()
    record(
        "access.requested",
        actor=by,
        object_type="access_request",
        object_id=request.id,
        details={"kind": kind, "target_id": target_id, "summary": lines},
    )
    return request


def _role_names(roles) -> str:
    return ", ".join(Role(role).label for role in roles) or "none"


def file_account_request(person: User | None, wanted: dict, *, by: User, before=None):
    """An administrator's new account, or change to one, that only a DSL may make."""
    if person is None:
        lines = [
            f"New account for {wanted['full_name']} <{wanted['email']}>",
            f"Roles: {_role_names(wanted['roles'])}",
        ]
    else:
        lines = [f"Change the account of {person.full_name} <{person.email}>"]
        lines += _account_differences(before, wanted)
    if wanted.get("classes"):
        lines.append(f"Teaches: {_class_names(wanted['classes'])}")
    change = {"user_id": person.id if person else None, "before": before, "after": wanted}
    return file_request(ACCOUNT, person.id if person else None, lines, change, by)


def _class_names(class_ids) -> str:
    from server.pupils.models import SchoolClass

    classes = db.session.scalars(select(SchoolClass).where(SchoolClass.id.in_(class_ids)))
    return ", ".join(sorted(c.name for c in classes))


def _account_differences(before: dict, after: dict) -> list[str]:
    labels = {"email": "Email", "full_name": "Name", "initials": "Initials"}
    lines = [
        f"{label}: {before[key]} → {after[key]}"
        for key, label in labels.items()
        if before[key] != after[key]
    ]
    if before["roles"] != after["roles"]:
        lines.append(f"Roles: {_role_names(before['roles'])} → {_role_names(after['roles'])}")
    if before["active"] != after["active"]:
        lines.append("Re-enable the account" if after["active"] else "Disable the account")
    return lines


def file_class_teachers_request(school_class, before: set[int], wanted: set[int], *, by: User):
    people = {
        user.id: user
        for user in db.session.scalars(select(User).where(User.id.in_(before | wanted)))
    }

    def names(ids):
        return ", ".join(f"{people[i].full_name} <{people[i].email}>" for i in sorted(ids))

    lines = [f"Class teachers of {school_class.name}"]
    if added := wanted - before:
        lines.append(f"Add: {names(added)}")
    if removed := before - wanted:
        lines.append(f"Remove: {names(removed)}")
    change = {"class_id": school_class.id, "before": sorted(before), "after": sorted(wanted)}
    return file_request(CLASS_TEACHERS, school_class.id, lines, change, by)


def file_alert_rules_request(before: dict, wanted: dict, *, labels, change: dict, by: User):
    """`before` and `wanted` name the recipients ({event: labels}) for the DSL to read;
    `change` is what is applied."""
    lines = ["Alert rules"]
    for event, label in labels.items():
        added = wanted[event] - before[event]
        removed = before[event] - wanted[event]
        if added:
            lines.append(f"{label}: also alert {', '.join(sorted(added))}")
        if removed:
            lines.append(f"{label}: stop alerting {', '.join(sorted(removed))}")
    return file_request(ALERT_RULES, None, lines, change, by)


# --- What a DSL sees ------------------------------------------------------------------------

_PENDING = ~exists().where(AccessDecision.request_id == AccessRequest.id)
_ACCESS = AccessRequest.kind.in_(ACCESS_KINDS)


def pending_requests() -> list[AccessRequest]:
    return list(
        db.session.scalars(
            select(AccessRequest).where(_PENDING, _ACCESS).order_by(AccessRequest.id)
        )
    )


def pending_count() -> int:
    return db.session.scalar(select(func.count(AccessRequest.id)).where(_PENDING, _ACCESS))


def pending_for_account(user_id: int) -> bool:
    """Whether a request waits that would change this account. (A class can be given only to
    someone who already holds the Class teacher role, so already reads incidents.)"""
    account = select(AccessRequest.id).where(
        _PENDING, AccessRequest.kind == ACCOUNT, AccessRequest.target_id == user_id
    )
    return db.session.scalar(account.limit(1)) is not None


def recent_decisions(limit: int = 20) -> list[AccessRequest]:
    return list(
        db.session.scalars(
            select(AccessRequest)
            .join(AccessDecision)
            .where(_ACCESS)
            .order_by(AccessDecision.decided_at.desc(), AccessDecision.id.desc())
            .limit(limit)
        )
    )


# --- Deciding -------------------------------------------------------------------------------


def find_pending(request_id: int) -> AccessRequest:
    request = db.session.get(AccessRequest, request_id)
    if request is None or request.kind not in ACCESS_KINDS:
        raise ApprovalError("There is no such request.", 404)
    if not request.pending:
        raise ApprovalError("This request has already been decided.", 409)
    return request


def _decide(request: AccessRequest, approved: bool, by: User) -> None:
    if not by.can(Permission.DECIDE_ACCESS_REQUESTS):
        raise ApprovalError("Only a designated safeguarding lead decides these requests.", 403)
    decide(request, approved, by=by)


def decide(request: AccessRequest, approved: bool, *, by: User) -> None:
    """Write the decision (never by the person who asked) and audit it; the caller has checked
    that `by` may decide requests of this kind."""
    if request.requested_by_id == by.id:
        raise ApprovalError("Someone else must decide a request you made.", 403)
    try:
        with db.session.begin_nested():
            db.session.add(
                AccessDecision(request_id=request.id, approved=approved, decided_by_id=by.id)
            )
    except IntegrityError:
        # Another DSL decided it a moment ago.
        raise ApprovalError("This request has already been decided.", 409) from None
    record(
        "access.approved" if approved else "access.declined",
        actor=by,
        object_type="access_request",
        object_id=request.id,
        details={
            "kind": request.kind,
            "requested_by": request.requested_by.email,
            "summary": request.summary_lines,
        },
    )


def approve(request: AccessRequest, *, by: User) -> None:
    """Apply the request as `by`'s own change (refused, with nothing written, if it no longer
    applies), and record the approval in the same transaction."""
    _decide(request, True, by)
    _apply(request, by)
    db.session.flush()


def decline(request: AccessRequest, *, by: User) -> None:
    _decide(request, False, by)
    db.session.flush()


def _apply(request: AccessRequest, by: User) -> None:
    # Imported here: each feature files its requests through this module.
    if request.kind == ACCOUNT:
        from server.auth.accounts import apply_account_request
        from server.pupils.operations import set_classes_taught

        person = apply_account_request(request.change, by=by)
        if request.change["after"].get("classes") is not None:
            set_classes_taught(person, request.change["after"]["classes"], by=by)
    elif request.kind == CLASS_TEACHERS:
        from server.pupils.operations import apply_class_teachers_request

        apply_class_teachers_request(request.change, by=by)
    elif request.kind == ALERT_RULES:
        from server.alerts.operations import apply_rules_request

        apply_rules_request(request.change, by=by)
    else:
        raise ApprovalError(f"Unknown kind of request: {request.kind}.", 422)
