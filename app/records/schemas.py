"""Turn one source record (a CSV row or a JSON object) into Member / Claim column values.

The parsers are pure: plain dict in, plain dict out, no database. Every problem in a row is
collected (not just the first) so a rejected row's reason tells the data owner everything to
fix in one pass. Lengths are checked here because PostgreSQL enforces ``VARCHAR(n)`` and would
otherwise fail a whole batch on one long value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import phonenumbers

from app.records.identifiers import (
    IdentifierError,
    IdentifierWarning,
    _,
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

# Free-text columns and their database lengths (String(n) in models.py).
_MEMBER_TEXT = {
    "home_province": 80,
    "home_regency": 80,
    "placement_city": 80,
    "employer": 200,
    "placement_agency": 200,
    "bank_name": 80,
}

# Names people and source systems use for placement countries (English and Indonesian).
COUNTRY_NAMES = {
    "taiwan": "TW", "hong kong": "HK", "hongkong": "HK", "malaysia": "MY", "singapore": "SG",
    "singapura": "SG", "saudi arabia": "SA", "arab saudi": "SA", "ksa": "SA", "south korea": "KR",
    "korea": "KR", "korea selatan": "KR", "republic of korea": "KR", "japan": "JP", "jepang": "JP",
    "italy": "IT", "italia": "IT", "brunei": "BN", "brunei darussalam": "BN", "turkey": "TR",
    "turkiye": "TR", "turki": "TR", "united arab emirates": "AE", "uae": "AE",
    "uni emirat arab": "AE", "poland": "PL", "polandia": "PL", "indonesia": "ID", "qatar": "QA",
    "kuwait": "KW", "oman": "OM", "bahrain": "BH", "united kingdom": "GB", "uk": "GB",
    "germany": "DE", "jerman": "DE", "netherlands": "NL", "belanda": "NL",
    "australia": "AU", "new zealand": "NZ", "selandia baru": "NZ", "china": "CN", "tiongkok": "CN",
    "macau": "MO", "macao": "MO", "timor leste": "TL", "united states": "US", "amerika serikat": "US",
}  # fmt: skip
# ISO 3166 alpha-2 codes known to libphonenumber: a maintained list that ships with a package
# we already depend on. "UK" is not ISO; it is mapped through COUNTRY_NAMES.
_ISO_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)

_SEX = {
    "M": "M",
    "L": "M",
    "MALE": "M",
    "LAKI-LAKI": "M",
    "F": "F",
    "P": "F",
    "FEMALE": "F",
    "PEREMPUAN": "F",
}
_PHASE_ALIASES = {"PURNA PMI": "PURNA", "PURNA_PMI": "PURNA", "PURNAPMI": "PURNA"}
_SCHEME_ALIASES = {
    "P-TO-P": "P3MI",
    "P2P": "P3MI",
    "G-TO-G": "G2G",
    "MANDIRI": "PERSEORANGAN",
    "INDIVIDUAL": "PERSEORANGAN",
}
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_AMOUNT_RE = re.compile(r"^\d{1,3}([.,\s]\d{3})+$|^\d+$")
_DMY_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


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


class _Collector:
    """Gathers field errors and warnings while one row is parsed."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: list[FieldError] = []
        self.warnings: list[IdentifierWarning] = []

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        text = str(value).strip()
        return text or None

    def fail(self, name: str, code: str, message: str) -> None:
        self.errors.append(FieldError(name, code, message))

    def required(self, name: str) -> str | None:
        value = self.text(name)
        if value is None:
            self.fail(name, "required", _("This field is required."))
        return value

    def limited(self, name: str, limit: int, value: str | None = None) -> str | None:
        value = self.text(name) if value is None else value
        if value is not None and len(value) > limit:
            self.fail(name, "too_long", _("Longer than %(limit)d characters.", limit=limit))
            return None
        return value

    def identifier(self, name: str, check: Any, *args: Any) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            checked = check(value, *args)
        except IdentifierError as exc:
            self.fail(name, exc.code, exc.message)
            return None
        self.warnings.extend(checked.warnings)
        return str(checked.value)

    def date(self, name: str) -> date | None:
        value = self.text(name)
        if value is None:
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.fail(name, "date_format", _("Not a date (use YYYY-MM-DD or DD/MM/YYYY)."))
        return parsed

    def choice(
        self,
        name: str,
        allowed: tuple[str, ...],
        aliases: dict[str, str] | None = None,
        required: bool = False,
    ) -> str | None:
        """One of ``allowed``; upper-case enumerations fold to upper, others to snake_case."""
        value = self.required(name) if required else self.text(name)
        if value is None:
            return None
        if allowed[0].isupper():
            folded = value.upper()
        else:
            folded = re.sub(r"[\s\-]+", "_", value.lower())
        folded = (aliases or {}).get(folded, folded)
        if folded not in allowed:
            self.fail(name, "not_allowed", _("Must be one of: %(values)s.", values=", ".join(allowed)))
            return None
        return folded


