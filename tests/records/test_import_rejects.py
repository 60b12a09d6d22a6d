"""The rejects report carries each rejected row as it stands in the file, to fix and re-import."""

from __future__ import annotations

import csv
import io

from app.records.importer import import_file
from tests.records.conftest import member_row


def _report(path):
    with path.open(encoding="utf-8", newline="") as fh:  # UTF-8 even when the input was not
        return list(csv.DictReader(fh))


def _import(path):
    from app.extensions import db

    report, written = import_file(path)
    db.session.commit()
    return report, written


def test_csv_rejects_carry_the_original_row_even_unreadable_or_across_lines(db, files, tmp_path):
    good = member_row()
    header = ",".join(good)
    values = lambda row: ",".join(str(v) for v in row.values())  # noqa: E731
    bad_kpj = member_row(kpj="123")
    spanning = member_row(kpj="26000000009", nik="3301013505900001", employer="PT Two\nLines")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(good.keys())
    writer.writerow(good.values())  # line 2
    writer.writerow(bad_kpj.values())  # line 3
    writer.writerow(spanning.values())  # lines 4-5 (a quoted field with a newline), bad NIK date
    text.write("26000000005,only,three\n")  # line 6: wrong column count
    path = tmp_path / "members.csv"
    path.write_bytes(text.getvalue().encode() + b"26000000007,Jos\xe9\n")  # line 7: not UTF-8
    assert header in text.getvalue() and values(good) in text.getvalue()

    report, written = _import(path)
    assert report.rejected == 4
    rows = _report(written)
    assert [row["line"] for row in rows] == ["3", "4", "6", "7"]
    lines = text.getvalue().split("\n")
    assert rows[0]["row"] == lines[2]
    assert rows[1]["row"] == lines[3] + "\n" + lines[4]
    assert rows[2]["row"] == "26000000005,only,three"
    assert rows[3]["row"] == "26000000007,Jos\\xe9"  # the byte that is not UTF-8, shown


def test_jsonl_rejects_carry_the_original_line(db, tmp_path):
    path = tmp_path / "members.jsonl"
    path.write_text(
        '{"kpj": "26000000003", "name": "Ani"}\n{"kpj": "2600\n[1, 2]\n{"kpj": "123", "name": "Budi"}\n',
        encoding="utf-8",
    )
    report, written = _import(path)
    assert (report.created, report.rejected) == (1, 3)
    assert [(row["line"], row["row"]) for row in _report(written)] == [
        ("2", '{"kpj": "2600'),
        ("3", "[1, 2]"),
        ("4", '{"kpj": "123", "name": "Budi"}'),
    ]
