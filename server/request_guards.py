"""Checks every request passes before any view: text that no database column can hold.

PostgreSQL text cannot hold U+0000 (NUL): a NUL anywhere in what a person sends would fail
deep inside a query as a 500, and the Add Incident page's queue retries 5xx answers, so such
an incident would never send. It is refused here, once for every route, with a 400 that says
what to do. Uploaded files are not looked at: binary files legitimately contain NUL bytes.

The same holds for a lone UTF-16 surrogate (JSON's "\\ud800" with no partner): Python reads
it, but neither database can store it. And JSON nested thousands deep makes Python's reader
run out of recursion, deep inside whichever view reads it; no request of Haven's nests more
than a few levels, so anything past MAX_JSON_DEPTH is refused here too.
"""

import json
import re

from flask import Request, request

from server.errors import Refused

NUL = "\x00"
NUL_REFUSAL = "Text cannot contain the character U+0000; remove it and try again."
SURROGATE_REFUSAL = (
    "Text contains a broken character (half of a UTF-16 pair) that cannot be stored; "
    "remove it and try again."
)
DEPTH_REFUSAL = "The request is nested too deeply to be read."
MAX_JSON_DEPTH = 32
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


def refuse_nul_characters() -> None:
    """before_request: refuse (400) a NUL in the path, query string or JSON body, and a JSON
    body holding a lone surrogate or nested past MAX_JSON_DEPTH."""
    if NUL in request.path or _holds_nul(request.args):
        raise Refused(NUL_REFUSAL, 400)
    if not request.is_json:
        return
    body = request.get_data(cache=True)
    if _json_body_holds_nul(body):
        raise Refused(NUL_REFUSAL, 400)
    try:
        # Read once here; the view's own get_json(silent=True) gets the cached result.
        parsed = request.get_json(silent=True)
    except RecursionError:
        raise Refused(DEPTH_REFUSAL, 400) from None
    refusal = _json_value_refusal(parsed, check_text=bool(_JSON_SURROGATE_ESCAPE.search(body)))
    if refusal:
        raise Refused(refusal, 400)


def _json_value_refusal(value, check_text: bool) -> str | None:
    """Why parsed JSON cannot be accepted, walked without recursion; None when it can."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return DEPTH_REFUSAL
        if isinstance(item, dict):
            if check_text and any(_SURROGATE.search(key) for key in item):
                return SURROGATE_REFUSAL
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif check_text and isinstance(item, str) and _SURROGATE.search(item):
            return SURROGATE_REFUSAL
    return None


def _form_refusal(form) -> str | None:
    if _form_holds_nul(form):
        return NUL_REFUSAL
    for value in form.values():
        if _JSON_SURROGATE_ESCAPE_TEXT.search(value) or _SURROGATE.search(value):
            refusal = _json_text_refusal(value)
            if refusal:
                return refusal
    return None


def _json_text_refusal(text: str) -> str | None:
    """A field of JSON text (the Add Incident page's `incident` part) with a lone surrogate,
    or a field whose text is itself one; text that is not JSON is only text."""
    if _SURROGATE.search(text):
        return SURROGATE_REFUSAL
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    except RecursionError:
        return DEPTH_REFUSAL
    return _json_value_refusal(parsed, check_text=True)


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