def parse_date(value: str) -> date | None:
    """ISO ``YYYY-MM-DD`` (a time part is ignored) or ``DD/MM/YYYY``; None when neither."""
    text = value.strip()
    match = _DMY_RE.match(text)
    try:
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        if len(text) > 10 and text[10] in "T ":
            return datetime.fromisoformat(text).date()
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        return None
    return None


def parse_country(value: str) -> str | None:
    """ISO 3166 alpha-2 from a code or a common English/Indonesian name; None when unknown."""
    text = value.strip()
    if len(text) == 2 and text.upper() in _ISO_COUNTRIES:
        return text.upper()
    return COUNTRY_NAMES.get(re.sub(r"\s+", " ", text.lower().replace("-", " ")))


def parse_amount(value: object) -> int | None:
    """Integer rupiah: ``12500000``, ``12.500.000``, ``12,500,000`` or ``Rp 12.500.000``.

    Decimals are refused rather than rounded: a fraction of a rupiah means a unit mix-up.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    text = re.sub(r"^rp\.?\s*", "", str(value).strip(), flags=re.IGNORECASE)
    if not _AMOUNT_RE.match(text):
        return None
    return int(re.sub(r"\D", "", text))


def _split_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part.strip() for part in re.split(r"[;,|]", str(value)) if part.strip()]


def _parse_coverage(rows: _Collector) -> list[dict[str, Any]]:
    raw = rows.data.get("coverage")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            rows.fail("coverage", "coverage_json", _("Coverage must be a JSON list of windows."))
            return []
    if not isinstance(raw, list):
        rows.fail("coverage", "coverage_json", _("Coverage must be a JSON list of windows."))
        return []
    windows: list[dict[str, Any]] = []
    for item in raw:
        program = str(item.get("program", "")).upper() if isinstance(item, dict) else ""
        start = parse_date(str(item.get("start") or "")) if isinstance(item, dict) else None
        end_raw = item.get("end") if isinstance(item, dict) else None
        end = parse_date(str(end_raw)) if end_raw else None
        if program not in PROGRAMS or start is None or (end_raw and end is None) or (end and end < start):
            rows.fail(
                "coverage",
                "coverage_window",
                _(
                    "Each coverage window needs a program (JKK, JKM, JHT), a start date and an end date not before it."
                ),
            )
            return []
        windows.append(
            {"program": program, "start": start.isoformat(), "end": end.isoformat() if end else None}
        )
    windows.sort(key=lambda w: (w["program"], w["start"]))
    return windows


def parse_member(data: dict[str, Any]) -> ParsedRow:
    """Column values for a Member from one source record; :class:`RowError` when invalid."""
    rows = _Collector(data)
    kpj = rows.identifier("kpj", normalize_kpj)
    if rows.text("kpj") is None:
        rows.required("kpj")
    name = rows.required("name")
    if name is not None:
        name = rows.limited("name", 200, " ".join(name.split()))  # one line, single spaces
    key = name_key(name)[:200] if name else None  # NFKD can lengthen a name slightly
    if name and not key:
        rows.fail("name", "name_empty", _("The name has no letters."))

    birth_date = rows.date("birth_date")
    if birth_date and birth_date > date.today():
        rows.fail("birth_date", "date_future", _("The birth date is in the future."))
    sex = rows.choice("sex", ("M", "F"), _SEX)
    nik = rows.identifier("nik", normalize_nik)
    if nik:
        rows.warnings.extend(cross_check_nik(nik, birth_date, sex))

    country_text = rows.text("placement_country")
    country = parse_country(country_text) if country_text else None
    if country_text and country is None:
        rows.fail("placement_country", "country", _("Unknown country (use an ISO code such as HK, TW, MY)."))
    phone_id = rows.identifier("phone_id", normalize_phone_number, "ID", "phone_id")
    # A number abroad written without "+" is a local number of the placement country.
    phone_abroad = rows.identifier("phone_abroad", normalize_phone_number, country or "ID", "phone_abroad")
    if phone_id and not phone_id.startswith("+62"):
        rows.warnings.append(
            IdentifierWarning(
                "phone_id", "phone_id_foreign", _("The Indonesian phone is not an Indonesian number.")
            )
        )

    contract_start = rows.date("contract_start")
    contract_end = rows.date("contract_end")
    if contract_start and contract_end and contract_end < contract_start:
        rows.fail("contract_end", "date_order", _("The contract ends before it starts."))

    programs_raw = data.get("programs")
    programs = []
    if programs_raw not in (None, ""):
        for program in _split_list(programs_raw):
            program = program.upper()
            if program not in PROGRAMS:
                rows.fail(
                    "programs", "not_allowed", _("Must be one of: %(values)s.", values=", ".join(PROGRAMS))
                )
                break
            if program not in programs:
                programs.append(program)
    programs = [program for program in PROGRAMS if program in programs]  # canonical order

    language = (rows.text("preferred_language") or "id").lower()
    if len(language) > 8 or not _LANGUAGE_RE.match(language):
        rows.fail("preferred_language", "language", _("Not a language code (such as id or en)."))

    bank_account = rows.text("bank_account")
    if bank_account is not None:
        bank_account = re.sub(r"[\s\-.]", "", bank_account)
        if not bank_account.isalnum() or len(bank_account) > 34:  # IBAN's maximum length
            rows.fail("bank_account", "bank_account", _("A bank account number has only letters and digits."))
            bank_account = None

    values: dict[str, Any] = {
        "kpj": kpj,
        "nik": nik,
        "name": name,
        "name_key": key,
        "birth_date": birth_date,
        "sex": sex,
        "phone_id": phone_id,
        "phone_abroad": phone_abroad,
        "email": rows.identifier("email", normalize_email),
        "passport": rows.identifier("passport", normalize_passport),
        "placement_country": country,
        "scheme": rows.choice("scheme", SCHEMES, _SCHEME_ALIASES),
        "contract_start": contract_start,
        "contract_end": contract_end,
        "phase": rows.choice("phase", PHASES, _PHASE_ALIASES),
        "programs": programs,
        "membership_status": rows.choice("membership_status", MEMBERSHIP_STATUSES),
        "coverage": _parse_coverage(rows),
        "preferred_language": language,
        "bank_account": bank_account,
    }
    for column, limit in _MEMBER_TEXT.items():
        values[column] = rows.limited(column, limit)
    row_key = kpj or rows.text("kpj")
    if rows.errors:
        raise RowError(row_key, rows.errors)
    assert kpj is not None  # guaranteed when there are no errors
    return ParsedRow(kpj, values, rows.warnings)


def parse_claim(data: dict[str, Any]) -> ParsedRow:
    """Column values for a Claim (with ``kpj`` instead of ``member_id``); :class:`RowError`."""
    rows = _Collector(data)
    number = rows.limited("claim_number", 32, rows.required("claim_number"))
    if number is not None:
        number = number.upper()
    kpj = rows.identifier("kpj", normalize_kpj)
    if rows.text("kpj") is None:
        rows.required("kpj")
    program = rows.choice("program", PROGRAMS, required=True)
    benefit = rows.required("benefit_type")
    if benefit is not None:
        # Benefit types are a growing list (Permenaker 4/2023 added seven): keep it open, but
        # in one spelling so reports can group by it.
        benefit = rows.limited("benefit_type", 64, re.sub(r"[\s\-]+", "_", benefit.lower()))
    status = rows.choice("status", CLAIM_STATUSES, required=True)

    amount_raw = data.get("amount")
    amount = None
    if amount_raw not in (None, ""):
        amount = parse_amount(amount_raw)
        if amount is None:
            rows.fail("amount", "amount", _("The amount must be whole rupiah (digits only)."))

    missing_raw = data.get("missing_documents")
    missing = _split_list(missing_raw) if missing_raw not in (None, "") else []
    if any(len(item) > 100 for item in missing):
        rows.fail("missing_documents", "too_long", _("Longer than %(limit)d characters.", limit=100))

    values: dict[str, Any] = {
        "claim_number": number,
        "kpj": kpj,
        "program": program,
        "benefit_type": benefit,
        "incident_date": rows.date("incident_date"),
        "status": status,
        "amount": amount,
        "submitted_on": rows.date("submitted_on"),
        "decided_on": rows.date("decided_on"),
        "paid_on": rows.date("paid_on"),
        "channel": rows.choice("channel", CHANNELS, {"call_center": "call_centre", "jmo_app": "jmo"}),
        "missing_documents": missing,
    }
    if values["submitted_on"] and values["decided_on"] and values["decided_on"] < values["submitted_on"]:
        rows.fail("decided_on", "date_order", _("The decision date is before the submission date."))
    if rows.errors:
        raise RowError(number or rows.text("claim_number"), rows.errors)
    assert number is not None  # guaranteed when there are no errors
    return ParsedRow(number, values, rows.warnings)
