"""Managing staff accounts: create, change roles and details, disable. Each change is audited."""

import re

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select

from server.approvals import operations as approvals
from server.audit.operations import record
from server.auth.models import User
from server.auth.operations import AuthError, normalise_email, revoke_reset_links, set_password
from server.auth.roles import READER_ROLES, ROLE_PERMISSIONS, Permission, Role
from server.auth.sessions import end_all_sessions
from server.extensions import db

INITIALS = re.compile(r"^[A-Za-z][A-Za-z'-]{0,7}$")


def initials_from_name(full_name: str) -> str:
    return "".join(part[0] for part in full_name.split() if part[:1].isalpha()).upper()[:8]


def _clean_email(email: str) -> str:
    try:
        return normalise_email(validate_email(email, check_deliverability=False).normalized)
    except EmailNotValidError as error:
        raise AuthError(f"“{email}” is not a valid email address: {error}", 422) from None


def _clean_details(full_name: str, initials: str | None) -> tuple[str, str]:
    full_name = " ".join((full_name or "").split())
    if not full_name:
        raise AuthError("Enter the person's full name.", 422)
    if len(full_name) > 120:
        raise AuthError("The full name is too long (120 characters at most).", 422)
    initials = (initials or "").strip().upper() or initials_from_name(full_name)
    if not INITIALS.match(initials):
        raise AuthError("Initials are up to 8 letters, such as “JS”.", 422)
    return full_name, initials


def _clean_roles(roles) -> set[Role]:
    try:
        chosen = {Role(role) for role in roles}
    except ValueError as error:
        raise AuthError(f"Unknown role: {error}", 422) from None
    if not chosen:
        raise AuthError("Give the person at least one role.", 422)
    return chosen


def email_taken(email: str, *, except_user: User | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == email)
    if except_user is not None:
        query = query.where(User.id != except_user.id)
    return db.session.scalar(query) is not None


# Whoever manages accounts (the office) must never be able to read incident content, directly,
# by giving someone else a reader, or by taking over an account that reads (SPEC §1, "Who may
# grant reading"). So these are a DSL's decisions, never the office's alone:
# - anything that lets an account read incidents: a role that reads them (so every new staff
#   account), re-enabling a reader, a class to teach (`server.pupils.operations`), an alert
#   rule that reaches more people (`server.alerts.operations.set_rules`);
# - the roles that see Safeguarding, given or taken away, and disabling their holders;
# - the email (so the sign-in and reset links) of an account that reads incidents, has ever
#   read them, or waits for a DSL to let it (`guarded_as_reader`): otherwise the office moves a
#   teacher to "admin", changes the email and asks for the role back.
# An administrator's change of this kind becomes a request a DSL approves or declines
# (`server.approvals`). Nobody changes their own roles, email or active flag.
SENSITIVE_ROLES = frozenset(
    role for role, granted in ROLE_PERMISSIONS.items() if Permission.SEE_SENSITIVE in granted
)
ONLY_DSL_MESSAGE = (
    "Only a designated safeguarding lead can do this. It lets someone read incidents (a role "
    "that reads them, re-enabling a reader), gives or takes away the designated safeguarding "
    "lead, senior leadership or pastoral role (or disables someone who holds one), or changes "
    "the email address of an account that reads incidents."
)
NOT_YOURSELF_MESSAGE = (
    "You cannot change your own roles, email address or whether your account is active: "
    "ask a colleague who manages accounts."
)
EMAIL_DOMAIN_MESSAGE = "Staff accounts must use a school email address ({domains})."


class DslDecisionNeeded(AuthError):
    """The change is a DSL's decision (403); administrators' forms file it as a request."""

    def __init__(self, message: str = ONLY_DSL_MESSAGE):
        super().__init__(message, 403)


def decides_who_reads(by: User | None) -> bool:
    """Whether `by` may let someone read incidents: a DSL, or (None) the server's command line,
    which the school's operator runs. Everyone else's grant waits for a DSL."""
    return by is None or by.has_role(Role.DSL)


