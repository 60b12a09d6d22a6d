"""Helpers for writing import files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

MEMBER_HEADER = [
    "kpj", "nik", "name", "birth_date", "sex", "phone_id", "phone_abroad", "email", "passport",
    "placement_country", "placement_city", "phase", "programs", "membership_status", "scheme",
]  # fmt: skip


def member_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "kpj": "26000000001",
        "nik": "3301015705900001",
        "name": "Siti Aminah",
        "birth_date": "1990-05-17",
        "sex": "F",
        "phone_id": "081234567890",
        "phone_abroad": "0912 345 678",  # local Taiwanese form: read in the placement country
        "email": "siti@example.com",
        "passport": "B1234567",
        "placement_country": "Taiwan",
        "placement_city": "Taichung",
        "phase": "PMI",
        "programs": "JKK;JKM",
        "membership_status": "active",
        "scheme": "P3MI",
    }
    row.update(overrides)
    return row


def write_csv(
    path: Path,
    rows: list[dict[str, Any]] | list[list[str]],
    header: list[str] | None = None,
    delimiter: str = ",",
) -> Path:
    header = header or MEMBER_HEADER
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row if isinstance(row, list) else [row.get(column, "") for column in header])
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture
def files(tmp_path: Path):  # type: ignore[no-untyped-def]
    class Files:
        def csv(self, name: str, rows, **kwargs):  # type: ignore[no-untyped-def]
            return write_csv(tmp_path / name, rows, **kwargs)

        def jsonl(self, name: str, rows):  # type: ignore[no-untyped-def]
            return write_jsonl(tmp_path / name, rows)

    return Files()
