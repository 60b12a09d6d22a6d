"""The validation models (pydantic, app.core.schemas): messages, error shape, bad input as 4xx."""

from __future__ import annotations

import pytest

from app.core.schemas import validate
from app.records.schemas import RowError, parse_claim
from app.sla.schemas import PolicyForm, read_form
from app.telephony.clicktocall import CallbackRefused, validate_callback
from app.tickets.schemas import validate_complaint, validate_rating

COMPLAINT = {
    "name": "Siti Aminah",
    "phone": "9123 4567",
    "country": "hk",
    "category": "claim_jkm",
    "description": "My husband died at work; how do I claim?",
}


def test_messages_are_translated_when_shown_in_the_request_language(app):
    for language, expected in (("en", "Please enter your name."), ("id", "Silakan masukkan nama Anda.")):
        # Flask-Babel keeps the locale for an application context: one per request, as in production.
        with app.app_context(), app.test_request_context(headers={"Accept-Language": language}):
            assert validate_complaint({**COMPLAINT, "name": " "}).errors == {"name": expected}


def test_outside_a_request_the_english_source_is_used(app):
    assert validate_complaint({**COMPLAINT, "name": 42}).errors == {"name": "Must be text."}


def test_a_valid_complaint_is_normalised(app):
    result = validate_complaint(COMPLAINT)
    assert result.ok and result.clean["phone"] == "+85291234567" and result.clean["country"] == "HK"
    assert result.clean["language"] == "id" and "kpj" not in result.clean


@pytest.mark.parametrize("score", ["²", True, 5.5, 6.0, None, "6", "0"])
def test_a_rating_that_is_not_1_to_5_is_a_field_error(app, score):
    assert set(validate_rating({"score": score}).errors) == {"score"}


def test_a_rating_of_5_0_is_5(app):
    """5.0 is an integer to JSON Schema, so the document allows it: it is read as 5."""
    assert validate_rating({"score": 5.0}).clean["score"] == 5


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"preferred_window": {"start": "18:00", "end": "21:00", "timezone": 5}}, "preferred_window", "invalid_window"),
        ({"preferred_window": {"start": "١٨:٠٠", "end": "21:00"}}, "preferred_window", "invalid_window"),
        ({"kpj": "١٢٣٤٥٦٧٨٩٠١"}, "kpj", "invalid_kpj"),
        ({"nik": "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦"}, "nik", "invalid_nik"),
        ({"topic": False}, "topic", "unknown_topic"),
    ],
)
def test_callback_input_that_used_to_500_or_slip_through_is_refused_with_a_reason(app, body, field, code):
    with pytest.raises(CallbackRefused) as refused:
        validate_callback({"phone": "+85291234567", **body})
    assert refused.value.fields == {field: code}


def test_callback_blank_topic_and_language_mean_the_defaults(app):
    values = validate_callback({"phone": "+85291234567", "topic": "", "language": None})
    assert (values["topic"], values["language"], values["timezone"]) == ("other", "id", "Asia/Hong_Kong")


@pytest.mark.parametrize("raw", ["99999999999", "²", "x"])
def test_an_sla_choice_id_that_no_row_can_have_is_a_field_error(db, raw):
    form = {"name": "P", "position": "1", "warn_percent": "50", "first_response_minutes": "30",
            "resolution_minutes": "60", "calendar_id": raw, "escalate_to_id": raw}  # fmt: skip
    errors = validate(PolicyForm, form, read=read_form).errors
    assert errors == {"calendar_id": "Choose one of the calendars.", "escalate_to_id": "Choose an active supervisor."}


def test_a_record_reports_every_field_in_order_with_codes(app):
    with pytest.raises(RowError) as rejected:
        parse_claim({"claim_number": "c-1", "kpj": "", "program": "XYZ", "benefit_type": "x", "status": "paid",
                     "amount": "12.5", "submitted_on": "2026-03-05", "decided_on": "2026-03-01"})  # fmt: skip
    assert [(e.field, e.code) for e in rejected.value.errors] == [
        ("kpj", "required"),
        ("program", "not_allowed"),
        ("amount", "amount"),
        ("decided_on", "date_order"),
    ]
    assert rejected.value.key == "C-1" and rejected.value.code == "invalid_fields"
