"""Retention (SPEC §8): a pupil's records are kept until their 25th birthday (configurable),
then listed for review; a DSL may hold them (legal hold) or propose their disposal, which a
second person, a DSL or SLT, approves. Disposal blanks the content, destroys the files' keys and
leaves a tombstone."""

from flask import Blueprint

bp = Blueprint("retention", __name__)

from server.retention import routes  # noqa: E402,F401
