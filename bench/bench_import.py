"""Benchmark: import 100,000 member rows (``flask records import``'s code path).

Run from the repository root::

    .venv/bin/python bench/bench_import.py                      # SQLite in a temp dir
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_import.py                  # … and PostgreSQL
    .venv/bin/python bench/bench_import.py --rows 20000         # smaller run

It generates a CSV of synthetic but realistic members (Indonesian names, NIKs that decode to
the birth date and sex, phones valid for the placement country, in the mixed formats exports
really contain) with about 1 % malformed rows of several kinds, then measures, in one run:

1. validate only: the same rows read and validated, no encryption and no database;
2. naive: one ORM object and one commit per row on a 2,000-row sample, extrapolated;
3. the real import (batched upsert, Fernet + HMAC per identifier, commit per batch);
4. the same file again (idempotent: every row unchanged, nothing written).

PostgreSQL runs happen in a private schema (``halopmi_bench``) that is dropped afterwards,
so pointing ``BENCH_DATABASE_URL`` at a shared database touches nothing else in it.
This is not a pytest test: it prints figures and asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import phonenumbers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.records.importer import default_workers, import_file  # noqa: E402
from app.records.models import Member  # noqa: E402
from app.records.schemas import MEMBER_COLUMNS, RowError, parse_member  # noqa: E402
from app.records.sync import FileSource, fingerprint  # noqa: E402
from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402
from config import TestingConfig  # noqa: E402

PG_SCHEMA = "halopmi_bench"

FEMALE = [
    "Siti",
    "Sri",
    "Dewi",
    "Nur",
    "Eka",
    "Rina",
    "Yuni",
    "Wati",
    "Lestari",
    "Fitri",
    "Ani",
    "Tri",
    "Rahayu",
    "Suryani",
    "Indah",
    "Ratna",
    "Nurhayati",
    "Sumiati",
    "Kartini",
    "Puji",
    "Ayu",
    "Dian",
]
MALE = [
    "Budi",
    "Agus",
    "Joko",
    "Ahmad",
    "Muhammad",
    "Slamet",
    "Eko",
    "Dedi",
    "Hendra",
    "Rudi",
    "Bambang",
    "Wahyu",
    "Andi",
    "Yusuf",
    "Hadi",
    "Arif",
    "Iwan",
    "Teguh",
    "Sugeng",
    "Fajar",
]
FAMILY = [
    "Aminah",
    "Wulandari",
    "Rahmawati",
    "Setiawan",
    "Susanto",
    "Hidayat",
    "Saputra",
    "Kurniawan",
    "Handayani",
    "Purnamasari",
    "Nugroho",
    "Pratama",
    "Ma'ruf",
    "Sulistyowati",
    "Hasanah",
    "Maulana",
    "Sutrisno",
    "Permatasari",
    "Wijaya",
    "Suharti",
    "Lubis",
    "Nasution",
    "Siregar",
    "Sembiring",
]
# (NIK province code, province, regencies, weight): the big PMI-sending provinces.
PROVINCES = [
    ("33", "Jawa Tengah", ["Cilacap", "Kendal", "Brebes", "Banyumas"], 25),
    ("35", "Jawa Timur", ["Ponorogo", "Blitar", "Malang", "Tulungagung"], 25),
    ("32", "Jawa Barat", ["Indramayu", "Cirebon", "Subang", "Karawang"], 20),
    ("52", "Nusa Tenggara Barat", ["Lombok Timur", "Lombok Tengah", "Sumbawa"], 15),
    ("18", "Lampung", ["Lampung Timur", "Lampung Tengah"], 8),
    ("12", "Sumatera Utara", ["Deli Serdang", "Asahan"], 4),
    ("51", "Bali", ["Buleleng", "Karangasem"], 3),
]
# (ISO, country name as exports write it, cities, national mobile number pattern, weight)
COUNTRIES = [
    ("TW", "Taiwan", ["Taipei", "Taichung", "Kaohsiung", "Taoyuan"], "9########", 32),
    ("MY", "Malaysia", ["Kuala Lumpur", "Johor Bahru", "Penang", "Kota Kinabalu"], "1#########", 25),
    ("HK", "Hong Kong", ["Hong Kong", "Kowloon", "Sha Tin"], "[569]#######", 24),
    ("KR", "Korea Selatan", ["Seoul", "Busan", "Ansan"], "10########", 5),
    ("JP", "Japan", ["Tokyo", "Osaka", "Nagoya"], "[789]0########", 4),
    ("SG", "Singapore", ["Singapore"], "[89]#######", 3),
    ("SA", "Saudi Arabia", ["Riyadh", "Jeddah", "Dammam"], "5########", 3),
    ("IT", "IT", ["Milano", "Roma"], "3#########", 1),
    ("BN", "Brunei", ["Bandar Seri Begawan"], "[78]######", 1),
]
AGENCIES = ["PT Bima Jaya Abadi", "PT Sukses Mandiri Utama", "PT Graha Ayu Karsa", "PT Mitra Sinar Harapan"]
EMPLOYERS = [
    "Chen Family",
    "Lee Household",
    "Wong Residence",
    "Formosa Plastics",
    "Daejin Co.",
    "Tanaka Care Home",
]


def _digits(rng: random.Random, pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(rng.choice(pattern[i + 1 : end]))
            i = end + 1
            continue
        out.append(str(rng.randint(0, 9)) if pattern[i] == "#" else pattern[i])
        i += 1
    return "".join(out)


def mobile(rng: random.Random, country: str, pattern: str) -> str:
    """A valid mobile number for ``country`` in E.164 (retrying random digits until valid)."""
    code = phonenumbers.country_code_for_region(country)
    while True:
        national = _digits(rng, pattern)
        number = phonenumbers.parse(f"+{code}{national}")
        if phonenumbers.is_valid_number(number):
            return f"+{code}{national}"


def written_like_exports(rng: random.Random, e164: str, country: str) -> str:
    """The same number as a person or a spreadsheet writes it: E.164, 00…, or local."""
    style = rng.random()
    if style < 0.6:
        return e164
    if style < 0.75:
        return "00" + e164[1:]
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _weighted(rng: random.Random, items: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(items, weights=[item[-1] for item in items])[0]


def member_row(rng: random.Random, index: int, today: date) -> dict[str, str]:
    sex = "F" if rng.random() < 0.7 else "M"
    name = f"{rng.choice(FEMALE if sex == 'F' else MALE)} {rng.choice(FAMILY)}"
    born = date(rng.randint(1975, 2004), rng.randint(1, 12), rng.randint(1, 28))
    code, province, regencies, _ = _weighted(rng, PROVINCES)
    iso, country_name, cities, pattern, _ = _weighted(rng, COUNTRIES)
    day = born.day + (40 if sex == "F" else 0)
    nik = f"{code}{rng.randint(1, 30):02d}{rng.randint(1, 30):02d}{day:02d}{born.month:02d}{born.year % 100:02d}{rng.randint(1, 9999):04d}"
    start = today - timedelta(days=rng.randint(0, 700))
    end = start + timedelta(days=rng.choice([365, 730, 1095]))
    phase = rng.choices(["CPMI", "PMI", "PURNA"], weights=[8, 80, 12])[0]
    programs = ["JKK", "JKM"] + (["JHT"] if rng.random() < 0.25 else [])
    abroad = mobile(rng, iso, pattern)
    return {
        "kpj": f"{index:011d}",
        "nik": nik,
        "name": name,
        "birth_date": born.isoformat() if rng.random() < 0.8 else born.strftime("%d/%m/%Y"),
        "sex": sex if rng.random() < 0.9 else ("P" if sex == "F" else "L"),
        "phone_id": written_like_exports(
            rng, mobile(rng, "ID", "8[1257]#########"[: rng.choice([14, 15, 16])]), "ID"
        ),
        "phone_abroad": written_like_exports(rng, abroad, iso),
        "email": f"{name.split()[0].lower()}.{index}@example.com" if rng.random() < 0.5 else "",
        "passport": f"{rng.choice('BCEXA')}{rng.randint(1000000, 9999999)}",
        "home_province": province,
        "home_regency": rng.choice(regencies),
        "placement_country": country_name,
        "placement_city": rng.choice(cities),
        "employer": rng.choice(EMPLOYERS),
        "placement_agency": rng.choice(AGENCIES),
        "scheme": rng.choices(["P3MI", "G2G", "PERSEORANGAN"], weights=[85, 8, 7])[0],
        "contract_start": start.isoformat(),
        "contract_end": end.isoformat(),
        "phase": phase,
        "programs": ";".join(programs),
        "membership_status": "active",
        "coverage": "",
        "preferred_language": "id" if rng.random() < 0.9 else "en",
        "bank_name": rng.choice(["BRI", "BNI", "Mandiri", "BCA"]),
        "bank_account": str(rng.randint(10**9, 10**12)),
    }


def _break(rng: random.Random, row: dict[str, str]) -> tuple[dict[str, str] | list[str], str]:
    """One realistic defect; returns the row (or raw cells) and the defect's name."""
    kind = rng.choice(["kpj", "nik_date", "phone", "date", "country", "program", "email", "columns", "order"])
    if kind == "kpj":
        row["kpj"] = row["kpj"][:10]
    elif kind == "nik_date":
        row["nik"] = row["nik"][:6] + "35" + row["nik"][8:]  # day 35: neither a man's nor a woman's
    elif kind == "phone":
        row["phone_abroad"] = "12345"
    elif kind == "date":
        row["birth_date"] = "31/02/1990"
    elif kind == "country":
        row["placement_country"] = "Atlantis"
    elif kind == "program":
        row["programs"] = "JKK;JKN"
    elif kind == "email":
        row["email"] = "siti at example.com"
    elif kind == "columns":
        return list(row.values())[:7], kind
    else:
        row["contract_end"] = "2020-01-01"
        row["contract_start"] = "2021-01-01"
    return row, kind


