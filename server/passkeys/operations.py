"""The rules of passkeys: registering, stepping up with one, renaming and revoking.

Views call these; tests do too. Refusals raise `PasskeyError` after writing their audit row,
and the caller commits either way so the audit row (and the spent challenge) are kept:
400 means the response does not verify (wrong origin or RP ID, no user verification, a spent or
expired challenge, a bad signature); 403 means this passkey may not be used (another user's,
revoked, flagged after its signature counter went backwards).
"""

import secrets
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationFormat,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from server.audit.operations import record
from server.auth.accounts import decides_who_reads, guarded_as_reader
from server.auth.models import User, UserSession
from server.auth.roles import Permission
from server.auth.step_up import has_fresh_assertion, mark_stepped_up
from server.clock import utcnow
from server.errors import Refused
from server.extensions import db
from server.passkeys import challenges
from server.passkeys.challenges import ChallengeRefused
from server.passkeys.models import PasskeyCredential

NAME_MAX_LENGTH = 60
MAX_PASSKEYS_PER_USER = 10
_MALFORMED = (WebAuthnException, ValueError, TypeError, AttributeError, KeyError)


class PasskeyError(Refused):
    def __init__(self, message: str, status: int = 400, reason: str | None = None):
        super().__init__(message, status)
        self.reason = reason or message


def _rp() -> dict[str, str]:
    config = current_app.config
    return {
        "id": config["WEBAUTHN_RP_ID"],
        "name": config["WEBAUTHN_RP_NAME"],
        "origin": config["WEBAUTHN_ORIGIN"],
    }


def _timeout_ms() -> int:
    return int(challenges.CHALLENGE_LIFETIME.total_seconds() * 1000)


def passkeys_of(user: User) -> list[PasskeyCredential]:
    """The user's passkeys that are not revoked (flagged ones included, to be seen and revoked)."""
    return list(
        db.session.scalars(
            select(PasskeyCredential)
            .where(PasskeyCredential.user_id == user.id, PasskeyCredential.revoked_at.is_(None))
            .order_by(PasskeyCredential.created_at, PasskeyCredential.id)
        )
    )


def has_usable_passkey(user: User) -> bool:
    return any(passkey.usable for passkey in passkeys_of(user))


def _descriptor(passkey: PasskeyCredential) -> PublicKeyCredentialDescriptor:
    transports = []
    for value in passkey.transport_list:
        try:
            transports.append(AuthenticatorTransport(value))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=transports or None)


def _user_handle(user: User) -> bytes:
    """One random WebAuthn user id per account, so an authenticator keeps one passkey for it."""
    existing = db.session.scalar(
        select(PasskeyCredential.user_handle).where(PasskeyCredential.user_id == user.id).limit(1)
    )
    return existing or secrets.token_bytes(32)


# Registration ----------------------------------------------------------------------------


def _check_may_register(user: User, row: UserSession) -> None:
    if not user.can(Permission.HOLD_PASSKEY):
        raise PasskeyError("Your role does not use a passkey.", 403, "role may not hold a passkey")
    held = passkeys_of(user)
    # Otherwise a stolen password alone could add the thief's passkey to the account.
    if held and not has_fresh_assertion(row):
        raise PasskeyError(
            "To add another passkey, first confirm it is you with one you already have.",
            403,
            "step_up_required",
        )
    if len(held) >= MAX_PASSKEYS_PER_USER:
        raise PasskeyError(
            f"You already have {MAX_PASSKEYS_PER_USER} passkeys. Remove one you no longer use "
            "before adding another.",
            409,
            "too many passkeys",
        )


def registration_options(user: User, row: UserSession) -> dict[str, Any]:
    """Options for `navigator.credentials.create()`, as JSON with base64url values."""
    _check_may_register(user, row)
    rp = _rp()
    handle = _user_handle(user)
    options = generate_registration_options(
        rp_id=rp["id"],
        rp_name=rp["name"],
        user_id=handle,
        user_name=user.email,
        user_display_name=user.full_name,
        challenge=challenges.issue_challenge(user, row, challenges.REGISTRATION, handle),
        timeout=_timeout_ms(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(passkey) for passkey in passkeys_of(user)],
    )
    return options_to_json_dict(options)


def clean_name(name: Any) -> str:
    cleaned = " ".join(str(name or "").split())
    if not cleaned:
        raise PasskeyError(
            "Give the passkey a name, such as the device it is on.", 422, "name missing"
        )
    if len(cleaned) > NAME_MAX_LENGTH:
        raise PasskeyError(
            f"Keep the name to {NAME_MAX_LENGTH} characters or fewer.", 422, "name too long"
        )
    return cleaned


def _registration_failed(user: User, reason: str, message: str, status: int = 400, **details):
    record(
        "passkey.registration_failed",
        actor=user,
        object_type="user",
        object_id=user.id,
        details={"reason": reason, **details},
    )
    return PasskeyError(message, status, reason)


