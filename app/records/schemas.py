"""Turn one source record (a CSV row or a JSON object) into Member / Claim column values.

The rules are pydantic models (:class:`MemberRecord`, :class:`ClaimRecord`, on
:mod:`app.core.schemas`), and the parsers are pure: plain dict in, plain dict out, no database.
Every problem in a row is collected (not just the first) so a rejected row's reason tells the
data owner everything to fix in one pass; each has a stable code for programs. Lengths are
checked here because PostgreSQL enforces ``VARCHAR(n)`` and would otherwise fail a whole batch on
one long value. Values are read leniently (a number where text belongs is read as its text):
source systems export what they have. Warnings (legal but unusual values) are gathered in the
validation context, never reject.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from flask_babel import lazy_gettext as _l
from pydantic import AfterValidator, BeforeValidator, ValidationError, ValidationInfo, field_validator

from app.core.schemas import Schema, fail, field_errors, text_of
from app.records.identifiers import (
    Checked,
    IdentifierError,
    IdentifierWarning,
    cross_check_nik,
    name_key,
    normalize_email,
    normalize_kpj,
    normalize_nik,
    normalize_passport,
    normalize_phone_number,
)
from app.records.models import (
    CHANNELS,
    CLAIM_STATUSES,
    MEMBERSHIP_STATUSES,
    PHASES,
    PROGRAMS,
    SCHEMES,
)
from app.records.values import (
    LANGUAGE_RE,
    PHASE_ALIASES,
    SCHEME_ALIASES,
    SEX,
    parse_amount,
    parse_country,
    parse_date,
    split_list,
)

MEMBER_COLUMNS = (
    "kpj", "nik", "name", "birth_date", "sex", "phone_id", "phone_abroad", "email", "passport",
    "home_province", "home_regency", "placement_country", "placement_city", "employer",
    "placement_agency", "scheme", "contract_start", "contract_end", "phase", "programs",
    "membership_status", "coverage", "preferred_language", "bank_name", "bank_account",
)  # fmt: skip
MEMBER_REQUIRED = ("kpj", "name")

CLAIM_COLUMNS = (
    "claim_number", "kpj", "program", "benefit_type", "incident_date", "status", "amount",
    "submitted_on", "decided_on", "paid_on", "channel", "missing_documents",
)  # fmt: skip
CLAIM_REQUIRED = ("claim_number", "kpj", "program", "benefit_type", "status")

@dataclass(frozen=True)
class FieldError:
    """One problem in one field of a source row."""

    field: str
    code: str
    message: str


@dataclass
class ParsedRow:
    """A valid row's column values and the warnings it carried."""

    key: str
    values: dict[str, Any]
    warnings: list[IdentifierWarning] = field(default_factory=list)


class RowError(ValueError):
    """A row that cannot be imported; ``errors`` lists every field problem found."""

    def __init__(self, key: str | None, errors: list[FieldError]) -> None:
        self.key = key
        self.errors = errors
        super().__init__(self.reason)

    @property
    def code(self) -> str:
        return self.errors[0].code if len(self.errors) == 1 else "invalid_fields"

    @property
    def reason(self) -> str:
        return "; ".join(f"{error.field}: {error.message}" for error in self.errors)


# --- reading one value ---------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """The value as text, stripped; None when missing or blank."""
    if value is None:
        return None
    return str(value).strip() or None


REQUIRED = _l("This field is required.")


def _required(value: Any) -> Any:
    if value is None:
        fail(REQUIRED, "required")
    return value


def _warn(info: ValidationInfo, warnings: Any) -> None:
    (info.context or {}).setdefault("warnings", []).extend(warnings)


