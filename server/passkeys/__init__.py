"""Passkeys (SPEC §6): registering WebAuthn credentials and the step-up that unlocks review."""

from flask import Blueprint

bp = Blueprint("passkeys", __name__)

from server.passkeys import routes  # noqa: E402,F401
