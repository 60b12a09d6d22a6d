"""``flask demo seed``: realistic synthetic data for the embedded default and for demos.

Members are spread over the placement countries in proportion to 2023 placements, with NIKs
consistent with birth date and sex, valid mobile numbers of their placement country, claims
in every status, and staff accounts whose generated passwords are kept in
``instance/demo-logins.txt`` (readable by the owner only) and printed on start.
Nothing here is real personal data.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import click
from flask import Blueprint, current_app
from sqlalchemy import func, select

from app.core.dbstats import refresh_planner_statistics
from app.core.phone import parse_phone
from app.core.time import utcnow
from app.demo_calls import seed_calls
from app.demo_history import seed_history
from app.demo_people import EMAIL_DOMAIN, SELF_SERVICE_CALLERS, mobile_number
from app.extensions import db
from app.records.models import CLAIM_STATUSES, Claim, Member
from app.staff.models import User

demo_cli = Blueprint("demo_cli", __name__, cli_group="demo")
demo_cli.cli.help = "Synthetic demo data for the embedded default.\n\nMembers, claims, staff accounts and weeks of case and call history."

# (ISO code, city, weight ≈ 2023 placements in thousands)
COUNTRIES = [
    ("TW", "Taipei", 83), ("TW", "Taichung", 0), ("MY", "Kuala Lumpur", 72), ("HK", "Hong Kong", 66),
    ("KR", "Ansan", 13), ("JP", "Osaka", 10), ("SG", "Singapore", 8), ("SA", "Riyadh", 6),
    ("IT", "Milan", 4), ("BN", "Bandar Seri Begawan", 3), ("TR", "Istanbul", 2), ("AE", "Dubai", 2),
    ("PL", "Warsaw", 1),
]
PROVINCES = [  # (NIK province code, name, regencies, weight)
    ("35", "Jawa Timur", ["Blitar", "Tulungagung", "Ponorogo", "Malang"], 68),
    ("33", "Jawa Tengah", ["Cilacap", "Kendal", "Brebes", "Banyumas"], 59),
    ("32", "Jawa Barat", ["Indramayu", "Cirebon", "Subang", "Cianjur"], 53),
    ("52", "Nusa Tenggara Barat", ["Lombok Timur", "Lombok Tengah", "Sumbawa"], 34),
    ("18", "Lampung", ["Lampung Timur", "Lampung Tengah"], 22),
    ("12", "Sumatera Utara", ["Deli Serdang", "Asahan"], 11),
    ("51", "Bali", ["Buleleng", "Karangasem"], 9),
]
FEMALE = ["Siti", "Sri", "Nur", "Dewi", "Wahyuni", "Yuliana", "Rina", "Lestari", "Eka", "Fitri",
          "Ani", "Sumiati", "Kartini", "Ayu", "Indah", "Susanti", "Rohmah", "Yanti", "Marlina", "Tuti"]
MALE = ["Agus", "Budi", "Joko", "Slamet", "Ahmad", "Eko", "Wahyu", "Dedi", "Rudi", "Hendra",
        "Yusuf", "Bayu", "Arif", "Imam", "Teguh"]
FAMILY = ["Rahayu", "Wulandari", "Hidayat", "Setiawan", "Purnomo", "Saputra", "Handayani",
          "Kurniawati", "Susilo", "Maulana", "Pratama", "Fauziah", "Anggraini", "Nugroho", "Lestari"]
EMPLOYERS = {"TW": "Chen Family", "HK": "Wong Household", "MY": "Ladang Sawit Sdn Bhd",
             "KR": "Daehan Manufacturing", "JP": "Osaka Care Co.", "SG": "Tan Household",
             "SA": "Al-Harbi Household", "IT": "Famiglia Rossi", "BN": "Haji Ali Household",
             "TR": "Yilmaz Tekstil", "AE": "Al Nahyan Household", "PL": "Polfarm Sp. z o.o."}
AGENCIES = ["PT Bina Karya Mandiri", "PT Duta Tenaga Kerja", "PT Sukses Abadi Jaya", "PT Citra Bakti Utama"]
BENEFITS = {"JKK": ["medical_abroad", "disability", "transport", "failed_departure", "scholarship"],
            "JKM": ["death_benefit", "funeral", "periodic"], "JHT": ["balance"]}
AMOUNTS = {"medical_abroad": 50_000_000, "disability": 120_000_000, "transport": 2_500_000,
           "failed_departure": 7_500_000, "scholarship": 48_000_000, "death_benefit": 85_000_000,
           "funeral": 3_000_000, "periodic": 4_800_000, "balance": 9_750_000}
STAFF = [("admin", "Admin Sistem", "admin"), ("supervisor", "Dewi Supervisor", "supervisor"),
         ("agent1", "Rina Agen", "agent"), ("agent2", "Budi Agen", "agent"),
         ("agent3", "Sari Agen", "agent"), ("agent4", "Yusuf Agen", "agent")]
# Languages each demo agent takes calls in (regional and host-country languages included).
SKILLS = {"supervisor": ["id", "en"], "agent1": ["id", "en"], "agent2": ["id", "jv"],
          "agent3": ["id", "en", "yue"], "agent4": ["id", "su"]}


@dataclass
class SeedReport:
    members: int = 0
    claims: int = 0
    staff: int = 0
    tickets: int = 0
    calls: int = 0


def make_nik(rng: random.Random, province: str, birth: date, sex: str) -> str:
    day = birth.day + (40 if sex == "F" else 0)
    return (
        f"{province}{rng.randint(1, 30):02d}{rng.randint(1, 40):02d}"
        f"{day:02d}{birth.month:02d}{birth.year % 100:02d}{rng.randint(1, 9999):04d}"
    )


def _weighted(rng: random.Random, items: list, weight_index: int):
    return rng.choices(items, weights=[item[weight_index] or 1 for item in items])[0]


def seed_members(count: int, rng: random.Random, today: date) -> SeedReport:
    from app.records.identifiers import name_key

    report = SeedReport()
    start = (db.session.scalar(select(func.count(Member.id))) or 0) + 1
    statuses = list(CLAIM_STATUSES)
    for index in range(start, start + count):
        sex = "F" if rng.random() < 0.68 else "M"
        given = rng.choice(FEMALE if sex == "F" else MALE)
        name = f"{given} {rng.choice(FAMILY)}"
        birth = date(rng.randint(1975, 2003), rng.randint(1, 12), rng.randint(1, 28))
        code, province, regencies, _w = _weighted(rng, PROVINCES, 3)
        country, city, _cw = _weighted(rng, COUNTRIES, 2)
        phase = rng.choices(["CPMI", "PMI", "PURNA"], weights=[10, 75, 15])[0]
        contract_start = today - timedelta(days=rng.randint(30, 700))
        contract_end = contract_start + timedelta(days=rng.choice([365, 730, 1095]))
        if phase == "PURNA":
            contract_end = today - timedelta(days=rng.randint(10, 300))
            contract_start = contract_end - timedelta(days=730)
        programs = ["JKK", "JKM"] + (["JHT"] if rng.random() < 0.3 else [])
        coverage = [
            {"program": p, "start": contract_start.isoformat(),
             "end": (contract_end + timedelta(days=30)).isoformat()}
            for p in programs
        ]
        member = Member(
            kpj=f"{26000000000 + index:011d}",
            nik=make_nik(rng, code, birth, sex),
            name=name,
            name_key=name_key(name),
            birth_date=birth,
            sex=sex,
            phone_id=mobile_number(rng, "ID"),
            phone_abroad=None if phase == "CPMI" else mobile_number(rng, country),
            email=f"{given.lower()}.{index}@example.com" if rng.random() < 0.4 else None,
            passport=f"{rng.choice('BCEX')}{rng.randint(1000000, 9999999)}",
            home_province=province,
            home_regency=rng.choice(regencies),
            placement_country=country,
            placement_city=city,
            employer=EMPLOYERS.get(country),
            placement_agency=rng.choice(AGENCIES),
            scheme=rng.choices(["P3MI", "G2G", "PERSEORANGAN"], weights=[80, 10, 10])[0],
            contract_start=contract_start,
            contract_end=contract_end,
            phase=phase,
            programs=programs,
            membership_status="active" if phase != "PURNA" else rng.choice(["active", "inactive"]),
            coverage=coverage,
            preferred_language="id" if rng.random() < 0.9 else "en",
            bank_name=rng.choice(["BRI", "BNI", "Mandiri", "BCA"]),
            bank_account=str(rng.randint(10**9, 10**10 - 1)),
        )
        db.session.add(member)
        report.members += 1
        # Roughly one member in four has claims; statuses cycle so every status appears.
        if index % 4 == 0 or index <= len(statuses):
            db.session.flush()
            for _ in range(rng.choice([1, 1, 2])):
                program = rng.choices(["JKK", "JKM", "JHT"], weights=[60, 15, 25])[0]
                benefit = rng.choice(BENEFITS[program])
                status = statuses[(report.claims) % len(statuses)]
                incident = today - timedelta(days=rng.randint(5, 400))
                submitted = incident + timedelta(days=rng.randint(1, 30))
                decided = submitted + timedelta(days=rng.randint(2, 20)) if status in (
                    "approved", "rejected", "paid", "closed") else None
                db.session.add(
                    Claim(
                        claim_number=f"{program}-{today.year}-{index:06d}-{report.claims % 10}",
                        member_id=member.id,
                        program=program,
                        benefit_type=benefit,
                        incident_date=incident,
                        status=status,
                        amount=AMOUNTS[benefit],
                        submitted_on=submitted if status != "reported" else None,
                        decided_on=decided,
                        paid_on=decided + timedelta(days=3) if decided and status in ("paid", "closed") else None,
                        channel=rng.choice(["online", "jmo", "embassy", "branch", "call_centre"]),
                        missing_documents=["death_certificate", "heir_certificate"]
                        if status == "documents_incomplete" else [],
                    )
                )
                report.claims += 1
    return report


def seed_self_service_callers(rng: random.Random, today: date) -> SeedReport:
    """The fixed callers of :data:`app.demo_people.SELF_SERVICE_CALLERS` (once each), so that a
    person can try the IVR's claim status in the telephony simulator with a KPJ and birth date
    known in advance: one with open and recent claims of two programs, one with JKK claims, one
    with none."""
    from app.records.identifiers import name_key

    report = SeedReport()
    for caller in SELF_SERVICE_CALLERS:
        if db.session.scalar(select(Member.id).where(Member.kpj == caller.kpj)) is not None:
            continue
        contract_start = today - timedelta(days=400)
        programs = sorted({"JKK", "JKM", *(claim.program for claim in caller.claims)})
        member = Member(
            kpj=caller.kpj,
            nik=make_nik(rng, "35", caller.birth_date, caller.sex),
            name=caller.name,
            name_key=name_key(caller.name),
            birth_date=caller.birth_date,
            sex=caller.sex,
            phone_abroad=caller.phone_abroad,
            placement_country=parse_phone(caller.phone_abroad).country,
            phase="PMI",
            scheme="P3MI",
            contract_start=contract_start,
            contract_end=contract_start + timedelta(days=730),
            programs=programs,
            membership_status="active",
            coverage=[
                {"program": p, "start": contract_start.isoformat(), "end": (contract_start + timedelta(days=760)).isoformat()}
                for p in programs
            ],
            preferred_language="id",
        )
        db.session.add(member)
        db.session.flush()
        report.members += 1
        for number, claim in enumerate(caller.claims, 1):
            submitted = today - timedelta(days=claim.submitted_days_ago)
            settled = claim.status in ("approved", "rejected", "paid", "closed")
            decided = submitted + timedelta(days=min(3, claim.submitted_days_ago)) if settled else None
            db.session.add(
                Claim(
                    claim_number=f"{claim.program}-{today.year}-{caller.kpj[-6:]}-{number}",
                    member_id=member.id,
                    program=claim.program,
                    benefit_type=claim.benefit_type,
                    incident_date=submitted - timedelta(days=7),
                    status=claim.status,
                    amount=AMOUNTS[claim.benefit_type],
                    submitted_on=submitted,
                    decided_on=decided,
                    paid_on=decided + timedelta(days=2) if decided and claim.status == "paid" else None,
                    channel="jmo",
                    missing_documents=["medical_report"] if claim.status == "documents_incomplete" else [],
                )
            )
            report.claims += 1
    return report


def logins_path() -> Path:
    configured = current_app.config.get("DEMO_LOGINS_FILE")
    return Path(configured) if configured else Path(current_app.instance_path) / "demo-logins.txt"


def seed_staff() -> tuple[int, dict[str, str]]:
    """Create the demo staff (once) and return their logins."""
    from app.agents.routing.presence import set_skills
    from app.staff.services import create_user

    path = logins_path()
    logins: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    created = 0
    for username, name, role in STAFF:
        email = f"{username}@{EMAIL_DOMAIN}"
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        password = logins.get(email) or secrets.token_urlsafe(9)
        user = create_user(email, name, password, role)
        if username in SKILLS:
            set_skills(user.id, languages=SKILLS[username])
        logins[email] = password
        created += 1
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(logins, fh, indent=2)
    return created, logins


def seed(
    members: int = 300, seed_value: int = 2026, history_days: int = 28, now: datetime | None = None
) -> SeedReport:
    """Members, claims, staff, then ``history_days`` of case and call history up to ``now``."""
    now = now or utcnow()
    rng = random.Random(seed_value)  # noqa: S311 - synthetic data, reproducible on purpose
    callers = seed_self_service_callers(rng, now.date())
    existing = db.session.scalar(select(func.count(Member.id))) or 0
    report = seed_members(max(members - existing, 0), rng, now.date())
    report.members += callers.members
    report.claims += callers.claims
    report.staff, _ = seed_staff()
    db.session.commit()
    if history_days:
        from app.sla.sweep import sweep

        report.tickets = seed_history(rng, days=history_days, now=now)
        report.calls, call_tickets = seed_calls(random.Random(seed_value + 1), now, days=history_days)  # noqa: S311
        report.tickets += call_tickets
        while sweep(now).full:  # what is overdue by now is recorded as breached
            pass
        db.session.commit()
    refresh_planner_statistics()  # the reports are read next, before autovacuum has looked
    db.session.commit()
    return report


@demo_cli.cli.command("seed")
@click.option("--members", default=300, show_default=True, help="Total synthetic members wanted.")
@click.option("--history-days", default=28, show_default=True, help="Days of demo case history (0: none).")
def seed_command(members: int, history_days: int) -> None:
    """Load demo members, claims, staff accounts and case history (idempotent)."""
    report = seed(members, history_days=history_days)
    click.echo(
        f"demo data: +{report.members} members, +{report.claims} claims, +{report.staff} staff,"
        f" +{report.tickets} tickets, +{report.calls} calls"
    )
    print_logins()


def print_logins() -> None:
    path = logins_path()
    if not path.exists():
        return
    click.echo("Demo staff logins (email / password):")
    for email, password in json.loads(path.read_text()).items():
        click.echo(f"  {email:32} {password}")
    click.echo("Claim status in the voice menu (telephony simulator): KPJ, then 8, then the birth date:")
    for caller in SELF_SERVICE_CALLERS:
        click.echo(f"  KPJ {caller.kpj}  birth date {caller.keypad_birth_date}  {caller.name}")