def _parse_registration(user: User, credential_json: Any) -> RegistrationCredential:
    try:
        credential = parse_registration_credential_json(credential_json)
        parse_client_data_json(credential.response.client_data_json)
    except _MALFORMED as error:
        raise _registration_failed(
            user, "malformed response", "The passkey's answer could not be read.", detail=str(error)
        ) from error
    return credential


def register_passkey(
    user: User, row: UserSession, name: Any, credential_json: Any
) -> PasskeyCredential:
    """Verify an attestation against the challenge this session was given, and keep the key."""
    name = clean_name(name)
    _check_may_register(user, row)
    credential = _parse_registration(user, credential_json)
    challenge = parse_client_data_json(credential.response.client_data_json).challenge
    try:
        issued = challenges.consume_challenge(challenge, user, row, challenges.REGISTRATION)
    except ChallengeRefused as refused:
        raise _registration_failed(
            user, str(refused), "That request has expired or was already used. Please try again."
        ) from refused
    rp = _rp()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=issued.challenge,
            expected_rp_id=rp["id"],
            expected_origin=rp["origin"],
            require_user_verification=True,
        )
    except _MALFORMED as error:
        raise _registration_failed(
            user,
            "invalid response",
            "The passkey could not be verified. Please try again, unlocking the device with "
            "your fingerprint, face or PIN when asked.",
            detail=str(error),
        ) from error
    already = db.session.scalar(
        select(func.count(PasskeyCredential.id)).where(
            PasskeyCredential.credential_id == verified.credential_id
        )
    )
    if already:
        raise _registration_failed(
            user, "credential already registered", "That passkey is already registered.", 409
        )
    passkey = PasskeyCredential(
        user_id=user.id,
        name=name,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        user_handle=issued.user_handle or _user_handle(user),
        aaguid=verified.aaguid,
        transports=",".join(t.value for t in credential.response.transports or [])[:120],
        backed_up=verified.credential_backed_up,
        created_at=utcnow(),
    )
    db.session.add(passkey)
    db.session.flush()
    record(
        "passkey.registered",
        actor=user,
        object_type="passkey",
        object_id=passkey.id,
        details={
            "name": name,
            "aaguid": verified.aaguid,
            "attestation": AttestationFormat(verified.fmt).value,
        },
    )
    return passkey


# Step-up ---------------------------------------------------------------------------------


