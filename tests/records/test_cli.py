"""``flask records import`` end to end through Flask's CLI runner."""

from __future__ import annotations

from sqlalchemy import func, select

from app.records.cli import EXIT_ROWS_REJECTED
from app.records.models import Member
from tests.records.conftest import member_row


def test_cli_imports_and_reports_rejects(app, db, files, tmp_path):
    path = files.csv(
        "members.csv",
        [member_row(), member_row(kpj="26000000002", nik="3301011705900002", sex="M"), member_row(kpj="bad")],
    )
    report = tmp_path / "out" / "rejects.csv"
    result = app.test_cli_runner().invoke(args=["records", "import", str(path), "--report", str(report)])
    assert result.exit_code == EXIT_ROWS_REJECTED, result.output  # imported, but not every row
    assert "3 read, 2 created, 0 updated, 0 unchanged, 1 rejected" in result.output
    assert "line 4: bad: kpj:" in result.output
    assert "Warnings" not in result.output
    assert report.read_text(encoding="utf-8").splitlines()[1].startswith("4,bad,kpj_format,")
    assert report.read_text(encoding="utf-8").splitlines()[0] == "line,key,code,reason,row"
    assert db.session.scalar(select(func.count(Member.id))) == 2


def test_cli_second_run_reports_unchanged(app, db, files):
    path = files.csv("members.csv", [member_row()])
    runner = app.test_cli_runner()
    runner.invoke(args=["records", "import", str(path)])
    result = runner.invoke(args=["records", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 read, 0 created, 0 updated, 1 unchanged, 0 rejected" in result.output
    assert (path.parent / "members.csv.rejects.csv").exists()


def test_cli_missing_file_is_a_clean_error(app, db, tmp_path):
    result = app.test_cli_runner().invoke(args=["records", "import", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1
    assert "File not found" in result.output
    assert "Traceback" not in result.output


def test_cli_kind_claims_on_a_member_file_is_refused(app, db, files):
    path = files.csv("members.csv", [member_row()])
    result = app.test_cli_runner().invoke(args=["records", "import", str(path), "--kind", "claims"])
    assert result.exit_code != 0
    assert "claim_number" in result.output


def test_import_help_lists_the_columns_and_the_exit_statuses(app):
    result = app.test_cli_runner().invoke(args=["records", "import", "--help"])
    text = " ".join(result.output.split())
    assert "kpj (required)" in text and "name (required)" in text and "bank_account" in text
    assert "claim_number (required)" in text and "missing_documents" in text
    assert f"{EXIT_ROWS_REJECTED} imported, but some rows were rejected" in text
