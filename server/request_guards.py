"""Checks every request passes before any view: a host the school serves Haven at, and text
that no database column can hold.

PostgreSQL text cannot hold U+0000 (NUL): a NUL anywhere in what a person sends would fail
deep inside a query as a 500, and the Add Incident page's queue retries 5xx answers, so such
an incident would never send. It is refused here, once for every route, with a 400 that says
what to do. Uploaded files are not looked at: binary files legitimately contain NUL bytes.

The same holds for a lone UTF-16 surrogate (JSON's "\\ud800" with no partner): Python reads
it, but neither database can store it (SQLite's driver cannot even encode it), so it is
refused here too, in a JSON body or in a form field of JSON text.
"""

import json
import re

from flask import Request, Response, current_app, request
from flask.globals import request_ctx

from server.errors import Refused

NUL = "\x00"
NUL_REFUSAL = "Text cannot contain the character U+0000; remove it and try again."
UNNAMED_FIELD_REFUSAL = "A field of the form has no name that can be read."
SURROGATE_REFUSAL = (
    "Text contains a broken character (half of a UTF-16 pair) that cannot be stored; "
    "remove it and try again."
)
# A JSON escape in the surrogate range (\ud800-\udfff); only then is the text parsed to see
# whether it is a proper pair (an emoji) or a lone half.
_JSON_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_JSON_SURROGATE_ESCAPE_TEXT = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
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
        refusal = _form_refusal(self.form)
        if refusal:
            # Nothing of a refused form stays readable, even to code that swallowed the refusal.
            self.__dict__["form"] = self.parameter_storage_class()
            self.__dict__["files"] = self.parameter_storage_class()
            raise Refused(refusal, 400)

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        """JSON as Werkzeug reads it, except that JSON nested past what Python's reader can
        follow is unreadable (None when `silent`, else 400) instead of a RecursionError.

        Haven's own views read JSON with `silent=True`. The one reader that does not is
        Flask-WTF, which takes a JSON body as a form's fields: there only an object of strings
        (or lists of them) is fields, and anything else is refused with a 400.
        """
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            return self.on_json_loading_failed(ValueError("JSON nested too deeply"))
        if not silent and not _form_like(value):
            return self.on_json_loading_failed(ValueError("not form fields"))
        return value


UNTRUSTED_HOST = "This server does not answer for that host name."


def refuse_untrusted_hosts() -> Response | None:
    """before_request, first of all: a Host header the school has not configured
    (`TRUSTED_HOSTS`) gets a bare 400 before any other hook runs. Flask has already refused to
    build URLs for it, so nothing (a page, a link in a mail) can point at that host."""
    if request_ctx.url_adapter is None:
        return Response(UNTRUSTED_HOST, 400, mimetype="text/plain")
    return None


def reads_its_own_body(view):
    """Mark a view that limits and reads its body itself (the public transfer inbox judges who
    posts and how much before a byte is read), and then calls `refuse_bad_json_body`."""
    view.reads_its_own_body = True
    return view


def refuse_nul_characters() -> None:
    """before_request: refuse (400) a NUL in the path, query string or JSON body, and a lone
    surrogate in a JSON body."""
    if NUL in request.path or _holds_nul(request.args):
        raise Refused(NUL_REFUSAL, 400)
    if not request.is_json:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "reads_its_own_body", False):
        return
    refuse_bad_json_body(request.get_data(cache=True))


def refuse_bad_json_body(body: bytes) -> None:
    if _json_body_holds_nul(body):
        raise Refused(NUL_REFUSAL, 400)
    if _JSON_SURROGATE_ESCAPE.search(body) and _json_text_refusal(body.decode("utf-8", "replace")):
        raise Refused(SURROGATE_REFUSAL, 400)


def _form_like(value) -> bool:
    """Form fields are text: an object of strings, or lists of strings."""
    return isinstance(value, dict) and all(
        isinstance(item, str) or (isinstance(item, list) and all(isinstance(i, str) for i in item))
        for item in value.values()
    )


def _holds_surrogate(value) -> bool:
    """Whether parsed JSON holds a lone surrogate in any key or string (walked without
    recursion: the value may be nested as deep as the parser allowed)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if any(_SURROGATE.search(key) for key in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _SURROGATE.search(item):
            return True
    return False


def _form_refusal(form) -> str | None:
    if None in form:
        # A multipart part whose name Werkzeug could not read (a line break inside it).
        return UNNAMED_FIELD_REFUSAL
    if _form_holds_nul(form):
        return NUL_REFUSAL
    for value in form.values():
        if _JSON_SURROGATE_ESCAPE_TEXT.search(value) or _SURROGATE.search(value):
            refusal = _json_text_refusal(value)
            if refusal:
                return refusal
    return None


def _json_text_refusal(text: str) -> str | None:
    """JSON text (a body, or the Add Incident page's `incident` part) holding a lone
    surrogate, or text that is itself one. What is not JSON is left to the view to refuse."""
    if _SURROGATE.search(text):
        return SURROGATE_REFUSAL
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return SURROGATE_REFUSAL if _holds_surrogate(parsed) else None


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