def _identifier(check: Callable[..., Checked], *args: Any, region_from: str | None = None) -> AfterValidator:
    """An identifier normalised by :mod:`app.records.identifiers`; its warnings are kept.

    ``region_from`` names an earlier field whose value is the region (a phone abroad is read in
    the placement country).
    """

    def run(value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        extra = args
        if region_from is not None:
            extra = (info.data.get(region_from) or "ID", *args)
        try:
            checked = check(value, *extra)
        except IdentifierError as exc:
            fail(exc.message, exc.code)
        _warn(info, checked.warnings)
        return str(checked.value)

    return AfterValidator(run)


def _limited(limit: int) -> AfterValidator:
    def run(value: str | None) -> str | None:
        if value is not None and len(value) > limit:
            fail(_l("Longer than %(limit)d characters.", limit=limit), "too_long")
        return value

    return AfterValidator(run)


def _date(value: Any) -> date | None:
    text = _text(value)
    if text is None:
        return None
    parsed = parse_date(text)
    if parsed is None:
        fail(_l("Not a date (use YYYY-MM-DD or DD/MM/YYYY)."), "date_format")
    return parsed


def _choice(allowed: tuple[str, ...], aliases: dict[str, str] | None = None) -> AfterValidator:
    """One of ``allowed``; upper-case enumerations fold to upper, others to snake_case."""
    message = _l("Must be one of: %(values)s.", values=", ".join(allowed))

    def run(value: str | None) -> str | None:
        if value is None:
            return None
        folded = value.upper() if allowed[0].isupper() else re.sub(r"[\s\-]+", "_", value.lower())
        folded = (aliases or {}).get(folded, folded)
        if folded not in allowed:
            fail(message, "not_allowed")
        return folded

    return AfterValidator(run)


def _list(value: Any) -> list[str]:
    return [] if value in (None, "") else split_list(value)


Text = Annotated[str | None, BeforeValidator(_text)]
Date = Annotated[date | None, BeforeValidator(_date)]


def _programs(values: list[str]) -> list[str]:
    programs: list[str] = []
    for program in values:
        if program.upper() not in PROGRAMS:
            fail(_l("Must be one of: %(values)s.", values=", ".join(PROGRAMS)), "not_allowed")
        programs.append(program.upper())
    return [program for program in PROGRAMS if program in programs]  # canonical order, once each


COVERAGE_MESSAGE = _l("Coverage must be a JSON list of windows.")


def _coverage(raw: Any) -> list[dict[str, Any]]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            fail(COVERAGE_MESSAGE, "coverage_json")
    if not isinstance(raw, list):
        fail(COVERAGE_MESSAGE, "coverage_json")
    windows: list[dict[str, Any]] = []
    for item in raw:
        program = str(item.get("program", "")).upper() if isinstance(item, dict) else ""
        start = parse_date(str(item.get("start") or "")) if isinstance(item, dict) else None
        end_raw = item.get("end") if isinstance(item, dict) else None
        end = parse_date(str(end_raw)) if end_raw else None
        if program not in PROGRAMS or start is None or (end_raw and end is None) or (end and end < start):
            fail(
                _l(
                    "Each coverage window needs a program (JKK, JKM, JHT), a start date and an end date not before it."
                ),
                "coverage_window",
            )
        windows.append(
            {"program": program, "start": start.isoformat(), "end": end.isoformat() if end else None}
        )
    windows.sort(key=lambda w: (w["program"], w["start"]))
    return windows


def _language(value: Any) -> str:
    language = (_text(value) or "id").lower()
    if len(language) > 8 or not LANGUAGE_RE.match(language):
        fail(_l("Not a language code (such as id or en)."), "language")
    return language


def _bank_account(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    account = re.sub(r"[\s\-.]", "", text)
    if not account.isalnum() or len(account) > 34:  # IBAN's maximum length
        fail(_l("A bank account number has only letters and digits."), "bank_account")
    return account


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    country = parse_country(value)
    if country is None:
        fail(_l("Unknown country (use an ISO code such as HK, TW, MY)."), "country")
    return country


def _one_line_name(value: str) -> str:
    return " ".join(value.split())  # one line, single spaces


class MemberRecord(Schema):
    """A member as a source system sends it (fields in the order they are checked)."""

    kpj: Annotated[str, _identifier(normalize_kpj), BeforeValidator(_required), BeforeValidator(_text)]
    name: Annotated[
        str, AfterValidator(_one_line_name), _limited(200), BeforeValidator(_required), BeforeValidator(_text)
    ]
    birth_date: Date = None
    sex: Annotated[Text, _choice(("M", "F"), SEX)] = None
    nik: Annotated[Text, _identifier(normalize_nik)] = None
    placement_country: Annotated[Text, AfterValidator(_country)] = None
    phone_id: Annotated[Text, _identifier(normalize_phone_number, "ID", "phone_id")] = None
    phone_abroad: Annotated[
        Text, _identifier(normalize_phone_number, "phone_abroad", region_from="placement_country")
    ] = None
    contract_start: Date = None
    contract_end: Date = None
    programs: Annotated[list[str], AfterValidator(_programs), BeforeValidator(_list)] = []
    preferred_language: Annotated[str, BeforeValidator(_language)] = "id"
    bank_account: Annotated[str | None, BeforeValidator(_bank_account)] = None
    email: Annotated[Text, _identifier(normalize_email)] = None
    passport: Annotated[Text, _identifier(normalize_passport)] = None
    scheme: Annotated[Text, _choice(SCHEMES, SCHEME_ALIASES)] = None
    phase: Annotated[Text, _choice(PHASES, PHASE_ALIASES)] = None
    membership_status: Annotated[Text, _choice(MEMBERSHIP_STATUSES)] = None
    coverage: Annotated[list[dict[str, Any]], BeforeValidator(_coverage)] = []
    home_province: Annotated[Text, _limited(80)] = None
    home_regency: Annotated[Text, _limited(80)] = None
    placement_city: Annotated[Text, _limited(80)] = None
    employer: Annotated[Text, _limited(200)] = None
    placement_agency: Annotated[Text, _limited(200)] = None
    bank_name: Annotated[Text, _limited(80)] = None

    @property
    def name_key(self) -> str:
        return name_key(self.name)[:200]  # NFKD can lengthen a name slightly

    @field_validator("name")
    @classmethod
    def _has_letters(cls, name: str) -> str:
        if not name_key(name):
            fail(_l("The name has no letters."), "name_empty")
        return name

    @field_validator("birth_date")
    @classmethod
    def _born(cls, born: date | None) -> date | None:
        if born and born > date.today():
            fail(_l("The birth date is in the future."), "date_future")
        return born

    @field_validator("nik")
    @classmethod
    def _nik_agrees(cls, nik: str | None, info: ValidationInfo) -> str | None:
        if nik:
            _warn(info, cross_check_nik(nik, info.data.get("birth_date"), info.data.get("sex")))
        return nik

    @field_validator("phone_id")
    @classmethod
    def _indonesian(cls, phone: str | None, info: ValidationInfo) -> str | None:
        if phone and not phone.startswith("+62"):
            _warn(
                info,
                [
                    IdentifierWarning(
                        "phone_id",
                        "phone_id_foreign",
                        text_of(_l("The Indonesian phone is not an Indonesian number.")),
                    )
                ],
            )
        return phone

    @field_validator("contract_end")
    @classmethod
    def _ends_after_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("contract_start")
        if start and end and end < start:
            fail(_l("The contract ends before it starts."), "date_order")
        return end


def _amount(value: Any) -> int | None:
    if value in (None, ""):
        return None
    amount = parse_amount(value)
    if amount is None:
        fail(_l("The amount must be whole rupiah (digits only)."), "amount")
    return amount


def _documents(values: list[str]) -> list[str]:
    if any(len(item) > 100 for item in values):
        fail(_l("Longer than %(limit)d characters.", limit=100), "too_long")
    return values


def _benefit(value: str) -> str:
    # Benefit types are a growing list (Permenaker 4/2023 added seven): keep it open, but in one
    # spelling so reports can group by it.
    return re.sub(r"[\s\-]+", "_", value.lower())


class ClaimRecord(Schema):
    """A claim as a source system sends it, with ``kpj`` instead of ``member_id``."""

    claim_number: Annotated[
        str, AfterValidator(str.upper), _limited(32), BeforeValidator(_required), BeforeValidator(_text)
    ]
    kpj: Annotated[str, _identifier(normalize_kpj), BeforeValidator(_required), BeforeValidator(_text)]
    program: Annotated[str, _choice(PROGRAMS), BeforeValidator(_required), BeforeValidator(_text)]
    benefit_type: Annotated[
        str, AfterValidator(_benefit), _limited(64), BeforeValidator(_required), BeforeValidator(_text)
    ]
    status: Annotated[str, _choice(CLAIM_STATUSES), BeforeValidator(_required), BeforeValidator(_text)]
    amount: Annotated[int | None, BeforeValidator(_amount)] = None
    missing_documents: Annotated[list[str], AfterValidator(_documents), BeforeValidator(_list)] = []
    incident_date: Date = None
    submitted_on: Date = None
    decided_on: Date = None
    paid_on: Date = None
    channel: Annotated[Text, _choice(CHANNELS, {"call_center": "call_centre", "jmo_app": "jmo"})] = None

    @field_validator("decided_on")
    @classmethod
    def _decided_after_submitted(cls, decided: date | None, info: ValidationInfo) -> date | None:
        submitted = info.data.get("submitted_on")
        if submitted and decided and decided < submitted:
            fail(_l("The decision date is before the submission date."), "date_order")
        return decided


def _parse(
    model: type[Schema], data: dict[str, Any], key_of: Callable[[dict[str, Any]], str | None]
) -> tuple[Schema, list[IdentifierWarning]]:
    context: dict[str, Any] = {"data": data, "warnings": []}
    try:
        record = model.model_validate({name: data.get(name) for name in model.model_fields}, context=context)
    except ValidationError as exc:
        errors = [FieldError(name, code, message) for name, code, message in field_errors(model, exc)]
        raise RowError(key_of(data), errors) from None
    return record, context["warnings"]


def _member_key(data: dict[str, Any]) -> str | None:
    text = _text(data.get("kpj"))
    try:
        return normalize_kpj(text).value if text else None
    except IdentifierError:
        return text


def _claim_key(data: dict[str, Any]) -> str | None:
    text = _text(data.get("claim_number"))
    return text.upper() if text and len(text) <= 32 else text


def parse_member(data: dict[str, Any]) -> ParsedRow:
    """Column values for a Member from one source record; :class:`RowError` when invalid."""
    record, warnings = _parse(MemberRecord, data, _member_key)
    assert isinstance(record, MemberRecord)
    values = record.model_dump()
    values["name_key"] = record.name_key
    return ParsedRow(record.kpj, values, warnings)


def parse_claim(data: dict[str, Any]) -> ParsedRow:
    """Column values for a Claim (with ``kpj`` instead of ``member_id``); :class:`RowError`."""
    record, warnings = _parse(ClaimRecord, data, _claim_key)
    assert isinstance(record, ClaimRecord)
    return ParsedRow(record.claim_number, record.model_dump(), warnings)
