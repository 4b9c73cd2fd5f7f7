"""Checks every request passes before any view: a host the school serves Haven at, and text
that no database column can hold.

PostgreSQL text cannot hold U+0000 (NUL): a NUL anywhere in what a person sends would fail
deep inside a query as a 500, and the Add Incident page's queue retries 5xx answers, so such
an incident would never send. It is refused here, once for every route, with a 400 that says
what to do. Uploaded files are not looked at: binary files legitimately contain NUL bytes.
"""

import json
import re

from flask import Request, Response, request
from flask.globals import request_ctx

from server.errors import Refused

NUL = "\x00"
NUL_REFUSAL = "Text cannot contain the character U+0000; remove it and try again."
# JSON's escape for NUL, preceded by an even number of backslashes (so "\\u0000", a written
# backslash followed by "u0000", is only text). Backslashes occur only inside JSON strings.
_JSON_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_JSON_NUL_ESCAPE_TEXT = re.compile(r"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


class HavenRequest(Request):
    """The application's request: a form holding NUL is refused the moment it is read.

    Reading the form in a hook could not honour a view that raises the size limit first (the
    incident API does, for several files); checking where Flask loads the form works wherever
    that happens, under whatever limit applies then.
    """

    def _load_form_data(self) -> None:
        super()._load_form_data()
        if _form_holds_nul(self.form):
            # Nothing of a refused form stays readable, even to code that swallowed the refusal.
            self.__dict__["form"] = self.parameter_storage_class()
            self.__dict__["files"] = self.parameter_storage_class()
            raise Refused(NUL_REFUSAL, 400)


UNTRUSTED_HOST = "This server does not answer for that host name."


def refuse_untrusted_hosts() -> Response | None:
    """before_request, first of all: a Host header the school has not configured
    (`TRUSTED_HOSTS`) gets a bare 400 before any other hook runs. Flask has already refused to
    build URLs for it, so nothing (a page, a link in a mail) can point at that host."""
    if request_ctx.url_adapter is None:
        return Response(UNTRUSTED_HOST, 400, mimetype="text/plain")
    return None


def refuse_nul_characters() -> None:
    """before_request: refuse (400) a NUL in the path, query string or JSON body."""
    if NUL in request.path or _holds_nul(request.args):
        raise Refused(NUL_REFUSAL, 400)
    if request.is_json and _json_body_holds_nul(request.get_data(cache=True)):
        raise Refused(NUL_REFUSAL, 400)


def _holds_nul(fields) -> bool:
    return any(NUL in key or NUL in value for key, value in fields.items(multi=True))


def _form_holds_nul(form) -> bool:
    """A NUL in a form field (files are not fields), raw or JSON-escaped in a field of JSON.

    The Add Incident page sends an incident with files as multipart: its `incident` field is
    JSON text, where a NUL arrives as the escape.
    """
    return _holds_nul(form) or any(_json_text_holds_nul(value) for value in form.values())


def _json_text_holds_nul(text: str) -> bool:
    if not _JSON_NUL_ESCAPE_TEXT.search(text):
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False  # not JSON: a written "\u0000" is only text, and harmless
    return True


def _json_body_holds_nul(body: bytes) -> bool:
    return b"\x00" in body or _JSON_NUL_ESCAPE.search(body) is not None
