"""One request-parsing layer: input no route can store or look up is refused here with a 4xx.

Found by an attack on a production-like server, each of these was a 500 somewhere:

* a NUL byte in any text (PostgreSQL refuses it in ``text`` columns) — refused for every query
  string, form field and JSON string, whatever the route;
* an id of 2**31 or more on an ``<int:…>`` route (PostgreSQL ``integer`` overflows) — the ``int``
  converter itself does not match it, so the answer is the usual 404;
* JSON nested deeper than :data:`MAX_JSON_DEPTH` (Python's parser recursed until it failed) —
  a 400 with the usual error body.

Wrong JSON *types* inside a valid document are the schemas' job (they answer 422 per field).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# PostgreSQL's ``integer`` (our primary keys): larger ids cannot exist, so they cannot be found.
MAX_ID = 2**31 - 1
MAX_JSON_DEPTH = 32


class InvalidInput(BadRequest):
    """A 400 whose error body carries a reason code (see :mod:`app.core.errors`)."""

    def __init__(self, code: str, message: Any) -> None:
        super().__init__(str(code))
        self.reason = code
        self.message = message  # shown to the person (translated when rendered)


NOT_JSON = _l("The request body is not valid JSON.")
TOO_DEEP = _l("The request body nests too deeply.")
BAD_CHARACTER = _l("The request contains a character that is not allowed (a NUL byte).")


class IdConverter(IntegerConverter):
    """``<int:…>`` that matches only ids a database ``integer`` can hold (1 … 2**31 - 1)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item  # type: ignore[assignment]
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class HalopmiRequest(Request):
    """Flask's request, with JSON that cannot exhaust the parser's recursion."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise InvalidInput("invalid_json", NOT_JSON)

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            raise InvalidInput("invalid_json", TOO_DEEP) from None
        if value is not None and _depth_exceeds(value, MAX_JSON_DEPTH):
            if silent:
                return None
            raise InvalidInput("invalid_json", TOO_DEEP)
        return value


def nul_bytes_handled(view: Any) -> Any:
    """Mark a view that takes NUL bytes in its form itself (a signed webhook whose sender will
    not send again: it keeps the message and replaces them, rather than lose it to a 400)."""
    view.nul_bytes_handled = True
    return view


def refuse_nul_bytes() -> None:
    """``before_request``: a NUL byte anywhere in the text a route may read is a 400 (in a form,
    unless the view says it handles them: :func:`nul_bytes_handled`)."""
    from flask import current_app, request

    if _has_nul(request.path) or any(_has_nul(v) for v in request.args.values()):
        raise InvalidInput("invalid_characters", BAD_CHARACTER)
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "nul_bytes_handled", False):
        return
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values = list(request.form.values()) + list(request.form.keys())
            values += [f.filename or "" for f in request.files.values()]
            if any(_has_nul(v) for v in values):
                raise InvalidInput("invalid_characters", BAD_CHARACTER)
        elif request.is_json and _has_nul(request.get_json(silent=True)):
            raise InvalidInput("invalid_characters", BAD_CHARACTER)


def install(app: Flask) -> None:
    """Before any blueprint adds a rule: the bounded ``int`` converter and the request class."""
    app.url_map.converters["int"] = IdConverter
    app.request_class = HalopmiRequest
    app.before_request(refuse_nul_bytes)
