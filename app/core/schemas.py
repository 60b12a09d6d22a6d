"""Input validation with pydantic: one way to check what people and programs send us.

Each input is a :class:`Schema` (a pydantic model): its fields carry the rules (types, lengths,
choices) from which pydantic both validates and writes the JSON Schema that the OpenAPI
document is generated from (:mod:`app.api.openapi`), so the document cannot drift from the code.

What stays ours is the message a person reads. A model maps each field's error types to a lazy
gettext string (``messages``), and rules written as functions raise :func:`fail` with one;
:func:`validate` turns pydantic's errors into the ``{field: message}`` shape the pages and the
API show, translating each message then (at render time), in the request's language. Outside a
request (imports, jobs) the English source text is used.

``validate`` returns a :class:`Result` (``ok``, ``clean``, ``errors``): the interface the
callers of ``validate_complaint`` & co. have always had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn, TypeAlias

from flask import has_request_context
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

Message: TypeAlias = str | LazyString

# The largest id a row can have (an INTEGER primary key on PostgreSQL): a larger one is no row,
# and asking the database for it would fail the request.
MAX_ID = 2**31 - 1

# pydantic error types that mean "this is not text" and "this is not a whole number"
_TYPE_ERRORS = {"string_type", "text_type"}
_LIMITS = ("max_length", "min_length", "le", "ge", "lt", "gt")


def text_of(message: Message) -> str:
    """A message for people: translated inside a request, the English source outside one."""
    if isinstance(message, LazyString) and not has_request_context():
        source = message._args[0] if message._args else ""
        return str(source % message._kwargs if message._kwargs else source)
    return str(message)


def fail(message: Message, code: str = "invalid", *, field: str | None = None) -> NoReturn:
    """Reject the value being validated with ``message`` (kept lazy until it is shown).

    ``field`` files the error under another field (a rule about several fields, such as "at
    least one day has opening hours", shown by the first of them).
    """
    # The template has no "{…}" so pydantic does not format (and so translate) it now.
    raise PydanticCustomError(code, "invalid", {"message": message, "field": field})


def text(empty: Any = "") -> BeforeValidator:
    """Text input: stripped; missing or blank becomes ``empty``; anything not a string fails."""

    def check(value: Any) -> Any:
        if value is None:
            return empty
        if not isinstance(value, str):
            raise PydanticCustomError("text_type", "invalid", {"message": _l("Must be text.")})
        stripped = value.strip()
        return stripped if stripped else empty

    return BeforeValidator(check)


@dataclass(frozen=True)
class OneOf:
    """A value from a fixed list: checked after the other rules, written as ``enum``."""

    values: tuple[str, ...]
    code: str = "not_allowed"
    blank: bool = False  # also "" and null, which a before-validator turns into the default

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["enum"] = list(self.values)
        if self.blank:
            return {"anyOf": [{**json_schema, "enum": [*self.values, ""]}, {"type": "null"}]}
        return json_schema

    def _check(self, value: Any) -> Any:
        if value is not None and value not in self.values:
            raise PydanticCustomError(self.code, "invalid", {"message": ""})
        return value


class Schema(BaseModel):
    """Base of every input model: strict types (no silent coercion), unknown keys ignored.

    ``messages`` maps a field to {pydantic error type: message}; ``"*"`` is any other error of
    that field not raised with :func:`fail` (those carry their own message).
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {}


@dataclass
class Result:
    """``clean`` holds the normalised values of a valid input; ``errors`` field → message."""

    clean: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    model: Any = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _message(model: type[Schema], name: str, error: Mapping[str, Any]) -> Message:
    context = error.get("ctx") or {}
    known = model.messages.get(name, {})
    kind = str(error["type"])
    if kind in known:
        return known[kind]
    message = context.get("message")
    # A lazy string is not asked for its truth: that needs Flask-Babel, which an import worker's
    # bare app does not have (an empty plain message still falls through to the next rules).
    if isinstance(message, LazyString) or message:
        return message
    if "*" in known:
        return known["*"]
    if kind in _TYPE_ERRORS:
        return _l("Must be text.")
    limit = next((context[key] for key in _LIMITS if key in context), None)
    if limit is not None:
        return _l("This value is out of range (limit %(n)s).", n=limit)
    return _l("This value is not valid.")


def errors_of(model: type[Schema], exc: ValidationError) -> dict[str, str]:
    """The first error of each field, as the message a person reads."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        name = (error.get("ctx") or {}).get("field") or (str(error["loc"][0]) if error["loc"] else "__all__")
        if name not in errors:
            errors[name] = text_of(_message(model, name, error))
    return errors


def field_errors(model: type[Schema], exc: ValidationError) -> list[tuple[str, str, str]]:
    """Every error as (field, code, message), in the order the fields were checked."""
    found = []
    for error in exc.errors(include_url=False, include_input=False):
        name = (error.get("ctx") or {}).get("field") or (str(error["loc"][0]) if error["loc"] else "__all__")
        found.append((name, str(error["type"]), text_of(_message(model, name, error))))
    return found


def validate(
    model: type[Schema],
    data: Mapping[str, Any],
    *,
    fields: Iterable[str] | None = None,
    read: Callable[[Mapping[str, Any], str], Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Result:
    """Validate ``data`` against ``model``; a missing field is read as ``None`` (blank).

    ``read(data, name)`` reads one field (e.g. a form's ``getlist`` for a multi-select).
    Validators find ``data`` itself and ``context`` in ``info.context``.
    """
    names = list(fields) if fields is not None else list(model.model_fields)
    reader = read or (lambda values, name: values.get(name))
    raw = {name: reader(data, name) for name in names}
    try:
        instance = model.model_validate(raw, context={**(context or {}), "data": data})
    except ValidationError as exc:
        return Result(errors=errors_of(model, exc))
    return Result(clean=instance.model_dump(exclude_none=True), model=instance)
