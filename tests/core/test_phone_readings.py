"""Phone numbers as people type them: every valid reading."""

from __future__ import annotations

from app.core.phone import PhoneReading, phone_readings


def test_country_code_without_plus():
    assert phone_readings("966551233048") == [PhoneReading("+966551233048", None)]


def test_spaces_dashes_and_double_zero():
    assert phone_readings("00966-55 123.3048") == [PhoneReading("+966551233048", None)]


def test_local_form_read_in_each_region():
    assert phone_readings("0812-3456-7890", ["ID"]) == [PhoneReading("+6281234567890", "ID")]
    assert phone_readings("0912 345 678", ["HK", "TW"]) == [PhoneReading("+886912345678", "TW")]


def test_nothing_valid():
    assert phone_readings("12") == []
    assert phone_readings("abc") == []
    assert phone_readings("+12") == []
