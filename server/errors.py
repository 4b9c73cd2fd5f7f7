"""One home for errors: JSON for the API and scripts, a page for people; 500s roll back."""

import logging

from flask import jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from server.extensions import db
from server.web import wants_json

log = logging.getLogger(__name__)


class Refused(Exception):
    """A rule said no: bad input or a forbidden act, with a message for the person.

    Each feature's refusals derive from this. Nothing has been written when one is raised;
    views usually catch it to show the message beside the form, and any that escapes is
    answered here with its status and message instead of a 500.
    """

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


FRIENDLY = {
    400: "The request could not be understood. Please go back and try again.",
    403: "You do not have permission to see this.",
    404: "There is nothing at this address.",
    405: "That cannot be done this way.",
    413: "That upload is too large.",
    422: "Some of what was sent is not valid.",
    429: "Too many attempts. Please wait a moment and try again.",
}


def _respond(status: int, title: str, message: str):
    if wants_json():
        return jsonify(error=title, message=message), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def handle_http_error(error: HTTPException):
    status = error.code or 500
    message = FRIENDLY.get(status, error.description or "Something went wrong.")
    return _respond(status, error.name, message)


def handle_csrf_error(error: CSRFError):
    return _respond(
        400,
        "Form expired",
        "This form could not be accepted because its security token was missing or out of date. "
        "Please go back, reload the page and try again.",
    )


def handle_refusal(error: Refused):
    db.session.rollback()
    return _respond(error.status, "Not accepted", error.message)


def handle_unexpected_error(error: Exception):
    db.session.rollback()
    log.exception("unhandled error", exc_info=error)
    return _respond(
        500,
        "Something went wrong",
        "Something went wrong on our side and nothing was saved. Please try again; if it keeps "
        "happening, tell the school office.",
    )


def register_error_handlers(app) -> None:
    app.register_error_handler(Refused, handle_refusal)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