def generate(path: Path, rows: int, seed: int = 20260301) -> int:
    """Write ``rows`` members (about 1 % malformed) to ``path``; return the malformed count."""
    rng = random.Random(seed)
    today = date(2026, 3, 1)
    broken = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(MEMBER_COLUMNS)
        for index in range(1, rows + 1):
            row = member_row(rng, 26_000_000_000 + index, today)
            if rng.random() < 0.01:
                data, _kind = _break(rng, row)
                broken += 1
                writer.writerow(data if isinstance(data, list) else [data[c] for c in MEMBER_COLUMNS])
            else:
                writer.writerow([row[c] for c in MEMBER_COLUMNS])
    return broken


def make_app(url: str):  # type: ignore[no-untyped-def]
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"options": f"-csearch_path={PG_SCHEMA}"}
    return create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=options, REDIS_URL=None
    )


_cpu_used = 0.0


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the validation workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``fn()`` (CPU seconds land in ``_cpu_used``: a shared box is noisy)."""
    global _cpu_used
    started, cpu = time.perf_counter(), _cpu()
    result = fn()
    _cpu_used = _cpu() - cpu
    return time.perf_counter() - started, result


def validate_only(path: Path) -> tuple[int, int]:
    valid = invalid = 0
    for row in FileSource(path).records():
        if row.error:
            invalid += 1
            continue
        try:
            parsed = parse_member(row.data)
        except RowError:
            invalid += 1
            continue
        fingerprint("members", parsed.values)
        valid += 1
    return valid, invalid


def naive(path: Path, sample: int) -> int:
    """One ORM object and one commit per row: what a first draft of an importer does."""
    done = 0
    for row in FileSource(path).records():
        if done >= sample:
            break
        try:
            parsed = parse_member(row.data)
        except RowError:
            continue
        db.session.add(Member(**parsed.values))  # @validates computes the hashes one by one
        db.session.commit()
        done += 1
    return done


def run(label: str, url: str, csv_path: Path, rows: int, sample: int, workers: int | None) -> list[Row]:
    app = make_app(url)
    out: list[Row] = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        print(f"\n== {label} ({db.engine.dialect.name}) ==")

        validate_seconds, (valid, invalid) = timed(lambda: validate_only(csv_path))
        print(
            f"validate only (no crypto, no DB): {validate_seconds:6.2f} s  {rows / validate_seconds:9,.0f} rows/s  "
            f"valid {valid:,} invalid {invalid:,}  (CPU {_cpu_used:.1f} s)"
        )

        naive_seconds, done = timed(lambda: naive(csv_path, sample))
        naive_rate = done / naive_seconds
        print(
            f"naive ORM, commit per row ({done:,} rows): {naive_seconds:6.2f} s  {naive_rate:9,.0f} rows/s  "
            f"→ {rows / naive_rate:,.0f} s extrapolated to {rows:,}"
        )
        db.session.execute(text("DELETE FROM members"))
        db.session.commit()

        report_path = csv_path.with_name(f"{label}.rejects.csv")
        parallel = default_workers(csv_path) if workers is None else workers
        for count in dict.fromkeys((0, parallel)):  # one process, then as `flask records import` would
            db.session.execute(text("DELETE FROM members"))
            db.session.commit()
            seconds, (report, _path) = timed(
                lambda count=count: import_file(
                    csv_path, report_path=report_path, on_batch=db.session.commit, workers=count
                )
            )
            db.session.commit()
            stored = db.session.scalar(select(func.count(Member.id)))
            print(
                f"import, {count} validation worker(s): {seconds:6.2f} s  {report.read / seconds:9,.0f} rows/s  "
                f"read {report.read:,}  accepted {report.accepted:,} (created {report.created:,})  "
                f"rejected {report.rejected:,}  stored {stored:,}  (CPU {_cpu_used:.1f} s, all processes)"
            )
            print(
                f"    {rows / naive_rate / seconds:,.0f}× faster than naive (extrapolated); "
                f"{seconds / validate_seconds:.1f}× the validate-only time"
            )
            out.append(
                Row(
                    f"import members, {label}, {count} validation workers (rows/s)",
                    report.read / seconds,
                    naive_rate,
                    f"{rows:,} rows",
                    f"baseline: naive ORM, a commit per row ({done:,}-row sample); CPU {_cpu_used:.1f} s; {common.machine()}",
                )
            )

        seconds, (again, _path) = timed(
            lambda: import_file(
                csv_path, report_path=report_path, on_batch=db.session.commit, workers=parallel
            )
        )
        db.session.commit()
        print(
            f"re-import, {parallel} worker(s) (idempotent): {seconds:6.2f} s  {again.read / seconds:9,.0f} rows/s  "
            f"unchanged {again.unchanged:,}  created {again.created}  updated {again.updated}  (CPU {_cpu_used:.1f} s)"
        )
        out.append(
            Row(
                f"re-import members, {label}, all unchanged (rows/s)",
                again.read / seconds,
                rows / validate_seconds,
                f"{rows:,} rows",
                f"baseline: validate only (no crypto, no database); {parallel} workers; {common.machine()}",
            )
        )
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    return out


QUICK = {"rows": 5_000, "naive_sample": 500}
TABLE = {"rows": 10_000, "naive_sample": 500}  # run.py bench; the README's figures: 100,000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="validation processes for the import (default: as `flask records import`)",
    )


def measure(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="halopmi-bench-") as tmp:
        csv_path = Path(tmp) / "members.csv"
        seconds, broken = timed(lambda: generate(csv_path, args.rows))
        print(
            f"generated {args.rows:,} rows ({broken:,} malformed) in {seconds:.1f} s: "
            f"{csv_path.stat().st_size / 1e6:.1f} MB; cores available: {os.cpu_count()}"
        )
        rows += run("sqlite", f"sqlite:///{tmp}/bench.db", csv_path, args.rows, args.naive_sample, args.workers)

        url = os.environ.get("BENCH_DATABASE_URL")
        if url:
            from config import normalise_database_url

            url = normalise_database_url(url)
            admin = create_engine(url)
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
                connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
            try:
                rows += run("postgresql", url, csv_path, args.rows, args.naive_sample, args.workers)
            finally:
                with admin.begin() as connection:
                    connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
                admin.dispose()
    return rows


if __name__ == "__main__":
    common.main(sys.modules[__name__])
