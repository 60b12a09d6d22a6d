"""Validation and normalisation of the identifiers on a membership record (SPEC §2).

Every check returns a :class:`Checked` (the normalised value plus any warnings) or raises
:class:`IdentifierError` with a stable ``code`` for programs and a translatable message for
people. Warnings flag values that are legal but unusual (an old KPJ with letters, a passport that
is not one letter + 7 digits, a NIK whose embedded birth date disagrees with the record): they
never reject, because the agency's core system is the authority and we only mirror it.

The same functions serve the importer, the staff search box and, later, ticket intake, so a
KPJ typed by an agent and a KPJ read from a file normalise identically.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from app.core.i18n import _
from app.core.phone import PhoneError, parse_phone

KPJ_RE = re.compile(r"^[0-9A-Z]{11}$")
NIK_RE = re.compile(r"^\d{16}$")
PASSPORT_RE = re.compile(r"^[A-Z0-9]{6,9}$")
PASSPORT_USUAL_RE = re.compile(r"^[A-Z]\d{7}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Separators people and spreadsheets put inside identifiers; never meaningful.
_SEPARATORS = re.compile(r"[\s\-./]")

# Province codes (first two NIK digits) in use by Dukcapil, including the 2022 Papua provinces.
# An unknown code only warns: the list changes when provinces are split.
NIK_PROVINCES = frozenset(
    {"11", "12", "13", "14", "15", "16", "17", "18", "19", "21"}
    | {"31", "32", "33", "34", "35", "36", "51", "52", "53"}
    | {"61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
    | {"81", "82", "91", "92", "93", "94", "95", "96"}
)


@dataclass(frozen=True)
class IdentifierWarning:
    """A legal but unusual value: shown to people, never a reason to reject."""

    field: str
    code: str
    message: str


@dataclass(frozen=True)
class Checked:
    """A normalised identifier and the warnings raised while checking it."""

    value: str
    warnings: tuple[IdentifierWarning, ...] = ()


class IdentifierError(ValueError):
    """An identifier that cannot be accepted; ``code`` is stable, ``message`` is for people."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


def _compact(raw: object) -> str:
    return _SEPARATORS.sub("", str(raw or "")).upper()


def normalize_kpj(raw: object) -> Checked:
    """KPJ: 11 characters ``[0-9A-Z]``; letters appear only on old Jamsostek cards (warning)."""
    value = _compact(raw)
    if not value:
        raise IdentifierError("kpj", "kpj_empty", _("KPJ is empty."))
    if not KPJ_RE.match(value):
        raise IdentifierError(
            "kpj", "kpj_format", _("KPJ must be 11 letters or digits (found %(n)d).", n=len(value))
        )
    warnings: tuple[IdentifierWarning, ...] = ()
    if not value.isdigit():
        warnings = (IdentifierWarning("kpj", "kpj_not_numeric", _("KPJ contains letters (an old card?).")),)
    return Checked(value, warnings)


@dataclass(frozen=True)
class NikInfo:
    """What a NIK says about its holder: a cross-check only, never the authority (SPEC §2)."""

    province: str
    regency: str
    district: str
    birth_date: date
    sex: str  # "M" / "F"
    serial: str


def _nik_birth_date(day: int, month: int, yy: int, today: date) -> date | None:
    """The birth date for DDMMYY, choosing the century that makes a real, past date."""
    centuries = (2000, 1900) if 2000 + yy <= today.year else (1900,)
    for century in centuries:
        try:
            born = date(century + yy, month, day)
        except ValueError:
            continue  # 29 Feb exists in 2000 but not 1900: try the other century
        if born <= today:
            return born
    return None


