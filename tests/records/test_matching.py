"""Linking identifiers to members: confidence, conflicts, shared phones, names."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from app.records.identifiers import IdentifierError
from app.records.services import find_members, member_summary, search_by_name, search_members
from tests.factories import make_claim, make_member


def _summary(matches):
    return [(m.member.kpj, m.confidence, m.reasons) for m in matches]


def test_kpj_match_is_exact(db):
    member = make_member(kpj="11111111111")
    make_member()
    assert _summary(find_members(kpj="1111 1111 111")) == [(member.kpj, "exact", ["kpj"])]


def test_nik_match_is_exact_through_the_hash_column(db):
    member = make_member(nik="3201015705900123")
    assert _summary(find_members(nik="3201015705900123")) == [(member.kpj, "exact", ["nik"])]


@pytest.mark.committed  # counts the statements sent: no SAVEPOINT among them
def test_nik_lookup_never_decrypts_the_table(db, app):
    make_member(nik="3201015705900123")
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        find_members(nik="3201015705900123")
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    lookup = statements[0]
    assert "nik_hash" in lookup[0]
    assert "3201015705900123" not in str(lookup[1])  # only the keyed hash goes to the database


def test_passport_match_is_exact(db):
    member = make_member(passport="B7654321")
    assert _summary(find_members(passport="b7654321")) == [(member.kpj, "exact", ["passport"])]


def test_phone_match_is_probable(db):
    member = make_member(phone_abroad="+886912345678")
    assert _summary(find_members(phone="+886 912 345 678")) == [(member.kpj, "probable", ["phone"])]


def test_indonesian_phone_in_local_form_matches(db):
    member = make_member(phone_id="+6281234567890", phone_abroad=None)
    assert _summary(find_members(phone="0812-3456-7890")) == [(member.kpj, "probable", ["phone"])]


def test_phone_shared_by_two_members_returns_both_as_probable(db):
    first = make_member(phone_abroad="+85261234567", name="Siti Aminah", name_key="siti aminah")
    second = make_member(
        phone_id="+85261234567", phone_abroad=None, name="Dewi Lestari", name_key="dewi lestari"
    )
    matches = find_members(phone="+852 6123 4567")
    assert {m.member.id for m in matches} == {first.id, second.id}
    assert {m.confidence for m in matches} == {"probable"}


def test_kpj_and_phone_of_the_same_member_rank_it_first(db):
    member = make_member(kpj="22222222222", phone_abroad="+85261234567")
    other = make_member(phone_abroad="+85261234567")
    matches = find_members(kpj="22222222222", phone="+85261234567")
    assert _summary(matches)[0] == (member.kpj, "exact", ["kpj", "phone"])
    assert _summary(matches)[1] == (other.kpj, "probable", ["phone"])


def test_agreeing_kpj_and_nik_stay_exact(db):
    member = make_member(kpj="33333333333", nik="3201015705900555")
    assert _summary(find_members(kpj="33333333333", nik="3201015705900555")) == [
        (member.kpj, "exact", ["kpj", "nik"])
    ]


def test_contradictory_kpj_and_nik_return_both_as_probable_conflict(db):
    by_kpj = make_member(kpj="44444444444", nik="3201015705900666")
    by_nik = make_member(kpj="55555555555", nik="3201015705900777")
    matches = find_members(kpj="44444444444", nik="3201015705900777")
    assert sorted(_summary(matches)) == sorted(
        [(by_kpj.kpj, "probable", ["kpj", "conflict"]), (by_nik.kpj, "probable", ["nik", "conflict"])]
    )


def test_unknown_kpj_with_known_nik_is_not_a_conflict(db):
    member = make_member(nik="3201015705900888")
    assert _summary(find_members(kpj="99999999999", nik="3201015705900888")) == [
        (member.kpj, "exact", ["nik"])
    ]


def test_name_and_birth_date_is_probable(db):
    member = make_member(name="Siti Aminah", name_key="siti aminah", birth_date=date(1990, 5, 17))
    make_member(name="Siti Aminah", name_key="siti aminah", birth_date=date(1985, 1, 2))
    assert _summary(find_members(name="SITI  Aminah", birth_date=date(1990, 5, 17))) == [
        (member.kpj, "probable", ["name", "birth_date"])
    ]


def test_members_are_deduplicated_across_identifiers(db):
    member = make_member(kpj="66666666666", passport="B1111111", phone_abroad="+85291234567")
    matches = find_members(kpj="66666666666", passport="B1111111", phone="+85291234567")
    assert len(matches) == 1
    assert matches[0].member.id == member.id
    assert matches[0].reasons == ["kpj", "passport", "phone"]


def test_nothing_given_finds_nothing(db):
    make_member()
    assert find_members() == []


def test_malformed_identifier_raises_unless_lenient(db):
    make_member(phone_abroad="+85291234567")
    with pytest.raises(IdentifierError):
        find_members(nik="123")
    assert _summary(find_members(nik="123", phone="+85291234567", lenient=True))[0][1] == "probable"


def test_name_search_prefers_prefix_and_respects_limit(db):
    make_member(name="Aminah Siti", name_key="aminah siti")
    make_member(name="Siti Aminah", name_key="siti aminah")
    make_member(name="Nur Aminah", name_key="nur aminah")
    found = search_by_name("Aminah", limit=2)
    assert [m.name_key for m in found] == ["aminah siti", "nur aminah"]


def test_search_box_merges_kpj_and_phone_readings(db):
    by_kpj = make_member(kpj="08123456789")
    by_phone = make_member(phone_id="+628123456789", phone_abroad=None)
    result = search_members("08123456789")
    assert [r.kind for r in result.readings] == ["kpj", "phone"]
    assert _summary(result.matches) == [(by_kpj.kpj, "exact", ["kpj"]), (by_phone.kpj, "probable", ["phone"])]


def test_member_summary_lists_claims_and_active_coverage(db):
    member = make_member(
        coverage=[
            {"program": "JKK", "start": "2026-01-01", "end": "2027-12-31"},
            {"program": "JHT", "start": "2020-01-01", "end": "2021-01-01"},
        ]
    )
    make_claim(member, status="paid", incident_date=date(2025, 1, 1))
    open_claim = make_claim(member, status="documents_incomplete", missing_documents=["passport"])
    summary = member_summary(member, today=date(2026, 3, 1))
    assert summary.active_programs == ["JKK"]
    assert [c.claim_number for c in summary.claims][0] == open_claim.claim_number
    assert [c.status for c in summary.open_claims] == ["documents_incomplete"]
    assert summary.to_dict()["claims"][0]["missing_documents"] == ["passport"]


def test_member_summary_estimates_pmi_cover_from_the_contract(db):
    member = make_member(
        phase="PMI",
        coverage=[],
        programs=["JKK", "JKM"],
        contract_start=date(2025, 1, 1),
        contract_end=date(2026, 2, 15),
    )
    summary = member_summary(member, today=date(2026, 3, 1))  # within the month to return
    assert summary.active_programs == ["JKK", "JKM"]
    assert all(window.estimated for window in summary.coverage)