def guarded_as_reader(person: User) -> bool:
    """An account whose sign-in only its owner or a DSL may change, whatever its roles are at
    this moment: it reads incidents, ever did (alerts to it stay readable once it reads again),
    or waits for a DSL to let it."""
    return (
        person.reader_since is not None
        or bool(person.roles & READER_ROLES)
        or approvals.pending_for_account(person.id)
    )


def check_account_change(
    by: User | None,
    person: User | None,
    *,
    roles_before: set[Role],
    roles_after: set[Role],
    email_changed: bool = False,
    enabling: bool = False,
    disabling: bool = False,
) -> None:
    """Who may change whose account. `by` None is the server's own command line, which the
    school's operator runs; `person` None is a new account. Raises `DslDecisionNeeded` for a
    change only a DSL may make."""
    if by is None:
        return
    changes_access = roles_before != roles_after or email_changed or enabling or disabling
    if person is not None and by.id == person.id and changes_access:
        raise AuthError(NOT_YOURSELF_MESSAGE, 403)
    guarded = person is not None and guarded_as_reader(person)
    needs_dsl = (
        (roles_after - roles_before) & READER_ROLES
        or (roles_before ^ roles_after) & SENSITIVE_ROLES
        or (email_changed and guarded)
        or (enabling and guarded)
        or (disabling and roles_before & SENSITIVE_ROLES)
    )
    if needs_dsl and not decides_who_reads(by):
        raise DslDecisionNeeded()


def _check_school_domain(email: str) -> None:
    domains = current_app.config["STAFF_EMAIL_DOMAINS"]
    if domains and email.rsplit("@", 1)[-1] not in domains:
        raise AuthError(EMAIL_DOMAIN_MESSAGE.format(domains=", ".join(sorted(domains))), 422)


def create_user(
    *,
    email: str,
    full_name: str,
    roles,
    initials: str | None = None,
    password: str | None = None,
    by: User | None = None,
) -> User:
    """A new account. Without a password, the person sets one through the reset link."""
    email = _clean_email(email)
    if email_taken(email):
        raise AuthError(f"There is already an account for {email}.", 409)
    full_name, initials = _clean_details(full_name, initials)
    new_roles = _clean_roles(roles)
    if by is not None:
        _check_school_domain(email)
    check_account_change(by, None, roles_before=set(), roles_after=new_roles)
    user = User(email=email, full_name=full_name, initials=initials, active=True)
    user.set_roles(new_roles)
    if password is not None:
        set_password(user, password)
    db.session.add(user)
    db.session.flush()
    record(
        "user.created",
        object_type="user",
        object_id=user.id,
        details={"email": email, "roles": sorted(user.roles)},
    )
    return user


def update_user(
    user: User,
    *,
    full_name: str,
    initials: str | None,
    roles,
    email: str,
    by: User | None = None,
) -> None:
    email = _clean_email(email)
    if email_taken(email, except_user=user):
        raise AuthError(f"There is already an account for {email}.", 409)
    full_name, initials = _clean_details(full_name, initials)
    new_roles = _clean_roles(roles)
    email_changed = email != user.email
    if email_changed and by is not None:
        _check_school_domain(email)
    check_account_change(
        by, user, roles_before=user.roles, roles_after=new_roles, email_changed=email_changed
    )
    before = {
        "email": user.email,
        "full_name": user.full_name,
        "initials": user.initials,
        "roles": sorted(user.roles),
    }
    user.email, user.full_name, user.initials = email, full_name, initials
    user.set_roles(new_roles)
    after = {
        "email": email,
        "full_name": full_name,
        "initials": initials,
        "roles": sorted(new_roles),
    }
    changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if email_changed:
        # The old address's sessions and reset links must not survive the change of sign-in.
        end_all_sessions(user, "email changed")
        revoke_reset_links(user)
    if changed:
        action = "user.roles_changed" if "roles" in changed else "user.updated"
        record(action, object_type="user", object_id=user.id, details=changed)
    db.session.flush()


