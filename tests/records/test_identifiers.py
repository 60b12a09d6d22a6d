"""Identifier validation and normalisation: KPJ, NIK, passport, phone, and the search box."""

from __future__ import annotations

from datetime import date

import pytest

from app.records.identifiers import (
    IdentifierError,
    classify_query,
    cross_check_nik,
    decode_nik,
    name_key,
    normalize_email,
    normalize_kpj,
    normalize_nik,
    normalize_passport,
    normalize_phone_number,
)


@pytest.mark.parametrize(
    ("raw", "expected", "warning"),
    [
        ("12345678901", "12345678901", None),
        (" 1234 5678 901 ", "12345678901", None),
        ("12345-678901", "12345678901", None),
        ("ab12345678c", "AB12345678C", "kpj_not_numeric"),
    ],
)
def test_valid_kpj_is_normalised(raw, expected, warning):
    checked = normalize_kpj(raw)
    assert checked.value == expected
    assert [w.code for w in checked.warnings] == ([warning] if warning else [])


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "kpj_empty"),
        (None, "kpj_empty"),
        ("1234567890", "kpj_format"),
        ("123456789012", "kpj_format"),
        ("1234567890!", "kpj_format"),
    ],
)
def test_invalid_kpj_is_rejected_with_a_stable_code(raw, code):
    with pytest.raises(IdentifierError) as info:
        normalize_kpj(raw)
    assert info.value.code == code
    assert info.value.field == "kpj"
    assert info.value.message


@pytest.mark.parametrize(
    ("nik", "born", "sex"),
    [
        ("3201011705900001", date(1990, 5, 17), "M"),
        ("3201015705900001", date(1990, 5, 17), "F"),  # day + 40: a woman
        ("3578014101050002", date(2005, 1, 1), "F"),
        ("3578017112990003", date(1999, 12, 31), "F"),
        ("3201012902000004", date(2000, 2, 29), "M"),  # 29 Feb exists in 2000
    ],
)
def test_nik_decodes_birth_date_and_sex(nik, born, sex):
    info = decode_nik(nik, today=date(2026, 3, 1))
    assert (info.birth_date, info.sex) == (born, sex)
    assert (info.province, info.regency, info.district, info.serial) == (
        nik[:2],
        nik[2:4],
        nik[4:6],
        nik[12:],
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("320101170590000", "nik_format"),  # 15 digits
        ("32010117059000012", "nik_format"),  # 17 digits
        ("32010117059000A1", "nik_format"),
        ("3201010005900001", "nik_date"),  # day 00
        ("3201013505900001", "nik_date"),  # day 35: neither a man's (1-31) nor a woman's (41-71)
        ("3201017205900001", "nik_date"),  # day 72 (a woman's 32nd)
        ("3201011713900001", "nik_date"),  # month 13
        ("3201013002900001", "nik_date"),  # 30 February
        ("3201017102900001", "nik_date"),  # 31 February for a woman (71 = 31 + 40)
        ("", "nik_empty"),
    ],
)
def test_impossible_nik_is_rejected(raw, code):
    with pytest.raises(IdentifierError) as info:
        normalize_nik(raw)
    assert info.value.code == code


def test_nik_with_unknown_province_only_warns():
    checked = normalize_nik("0001011705900001")
    assert checked.value == "0001011705900001"
    assert [w.code for w in checked.warnings] == ["nik_province"]


def test_nik_cross_check_agrees_with_matching_record():
    assert cross_check_nik("3201015705900001", date(1990, 5, 17), "F") == []


def test_nik_cross_check_warns_on_other_birth_date_and_sex():
    warnings = cross_check_nik("3201015705900001", date(1991, 5, 17), "M")
    assert {w.code for w in warnings} == {"nik_birth_date_mismatch", "nik_sex_mismatch"}


def test_nik_cross_check_ignores_missing_record_values():
    assert cross_check_nik("3201015705900001", None, None) == []


@pytest.mark.parametrize(
    ("raw", "expected", "unusual"),
    [
        ("B1234567", "B1234567", False),
        (" b 1234567 ", "B1234567", False),
        ("AB123456", "AB123456", True),
        ("123456", "123456", True),
        ("X12345678", "X12345678", True),
    ],
)
def test_valid_passport(raw, expected, unusual):
    checked = normalize_passport(raw)
    assert checked.value == expected
    assert bool(checked.warnings) is unusual


@pytest.mark.parametrize("raw", ["B1234", "B12345678901", "B12-34*567", ""])
def test_invalid_passport(raw):
    with pytest.raises(IdentifierError) as info:
        normalize_passport(raw)
    assert info.value.field == "passport"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("081234567890", None, "+6281234567890"),  # local Indonesian form
        ("0812-3456-7890", None, "+6281234567890"),
        ("+62 812 3456 7890", None, "+6281234567890"),
        ("0062812345678", None, "+62812345678"),
        ("+852 9123 4567", None, "+85291234567"),
        ("0912 345 678", "TW", "+886912345678"),  # a Taiwanese mobile written locally
        ("+60 12-345 6789", None, "+60123456789"),
    ],
)
def test_phone_normalises_to_e164(raw, region, expected):
    assert normalize_phone_number(raw, region).value == expected


@pytest.mark.parametrize(
    ("raw", "code"), [("", "phone_empty"), ("hello", "phone_unparseable"), ("12345", "phone_invalid")]
)
def test_invalid_phone(raw, code):
    with pytest.raises(IdentifierError) as info:
        normalize_phone_number(raw, field="phone_abroad")
    assert (info.value.code, info.value.field) == (code, "phone_abroad")


def test_email_domain_is_lowercased_and_garbage_rejected():
    assert normalize_email(" Siti.A@Example.COM ").value == "Siti.A@example.com"
    with pytest.raises(IdentifierError):
        normalize_email("siti at example.com")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Siti  Aminah", "siti aminah"),
        ("MA'RUF Amin", "maruf amin"),
        ("Sîti-Nur.Aminah", "siti nur aminah"),
        ("  ", ""),
    ],
)
def test_name_key(raw, expected):
    assert name_key(raw) == expected


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("3201015705900001", ["nik"]),
        ("12345678901", ["kpj"]),
        ("08123456789", ["kpj", "phone"]),  # 11 digits: a KPJ, and also an Indonesian mobile
        ("B1234567", ["passport"]),
        ("+852 9123 4567", ["phone"]),
        ("081234567890", ["phone"]),
        ("Siti Aminah", ["name"]),
    ],
)
def test_search_box_detects_identifier_kind(text, kinds):
    assert [reading.kind for reading in classify_query(text)] == kinds


@pytest.mark.parametrize("text", ["x", "12", "siti@example.com", "B12", "a" * 101, "3201013505900001"])
def test_search_box_rejects_unusable_input(text):
    with pytest.raises(IdentifierError):
        classify_query(text)


def test_a_kpj_starting_with_zeros_is_searched_as_a_kpj_too() -> None:
    kinds = {reading.kind: reading.value for reading in classify_query("00123456789")}
    assert kinds.get("kpj") == "00123456789"