def decode_nik(nik: str, today: date | None = None) -> NikInfo:
    """Split a normalised NIK into ``PP KK CC DDMMYY SSSS``; women have day + 40.

    Raises :class:`IdentifierError` (``nik_date``) when the embedded date cannot exist.
    """
    today = today or date.today()
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "M"
    if day > 40:
        day -= 40
        sex = "F"
    born = _nik_birth_date(day, month, yy, today) if 1 <= day <= 31 else None
    if born is None:
        raise IdentifierError(
            "nik",
            "nik_date",
            _("NIK digits 7–12 are not a possible birth date (DDMMYY, day + 40 for women)."),
        )
    return NikInfo(nik[0:2], nik[2:4], nik[4:6], born, sex, nik[12:16])


def normalize_nik(raw: object, today: date | None = None) -> Checked:
    """NIK: exactly 16 digits with a possible embedded birth date."""
    value = _compact(raw)
    if not value:
        raise IdentifierError("nik", "nik_empty", _("NIK is empty."))
    if not NIK_RE.match(value):
        raise IdentifierError(
            "nik", "nik_format", _("NIK must be exactly 16 digits (found %(n)d characters).", n=len(value))
        )
    info = decode_nik(value, today)
    warnings: list[IdentifierWarning] = []
    if info.province not in NIK_PROVINCES:
        warnings.append(
            IdentifierWarning(
                "nik",
                "nik_province",
                _("NIK starts with an unknown province code %(code)s.", code=info.province),
            )
        )
    if info.serial == "0000":
        warnings.append(IdentifierWarning("nik", "nik_serial", _("NIK serial number 0000 is not issued.")))
    return Checked(value, tuple(warnings))


def cross_check_nik(nik: str, birth_date: date | None, sex: str | None) -> list[IdentifierWarning]:
    """Compare a NIK with the recorded birth date and sex; disagreements are warnings only.

    The NIK holds a two-digit year, so only day, month and year-within-century are compared.
    """
    try:
        info = decode_nik(nik)
    except IdentifierError:
        return []  # an undecodable NIK is reported by normalize_nik, not here
    warnings: list[IdentifierWarning] = []
    if birth_date is not None and (
        (info.birth_date.day, info.birth_date.month, info.birth_date.year % 100)
        != (birth_date.day, birth_date.month, birth_date.year % 100)
    ):
        warnings.append(
            IdentifierWarning(
                "nik", "nik_birth_date_mismatch", _("The birth date in the NIK differs from the record.")
            )
        )
    if sex in ("M", "F") and sex != info.sex:
        warnings.append(
            IdentifierWarning(
                "nik", "nik_sex_mismatch", _("The sex encoded in the NIK differs from the record.")
            )
        )
    return warnings


def normalize_passport(raw: object) -> Checked:
    """Passport: ``^[A-Z0-9]{6,9}$``; anything but one letter + 7 digits is unusual (warning)."""
    value = _compact(raw)
    if not value:
        raise IdentifierError("passport", "passport_empty", _("Passport number is empty."))
    if not PASSPORT_RE.match(value):
        raise IdentifierError(
            "passport", "passport_format", _("Passport number must be 6 to 9 letters or digits.")
        )
    warnings: tuple[IdentifierWarning, ...] = ()
    if not PASSPORT_USUAL_RE.match(value):
        warnings = (
            IdentifierWarning(
                "passport", "passport_unusual", _("Indonesian passports are usually one letter and 7 digits.")
            ),
        )
    return Checked(value, warnings)


def normalize_phone_number(raw: object, region: str | None = None, field: str = "phone") -> Checked:
    """Phone: E.164 via :mod:`app.core.phone`; local forms (``0812…``) are read in ``region``.

    ``region`` defaults to Indonesia; a number abroad written without ``+`` should be read in
    its placement country (``0912 345 678`` in Taiwan is ``+886912345678``).
    """
    try:
        phone = parse_phone(str(raw or ""), region or "ID")
    except PhoneError as exc:
        # Literal messages, one per code, so that translation extraction finds them.
        if exc.code == "empty":
            message = _("Phone number is empty.")
        elif exc.code == "unparseable":
            message = _("This is not a phone number.")
        else:
            message = _("This is not a valid phone number for its country.")
        raise IdentifierError(field, f"phone_{exc.code}", message) from exc
    return Checked(phone.e164)