def set_active(user: User, active: bool, *, by: User | None = None) -> None:
    """Disable (ending every session at once) or re-enable an account."""
    if user.active == active:
        return
    if by is not None and by.id == user.id:
        raise AuthError("You cannot disable your own account.", 422)
    check_account_change(
        by,
        user,
        roles_before=user.roles,
        roles_after=user.roles,
        enabling=active,
        disabling=not active,
    )
    user.active = active
    if not active:
        end_all_sessions(user, "disabled")
        # Imported here: web push builds on accounts, not the other way round.
        from server.push.subscriptions import remove_user_subscriptions

        remove_user_subscriptions(user, "account disabled")
    record("user.enabled" if active else "user.disabled", object_type="user", object_id=user.id)
    db.session.flush()


# What the administrator's staff form asks for. A change only a DSL may make is filed as a
# request instead (nothing changes until a DSL approves it).


def _details(user: User) -> dict:
    return {
        "email": user.email,
        "full_name": user.full_name,
        "initials": user.initials,
        "roles": sorted(user.roles),
        "active": user.active,
    }


def add_account(
    *,
    email: str,
    full_name: str,
    initials: str | None,
    roles,
    active: bool,
    by: User | None,
    classes: list[int] | None = None,
):
    """Create the account, or file it for a DSL when it would read incidents and `by` is not
    one. Returns the new `User` or the `AccessRequest`; anything else wrong is refused.
    `classes` (ids), from a staff import, travel with a request: a DSL's approval gives them."""
    wanted = {
        "email": email,
        "full_name": full_name,
        "initials": initials,
        "roles": sorted(roles or ()),
        "active": active,
        "classes": classes,
    }
    try:
        with db.session.begin_nested():
            person = create_user(
                email=email, full_name=full_name, initials=initials, roles=roles, by=by
            )
            set_active(person, active, by=by)
            return person
    except DslDecisionNeeded:
        return approvals.file_account_request(None, _cleaned(wanted), by=by)


def save_account(
    person: User,
    *,
    email: str,
    full_name: str,
    initials: str | None,
    roles,
    active: bool,
    by: User | None,
    classes: list[int] | None = None,
    gives_classes: bool = False,
):
    """Save the person's details, or file the whole change for a DSL when part of it is a
    DSL's decision and `by` is not one. Returns None when saved, or the `AccessRequest`.
    `gives_classes`: the caller's change also gives the person a class to teach."""
    wanted = {
        "email": email,
        "full_name": full_name,
        "initials": initials,
        "roles": sorted(roles or ()),
        "active": active,
        "classes": classes,
    }
    before = _details(person)
    try:
        with db.session.begin_nested():
            update_user(
                person, email=email, full_name=full_name, initials=initials, roles=roles, by=by
            )
            set_active(person, active, by=by)
            if gives_classes and not decides_who_reads(by):
                raise DslDecisionNeeded()
            return None
    except DslDecisionNeeded:
        db.session.refresh(person)
        return approvals.file_account_request(person, _cleaned(wanted), before=before, by=by)


def _cleaned(wanted: dict) -> dict:
    full_name, initials = _clean_details(wanted["full_name"], wanted["initials"])
    return {
        **wanted,
        "email": _clean_email(wanted["email"]),
        "full_name": full_name,
        "initials": initials,
        "roles": sorted(_clean_roles(wanted["roles"])),
    }


def apply_account_request(change: dict, *, by: User) -> User:
    """A DSL's approval: the account as asked, provided it still stands as it did when asked."""
    wanted = change["after"]
    if change.get("user_id") is None:
        person = create_user(
            email=wanted["email"],
            full_name=wanted["full_name"],
            initials=wanted["initials"],
            roles=wanted["roles"],
            by=by,
        )
    else:
        person = db.session.get(User, change["user_id"])
        if person is None or _details(person) != change["before"]:
            raise AuthError(STALE_REQUEST_MESSAGE, 409)
        update_user(
            person,
            email=wanted["email"],
            full_name=wanted["full_name"],
            initials=wanted["initials"],
            roles=wanted["roles"],
            by=by,
        )
    set_active(person, wanted["active"], by=by)
    return person


STALE_REQUEST_MESSAGE = (
    "This has changed since the request was made, so approving it could approve something "
    "nobody asked for. Decline it; the office can ask again."
)
