"""How source systems write values: country names, dates, rupiah amounts, lists, aliases.

Pure functions and tables used by the record models (:mod:`app.records.schemas`).
"""

from __future__ import annotations

import re
from datetime import date, datetime

import phonenumbers

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
ISO_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)

SEX = {
    "M": "M",
    "L": "M",
    "MALE": "M",
    "LAKI-LAKI": "M",
    "F": "F",
    "P": "F",
    "FEMALE": "F",
    "PEREMPUAN": "F",
}
PHASE_ALIASES = {"PURNA PMI": "PURNA", "PURNA_PMI": "PURNA", "PURNAPMI": "PURNA"}
SCHEME_ALIASES = {
    "P-TO-P": "P3MI",
    "P2P": "P3MI",
    "G-TO-G": "G2G",
    "MANDIRI": "PERSEORANGAN",
    "INDIVIDUAL": "PERSEORANGAN",
}
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_AMOUNT_RE = re.compile(r"^\d{1,3}([.,\s]\d{3})+$|^\d+$")
_DMY_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


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
    if len(text) == 2 and text.upper() in ISO_COUNTRIES:
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



def split_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part.strip() for part in re.split(r"[;,|]", str(value)) if part.strip()]