def normalize_email(raw: object) -> Checked:
    """Email: one ``@`` and a dotted domain; the domain is lower-cased (the local part is not)."""
    value = str(raw or "").strip()
    if not value:
        raise IdentifierError("email", "email_empty", _("Email address is empty."))
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise IdentifierError("email", "email_format", _("This is not an email address."))
    local, _at, domain = value.rpartition("@")
    return Checked(f"{local}@{domain.lower()}")


_APOSTROPHES = re.compile(r"['\u2019`\u00b4]")
_NOT_ALNUM = re.compile(r"[\W_]+")  # keeps letters of any script


def name_key(name: object) -> str:
    """The comparable form of a name: lower-case, no accents or punctuation, single spaces.

    Apostrophes join (``Ma'ruf`` → ``maruf``) because Indonesian spellings drop them freely;
    other punctuation separates words. Used by the importer (``Member.name_key``) and search.
    """
    text = unicodedata.normalize("NFKD", str(name or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _APOSTROPHES.sub("", text)
    return _NOT_ALNUM.sub(" ", text).strip()


@dataclass(frozen=True)
class QueryKind:
    """One reading of a search box entry: which identifier it could be, normalised."""

    kind: str  # kpj | nik | passport | phone | name
    value: str
    warnings: tuple[IdentifierWarning, ...] = field(default=())


MAX_QUERY_LENGTH = 100


def classify_query(text: str) -> list[QueryKind]:
    """Every plausible reading of one search box entry, strongest identifier first.

    Some entries are ambiguous on purpose: ``08123456789`` is both an 11-character KPJ and an
    Indonesian mobile number, so both readings are returned and the caller searches each.
    Raises :class:`IdentifierError` (field ``q``) when the entry fits nothing.
    """
    raw = (text or "").strip()
    if not raw:
        return []
    if len(raw) > MAX_QUERY_LENGTH:
        raise IdentifierError("q", "query_too_long", _("The search text is too long."))
    if "@" in raw:
        raise IdentifierError(
            "q", "query_email", _("Search by email is not supported; use KPJ, NIK, passport, phone or name.")
        )

    compact = re.sub(r"[\s\-.()/]", "", raw)
    if compact.startswith("+"):
        return [QueryKind("phone", normalize_phone_number(compact).value)]

    readings: list[QueryKind] = []
    if compact.startswith("00") and compact[2:].isdigit():
        # An international prefix, or a KPJ that starts with zeros: try both readings.
        try:
            readings.append(QueryKind("phone", normalize_phone_number(compact).value))
        except IdentifierError:
            if len(compact) != 11:
                raise
    upper = compact.upper()
    if compact.isdigit() and len(compact) == 16:
        checked = normalize_nik(compact)  # an impossible date is an error worth showing
        return [QueryKind("nik", checked.value, checked.warnings)]
    if upper.isalnum() and upper.isascii() and any(ch.isdigit() for ch in upper):
        if len(upper) == 11:
            checked = normalize_kpj(upper)
            readings.append(QueryKind("kpj", checked.value, checked.warnings))
        if 6 <= len(upper) <= 9:
            checked = normalize_passport(upper)
            readings.append(QueryKind("passport", checked.value, checked.warnings))
        if compact.isdigit() and 7 <= len(compact) <= 15 and not any(r.kind == "phone" for r in readings):
            try:
                readings.append(QueryKind("phone", normalize_phone_number(compact).value))
            except IdentifierError:
                pass  # not a phone: other readings may still fit
        if not readings:
            raise IdentifierError(
                "q",
                "query_unrecognised",
                _("Enter a KPJ (11 characters), NIK (16 digits), passport number, phone number or name."),
            )
        return readings

    key = name_key(raw)
    if len(key) < 2 or any(ch.isdigit() for ch in key):
        raise IdentifierError(
            "q",
            "query_unrecognised",
            _("Enter a KPJ (11 characters), NIK (16 digits), passport number, phone number or name."),
        )
    return [QueryKind("name", key)]
