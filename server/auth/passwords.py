"""Password hashing and the school's password rule (SPEC §9)."""

import gzip
import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# The 20,000 most common passwords (from Django's list, itself from leaked-password corpora).
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")
_EDGE_NOISE = re.compile(r"^[\d\W_]+|[\d\W_]+$")


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_COST"]
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user), spend the same time and say no."""
    hasher = _hasher()
    if not password_hash:
        hasher.hash(password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def is_common(password: str) -> bool:
    """Common as typed, or common once the usual digits and symbols at either end are removed
    ("Password1!" is "password" to an attacker's list)."""
    lowered = password.lower()
    core = _EDGE_NOISE.sub("", lowered)
    return lowered in common_passwords() or (len(core) >= 4 and core in common_passwords())


def password_problems(password: str, *, email: str = "", full_name: str = "") -> list[str]:
    """Every way the password breaks the school's rule, as sentences to show the user."""
    config = current_app.config
    problems = []
    if len(password) < config["PASSWORD_MIN_LENGTH"]:
        problems.append(f"Use at least {config['PASSWORD_MIN_LENGTH']} characters.")
    if len(password) > config["PASSWORD_MAX_LENGTH"]:
        problems.append(f"Use no more than {config['PASSWORD_MAX_LENGTH']} characters.")
    if config["PASSWORD_REQUIRE_CLASSES"]:
        missing = [
            label
            for label, pattern in (
                ("a lower-case letter", r"[a-z]"),
                ("an upper-case letter", r"[A-Z]"),
                ("a digit", r"\d"),
                ("a symbol", r"[^A-Za-z0-9]"),
            )
            if not re.search(pattern, password)
        ]
        if missing:
            problems.append("Include " + _join_words(missing) + ".")
    if password and is_common(password):
        problems.append("That password is too common: choose one that is harder to guess.")
    lowered = password.lower()
    personal = [email.split("@")[0].lower(), *full_name.lower().split()]
    if any(len(part) >= 3 and part in lowered for part in personal):
        problems.append("Do not use your name or email address in your password.")
    return problems


def _join_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
