"""Importing members and claims: validation, reporting, idempotency, updates, encryption at rest."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError

from app.core.crypto import blind_index
from app.records import sync
from app.records.importer import default_report_path, format_report, import_file
from app.records.models import Claim, Member
from app.records.services import find_members
from app.records.sync import SourceError
from tests.factories import make_member
from tests.records.conftest import member_row

CLAIM_HEADER = [
    "claim_number",
    "kpj",
    "program",
    "benefit_type",
    "incident_date",
    "status",
    "amount",
    "submitted_on",
    "channel",
    "missing_documents",
]


def claim_row(**overrides):
    row = {
        "claim_number": "JKK-2026-000001",
        "kpj": "26000000001",
        "program": "JKK",
        "benefit_type": "medical abroad",
        "incident_date": "02/03/2026",
        "status": "Documents incomplete",
        "amount": "Rp 12.500.000",
        "submitted_on": "2026-03-05",
        "channel": "embassy",
        "missing_documents": "medical_report;passport",
    }
    row.update(overrides)
    return row


def rejects(path):
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _import(path, **kwargs):
    from app.extensions import db

    report, written = import_file(path, **kwargs)
    db.session.commit()
    return report, written


def test_csv_members_are_created_with_normalised_values(db, files):
    path = files.csv("members.csv", [member_row()])
    report, _ = _import(path)
    assert (report.read, report.created, report.rejected) == (1, 1, 0)
    member = db.session.scalar(select(Member))
    assert member.phone_id == "+6281234567890"
    assert member.phone_abroad == "+886912345678"
    assert member.placement_country == "TW"
    assert member.birth_date == date(1990, 5, 17)
    assert member.programs == ["JKK", "JKM"]
    assert member.name_key == "siti aminah"
    assert member.nik_hash == blind_index("nik", "3301015705900001")
    assert member.phone_abroad_hash == blind_index("phone", "+886912345678")


def test_pii_is_encrypted_at_rest_and_found_by_hash(db, files):
    _import(files.csv("members.csv", [member_row()]))
    raw = db.session.execute(text("SELECT nik, passport, phone_abroad, email FROM members")).one()
    for stored, plain in zip(
        raw, ("3301015705900001", "B1234567", "+886912345678", "siti@example.com"), strict=True
    ):
        assert stored.startswith("gAAAAA")  # a Fernet token
        assert plain not in stored
    assert [m.member.kpj for m in find_members(nik="3301015705900001")] == ["26000000001"]
    assert [m.member.kpj for m in find_members(passport="B1234567")] == ["26000000001"]


def test_jsonl_members_are_imported(db, files):
    path = files.jsonl(
        "members.jsonl",
        [
            {
                "kpj": "26000000001",
                "name": "Siti Aminah",
                "programs": ["JKK", "JKM"],
                "placement_country": "HK",
                "phone_abroad": "+85291234567",
                "coverage": [{"program": "JKK", "start": "2026-01-01", "end": "2027-01-31"}],
            },
            {"kpj": "26000000002", "name": "Budi Santoso", "birth_date": "1988-01-02", "sex": "L"},
        ],
    )
    report, _ = _import(path)
    assert (report.created, report.rejected) == (2, 0)
    budi = db.session.scalar(select(Member).where(Member.kpj == "26000000002"))
    assert budi.sex == "M"
    siti = db.session.scalar(select(Member).where(Member.kpj == "26000000001"))
    assert siti.coverage == [{"program": "JKK", "start": "2026-01-01", "end": "2027-01-31"}]


def test_malformed_rows_are_reported_with_line_and_reason_and_good_rows_stay(db, files):
    path = files.csv(
        "members.csv",
        [
            member_row(kpj="26000000001"),
            member_row(kpj="123"),  # line 3
            member_row(kpj="26000000003", nik="3301013505900001"),  # line 4: day 35
            member_row(kpj="26000000004", phone_abroad="12345", placement_country="Atlantis"),  # line 5
            ["26000000005", "only", "three"],  # line 6: wrong column count
            member_row(kpj="26000000006", name="Dewi Lestari"),
        ],
    )
    report, written = _import(path)
    assert (report.read, report.created, report.rejected) == (6, 2, 4)
    assert db.session.scalar(select(Member.kpj).where(Member.kpj == "26000000006")) == "26000000006"
    rows = rejects(written)
    assert written == default_report_path(path)
    assert [(r["line"], r["key"]) for r in rows] == [
        ("3", "123"),
        ("4", "26000000003"),
        ("5", "26000000004"),
        ("6", "26000000005"),
    ]
    assert "KPJ" in rows[0]["reason"]
    assert rows[1]["code"] == "nik_date"
    assert "phone_abroad" in rows[2]["reason"] and "placement_country" in rows[2]["reason"]
    assert "columns" in rows[3]["reason"]
    summary = "\n".join(format_report(report, written))
    assert "line 3: 123" in summary and "4 rejected" in summary


def test_invalid_utf8_and_bad_json_lines_are_rejected_not_dropped(db, tmp_path):
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes(b"kpj,name\n26000000001,Siti\n26000000002,Jos\xe9\n")
    report, written = _import(csv_path)
    assert (report.created, report.rejected) == (1, 1)
    assert rejects(written)[0]["line"] == "3"

    jsonl_path = tmp_path / "broken.jsonl"
    jsonl_path.write_text('{"kpj": "26000000003", "name": "Ani"}\n{"kpj": "2600\n[1, 2]\n', encoding="utf-8")
    report, written = _import(jsonl_path)
    assert (report.created, report.rejected) == (1, 2)
    assert [r["line"] for r in rejects(written)] == ["2", "3"]


def test_reimport_of_the_same_file_is_unchanged_and_writes_nothing(db, files):
    path = files.csv(
        "members.csv", [member_row(), member_row(kpj="26000000002", nik="3301011705900002", sex="M")]
    )
    _import(path)
    before = db.session.execute(
        select(Member.kpj, Member.updated_at, Member.source_hash).order_by(Member.kpj)
    ).all()
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        statements.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        report, _ = _import(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 2, 0)
    assert "INSERT" not in statements and "UPDATE" not in statements
    db.session.expire_all()
    after = db.session.execute(
        select(Member.kpj, Member.updated_at, Member.source_hash).order_by(Member.kpj)
    ).all()
    assert after == before


def test_changed_row_is_updated_and_hashes_follow(db, files):
    _import(files.csv("v1.csv", [member_row()]))
    report, _ = _import(
        files.csv("v2.csv", [member_row(phone_abroad="+85291234567", placement_country="HK")])
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    db.session.expire_all()
    member = db.session.scalar(select(Member))
    assert member.phone_abroad == "+85291234567"
    assert member.placement_country == "HK"
    assert find_members(phone="+886912345678") == []
    assert [m.member.kpj for m in find_members(phone="+85291234567")] == ["26000000001"]


def test_duplicate_key_in_one_file_later_row_wins_and_is_reported(db, files):
    path = files.csv(
        "members.csv",
        [
            member_row(name="Siti Aminah"),
            member_row(kpj="26000000002", nik="3301011705900002", sex="M", name="Budi"),
            member_row(name="Siti Aminah Binti Sukri"),  # line 4: same KPJ as line 2
        ],
    )
    report, _ = _import(path, batch_size=1000)
    assert (report.created, report.updated) == (2, 1)
    assert [(d.line, d.key, d.first_line) for d in report.duplicates] == [(4, "26000000001", 2)]
    assert (
        db.session.scalar(select(Member.name).where(Member.kpj == "26000000001")) == "Siti Aminah Binti Sukri"
    )
    assert "more than once" in "\n".join(format_report(report))


def test_small_batches_give_the_same_result(db, files):
    rows = [member_row(kpj=f"2600000000{i}", nik=f"330101570590000{i}") for i in range(1, 8)]
    report, _ = _import(files.csv("members.csv", rows), batch_size=2)
    assert (report.created, report.rejected) == (7, 0)
    assert db.session.scalar(select(Member.id).where(Member.kpj == "26000000007")) is not None


def test_warnings_are_counted_but_rows_imported(db, files):
    path = files.csv(
        "members.csv", [member_row(kpj="AB123456789", passport="12345678", birth_date="1991-05-17")]
    )
    report, _ = _import(path)
    assert report.created == 1
    assert report.warnings == {"kpj_not_numeric": 1, "passport_unusual": 1, "nik_birth_date_mismatch": 1}


def test_semicolon_csv_with_bom_is_read(db, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffkpj;name;birth_date\n26000000001;Siti Aminah;17/05/1990\n".encode())
    report, _ = _import(path)
    assert report.created == 1
    assert db.session.scalar(select(Member.birth_date)) == date(1990, 5, 17)


def test_missing_required_column_fails_the_whole_file(db, files):
    path = files.csv("members.csv", [["Siti"]], header=["name"])
    with pytest.raises(SourceError, match="kpj"):
        import_file(path)


def test_claims_are_detected_by_header_and_upserted(db, files):
    member = make_member(kpj="26000000001")
    path = files.csv("claims.csv", [claim_row()], header=CLAIM_HEADER)
    report, _ = _import(path)
    assert (report.kind, report.created, report.rejected) == ("claims", 1, 0)
    claim = db.session.scalar(select(Claim))
    assert claim.member_id == member.id
    assert claim.status == "documents_incomplete"
    assert claim.amount == 12_500_000
    assert claim.incident_date == date(2026, 3, 2)
    assert claim.benefit_type == "medical_abroad"
    assert claim.missing_documents == ["medical_report", "passport"]

    again, _ = _import(
        files.csv("claims2.csv", [claim_row(status="paid", amount="12500000")], header=CLAIM_HEADER)
    )
    assert (again.updated, again.unchanged) == (1, 0)
    db.session.expire_all()
    assert db.session.scalar(select(Claim.status)) == "paid"


def test_claim_for_unknown_kpj_is_rejected_with_that_reason(db, files):
    make_member(kpj="26000000001")
    path = files.csv(
        "claims.csv",
        [
            claim_row(),
            claim_row(claim_number="JKK-2026-000002", kpj="26000000999"),
            claim_row(claim_number="JKK-2026-000003", amount="12.5", status="lost"),
        ],
        header=CLAIM_HEADER,
    )
    report, written = _import(path)
    assert (report.created, report.rejected) == (1, 2)
    rows = rejects(written)  # in file order, whenever each was rejected
    assert (rows[0]["line"], rows[0]["key"], rows[0]["code"]) == ("3", "JKK-2026-000002", "unknown_kpj")
    assert "26000000999" in rows[0]["reason"]
    assert (rows[1]["line"], rows[1]["code"]) == ("4", "invalid_fields")  # rejected while validating
    assert "amount" in rows[1]["reason"] and "status" in rows[1]["reason"]


def test_kind_option_overrides_detection(db, files):
    path = files.csv("claims.csv", [claim_row()], header=CLAIM_HEADER)
    with pytest.raises(SourceError, match="name"):
        import_file(path, kind="members")


def test_database_refusal_rejects_only_the_offending_row(db, files, monkeypatch):
    original = sync._Batcher._write

    def flaky(self, batch):
        if any(item.row.key == "26000000002" for item in batch):
            raise IntegrityError(
                "INSERT …", {}, Exception("UNIQUE constraint failed: members.kpj\nDETAIL: secret")
            )
        return original(self, batch)

    monkeypatch.setattr(sync._Batcher, "_write", flaky)
    rows = [member_row(kpj=f"2600000000{i}", nik=f"330101570590000{i}") for i in range(1, 4)]
    report, written = _import(files.csv("members.csv", rows))
    assert (report.created, report.rejected) == (2, 1)
    rejection = rejects(written)[0]
    assert (rejection["line"], rejection["code"]) == ("3", "database")
    assert "secret" not in rejection["reason"]  # only the driver's first line: no echoed values


@pytest.mark.slow
def test_worker_processes_give_the_same_result(db, files):
    rows = [member_row(kpj=f"260000000{i:02d}", nik=f"33010157059000{i:02d}") for i in range(1, 30)]
    rows.append(member_row(kpj="bad"))
    # A refusal whose message a validator wrote (a lazy string): a worker has no Flask-Babel to
    # ask whether it is empty (`make bench`'s import, 1 % malformed rows, died of KeyError 'babel').
    rows.append(member_row(kpj="26000000099", nik="3301015705900099", programs="JKK;JKN"))
    report, written = _import(files.csv("members.csv", rows), workers=1)
    assert (report.created, report.rejected) == (29, 2)
    refused = rejects(written)
    assert [r["line"] for r in refused] == ["31", "32"]
    assert (refused[1]["code"], refused[1]["reason"]) == ("not_allowed", "programs: Must be one of: JKK, JKM, JHT.")
    assert db.session.scalar(select(Member.nik_hash).where(Member.kpj == "26000000001")) == blind_index(
        "nik", "3301015705900001"
    )


def test_file_source_is_a_membership_source_and_filters_by_updated_at(tmp_path):
    from datetime import UTC, datetime

    from app.records.sources import FileSource, MembershipSource

    path = tmp_path / "members.jsonl"
    path.write_text(
        '{"kpj": "26000000001", "name": "Old", "updated_at": "2026-01-01T00:00:00+00:00"}\n'
        '{"kpj": "26000000002", "name": "New", "updated_at": "2026-03-01T00:00:00+00:00"}\n'
        '{"kpj": "26000000003", "name": "No stamp"}\n',
        encoding="utf-8",
    )
    source: MembershipSource = FileSource(path)
    since = datetime(2026, 2, 1, tzinfo=UTC)
    assert [row.data["kpj"] for row in source.members(since=since)] == ["26000000002", "26000000003"]
    assert list(source.claims()) == []


def test_line_numbers_count_physical_lines_when_a_field_spans_two(db, tmp_path):
    path = tmp_path / "members.csv"
    path.write_text('kpj,name\n26000000001,"Siti\nAminah"\nbad,Budi\n', encoding="utf-8")
    report, written = _import(path)
    assert (report.created, report.rejected) == (1, 1)
    assert rejects(written)[0]["line"] == "4"