def step_up_options(user: User, row: UserSession) -> dict[str, Any]:
    """Options for `navigator.credentials.get()`, offering only this user's usable passkeys."""
    usable = [passkey for passkey in passkeys_of(user) if passkey.usable]
    if not usable:
        raise PasskeyError(
            "You have no passkey to confirm it is you with. Add one first.", 409, "no passkey"
        )
    options = generate_authentication_options(
        rp_id=_rp()["id"],
        challenge=challenges.issue_challenge(user, row, challenges.STEP_UP),
        timeout=_timeout_ms(),
        allow_credentials=[_descriptor(passkey) for passkey in usable],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def _step_up_failed(
    user: User,
    reason: str,
    message: str,
    status: int = 400,
    passkey: PasskeyCredential | None = None,
    **details,
) -> PasskeyError:
    record(
        "passkey.step_up_failed",
        actor=user,
        object_type="passkey" if passkey else "user",
        object_id=passkey.id if passkey else user.id,
        details={"reason": reason, **details},
    )
    return PasskeyError(message, status, reason)


NOT_VERIFIED = (
    "Your passkey could not be verified. Please try again, unlocking the device with your "
    "fingerprint, face or PIN when asked."
)
NOT_YOURS = "That passkey cannot be used for your account."
REVOKED = "That passkey has been removed from your account."
BLOCKED = (
    "That passkey has been blocked because it may have been copied. Use another passkey, or ask "
    "the school office to remove it."
)


def _parse_assertion(user: User, credential_json: Any) -> tuple[AuthenticationCredential, bytes]:
    try:
        credential = parse_authentication_credential_json(credential_json)
        challenge = parse_client_data_json(credential.response.client_data_json).challenge
    except _MALFORMED as error:
        raise _step_up_failed(
            user, "malformed response", "The passkey's answer could not be read.", detail=str(error)
        ) from error
    return credential, challenge


def _owned_passkey(user: User, credential: AuthenticationCredential) -> PasskeyCredential:
    """The stored passkey the assertion names, refused unless it is this user's and usable.

    WebAuthn libraries do not check ownership; without this, anyone's passkey would do.
    """
    passkey = db.session.scalar(
        select(PasskeyCredential).where(PasskeyCredential.credential_id == credential.raw_id)
    )
    if passkey is None:
        raise _step_up_failed(user, "unknown passkey", NOT_YOURS, 403)
    if passkey.user_id != user.id:
        raise _step_up_failed(
            user, "passkey belongs to another user", NOT_YOURS, 403, passkey, owner=passkey.user_id
        )
    if passkey.revoked_at is not None:
        raise _step_up_failed(user, "passkey revoked", REVOKED, 403, passkey)
    if passkey.flagged_at is not None:
        raise _step_up_failed(user, "passkey flagged", BLOCKED, 403, passkey)
    handle = credential.response.user_handle
    if handle is not None and handle != passkey.user_handle:
        raise _step_up_failed(user, "user handle mismatch", NOT_YOURS, 403, passkey)
    return passkey


def _check_sign_count(user: User, passkey: PasskeyCredential, new_count: int) -> None:
    """A counter that does not move forward suggests a cloned authenticator.

    Synced passkeys always report 0, which is normal; the check only applies once either side
    has counted.
    """
    old_count = passkey.sign_count
    if (new_count > 0 or old_count > 0) and new_count <= old_count:
        passkey.flagged_at = utcnow()
        passkey.flag_reason = f"signature counter went from {old_count} to {new_count}"
        record(
            "passkey.sign_count_regression",
            actor=user,
            object_type="passkey",
            object_id=passkey.id,
            details={"stored": old_count, "received": new_count},
        )
        raise _step_up_failed(
            user,
            "sign count regression",
            BLOCKED,
            403,
            passkey,
            stored=old_count,
            received=new_count,
        )


def step_up(user: User, row: UserSession, credential_json: Any) -> PasskeyCredential:
    """Verify a passkey assertion from the signed-in user and unlock review for the session."""
    credential, challenge = _parse_assertion(user, credential_json)
    try:
        issued = challenges.consume_challenge(challenge, user, row, challenges.STEP_UP)
    except ChallengeRefused as refused:
        raise _step_up_failed(
            user, str(refused), "That request has expired or was already used. Please try again."
        ) from refused
    passkey = _owned_passkey(user, credential)
    rp = _rp()
    try:
        # The counter is checked below, once the signature shows the answer is genuine:
        # otherwise a forged answer could get a good passkey blocked.
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=issued.challenge,
            expected_rp_id=rp["id"],
            expected_origin=rp["origin"],
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except _MALFORMED as error:
        raise _step_up_failed(
            user, "invalid response", NOT_VERIFIED, 400, passkey, detail=str(error)
        ) from error
    _check_sign_count(user, passkey, verified.new_sign_count)
    passkey.sign_count = verified.new_sign_count
    passkey.backed_up = verified.credential_backed_up
    passkey.last_used_at = utcnow()
    mark_stepped_up(row)
    record("passkey.step_up", actor=user, object_type="passkey", object_id=passkey.id)
    return passkey


# Looking after passkeys ------------------------------------------------------------------


def _check_may_manage(passkey: PasskeyCredential, by: User) -> None:
    if passkey.user_id == by.id:
        return
    if not by.can(Permission.MANAGE_USERS):
        raise PasskeyError("That passkey is not yours.", 403, "not the owner")
    # Removing the passkeys of someone who reads incidents (or ever did: server/auth/accounts.py)
    # would leave their password alone guarding it (a new passkey can then be added with the
    # password): the owner's or a DSL's decision.
    if guarded_as_reader(passkey.user) and not decides_who_reads(by):
        raise PasskeyError(
            "Only a designated safeguarding lead can remove the passkeys of someone who reads "
            "incidents.",
            403,
            "needs a DSL",
        )


def rename_passkey(passkey: PasskeyCredential, name: Any, by: User) -> None:
    _check_may_manage(passkey, by)
    if passkey.revoked_at is not None:
        raise PasskeyError("That passkey has been removed.", 409)
    old_name, passkey.name = passkey.name, clean_name(name)
    db.session.flush()
    record(
        "passkey.renamed",
        actor=by,
        object_type="passkey",
        object_id=passkey.id,
        details={"from": old_name, "to": passkey.name},
    )


def revoke_passkey(passkey: PasskeyCredential, by: User | None) -> None:
    """Remove a passkey from use: its owner, an administrator, or (`by=None`) the server's
    operator at the command line, for when nobody left can step up. The row stays, for audit."""
    if by is not None:
        _check_may_manage(passkey, by)
    if passkey.revoked_at is not None:
        raise PasskeyError("That passkey has already been removed.", 409)
    passkey.revoked_at = utcnow()
    passkey.revoked_by_id = by.id if by is not None else None
    db.session.flush()
    record(
        "passkey.revoked",
        actor=by,
        object_type="passkey",
        object_id=passkey.id,
        details={
            "name": passkey.name,
            "owner_id": passkey.user_id,
            "by_owner": by is not None and by.id == passkey.user_id,
            "from_command_line": by is None,
        },
    )


def find_passkey(passkey_id: int, owner: User) -> PasskeyCredential | None:
    """The user's passkey with this id; None for anyone else's, so ids reveal nothing."""
    passkey = db.session.get(PasskeyCredential, passkey_id)
    return passkey if passkey is not None and passkey.user_id == owner.id else None
