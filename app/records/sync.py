"""The seam between the agency's core membership system and our mirror of it.

A :class:`~app.records.sources.MembershipSource` yields member and claim records as plain
dicts (column name → value, the same names as the CSV import). :func:`apply_records` validates them
(:mod:`app.records.schemas`) and upserts them in batches: by KPJ for members, by claim number
for claims. Today the only source is :class:`~app.records.sources.FileSource` (CSV or JSON Lines,
used by ``flask records import``); the logic here is shared with any future one.

How an HTTP source plugs in
---------------------------
The core system's API is not specified yet. A later ``HttpSource`` implements the same
Protocol: ``members(since)`` pages through e.g. ``GET /members?updated_since=…`` with an
``httpx.Client`` (timeouts, retries, the agency's credentials from configuration), yielding
one :class:`SourceRow` per record with ``position`` = the running record number and ``data``
mapped to our column names. A job (``app/records/tasks.py``) then calls::

    report = apply_records(source.members(since=last_sync), "members", on_batch=db.session.commit)

and stores the time the run started as the next ``since``. Because every write is an upsert
keyed by KPJ / claim number and skipped when the record's fingerprint (``source_hash``) is
unchanged, re-delivering a page is harmless: the sync is idempotent.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any, NamedTuple

from flask import Flask, current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from app.core.crypto import get_cipher
from app.core.crypto import init_app as init_cipher
from app.core.i18n import _
from app.core.time import utcnow
from app.extensions import db
from app.records.identifiers import IdentifierWarning
from app.records.models import Claim, Member, identifier_hashes
from app.records.schemas import ParsedRow, RowError, parse_claim, parse_member
from app.records.sources import KINDS, FileSource, MembershipSource, SourceError, SourceRow

# The seam's whole vocabulary is importable from here, wherever it is defined.
__all__ = [
    "KINDS",
    "FileSource",
    "ImportReport",
    "MembershipSource",
    "Rejection",
    "SourceError",
    "SourceRow",
    "apply_records",
    "fingerprint",
]

DEFAULT_BATCH_SIZE = 1000
SAMPLE_SIZE = 20
CHUNK_SIZE = 500  # records per task sent to a validation worker
# Database errors caused by the values of a row (unique/foreign key, too long, out of range).
ROW_ERRORS = (IntegrityError, DataError)


@dataclass
class Rejection:
    """A record that was not imported, with enough to find and fix it."""

    line: int
    key: str | None
    code: str
    reason: str


@dataclass
class Duplicate:
    """A key seen twice in one source: the later record won."""

    line: int
    key: str
    first_line: int


@dataclass
class ImportReport:
    """Counts and examples of what an import did; every rejection also goes to ``on_reject``."""

    kind: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first SAMPLE_SIZE
    duplicates: list[Duplicate] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    warning_examples: list[tuple[int, str, str]] = field(default_factory=list)  # (line, key, message)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged


# ---------------------------------------------------------------------------------------------
# Upsert


def fingerprint(kind: str, values: dict[str, Any]) -> str:
    """Keyed hash of a record's normalised values: equal fingerprints mean nothing to write.

    Keyed (HMAC under the PII hash key) because the values include NIK and phones: a plain
    SHA-256 of a record could be confirmed by anyone holding a guess of it.
    """
    canonical = json.dumps(values, sort_keys=True, default=_json_default, separators=(",", ":"))
    return get_cipher().blind_index(f"{kind}-row", canonical)


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


@dataclass
class _Pending:
    line: int
    row: ParsedRow
    source_hash: str


class _Batcher:
    """Collects valid rows and writes them a batch at a time."""

    def __init__(
        self,
        kind: str,
        report: ImportReport,
        batch_size: int,
        on_batch: Callable[[], None] | None,
        on_reject: Callable[[Rejection], None] | None,
    ) -> None:
        self.kind = kind
        self.report = report
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.on_reject = on_reject
        self.pending: dict[str, _Pending] = {}
        self.first_seen: dict[str, int] = {}

    # -- bookkeeping -----------------------------------------------------------------------

    def reject(self, line: int, key: str | None, code: str, reason: str) -> None:
        rejection = Rejection(line, key, code, reason)
        self.report.rejected += 1
        if len(self.report.rejections) < SAMPLE_SIZE:
            self.report.rejections.append(rejection)
        if self.on_reject is not None:
            self.on_reject(rejection)

    def warn(self, line: int, key: str, warnings: list[IdentifierWarning]) -> None:
        for warning in warnings:
            self.report.warnings[warning.code] += 1
            if len(self.report.warning_examples) < SAMPLE_SIZE:
                self.report.warning_examples.append((line, key, f"{warning.field}: {warning.message}"))

    # -- intake ----------------------------------------------------------------------------

    def add(self, prepared: _Prepared) -> None:
        self.report.read += 1
        row = prepared.row
        if row is None:
            self.reject(prepared.line, prepared.key, prepared.error_code or "invalid", prepared.error or "")
            return
        self.warn(prepared.line, row.key, row.warnings)
        first = self.first_seen.get(row.key)
        if first is not None:
            self.report.duplicates.append(Duplicate(prepared.line, row.key, first))
        else:
            self.first_seen[row.key] = prepared.line
        if row.key in self.pending:
            # The earlier record must reach the database first so this one is compared with
            # it, and so "later row wins" holds inside a batch too.
            self.flush()
        self.pending[row.key] = _Pending(prepared.line, row, prepared.source_hash or "")
        if len(self.pending) >= self.batch_size:
            self.flush()

    # -- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        if not self.pending:
            return
        batch = list(self.pending.values())
        self.pending = {}
        try:
            with db.session.begin_nested():
                outcome = self._write(batch)
        except ROW_ERRORS:
            # Validation should have caught everything; if the database still refuses
            # (a concurrent writer, a constraint we do not mirror), find the culprit row by
            # row so the good rows of this batch are still written. Other database errors
            # (connection lost, locked) are not about a row: they stop the import, and the
            # batches already committed stay.
            outcome = _Outcome()
            for item in batch:
                try:
                    with db.session.begin_nested():
                        outcome.add(self._write([item]))
                except ROW_ERRORS as exc:
                    outcome.rejections.append(
                        Rejection(item.line, item.row.key, "database", _database_reason(exc))
                    )
        # Counted only once the writes stand, so a retried batch is not counted twice.
        self.report.created += outcome.created
        self.report.updated += outcome.updated
        self.report.unchanged += outcome.unchanged
        for rejection in outcome.rejections:
            self.reject(rejection.line, rejection.key, rejection.code, rejection.reason)
        if self.on_batch is not None:
            self.on_batch()

    def _write(self, batch: list[_Pending]) -> _Outcome:
        model: Any = Claim if self.kind == "claims" else Member
        key_column = model.claim_number if self.kind == "claims" else model.kpj
        keys = [item.row.key for item in batch]
        existing = {
            key: (row_id, source_hash)
            for key, row_id, source_hash in db.session.execute(
                select(key_column, model.id, model.source_hash).where(key_column.in_(keys))
            )
        }
        members: dict[str, int] = {}
        if self.kind == "claims":
            kpjs = {item.row.values["kpj"] for item in batch}
            members = dict(
                db.session.execute(select(Member.kpj, Member.id).where(Member.kpj.in_(kpjs))).all()
            )
        now = utcnow()
        outcome = _Outcome()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for item in batch:
            values = dict(item.row.values)
            if self.kind == "claims":
                kpj = values.pop("kpj")
                if kpj not in members:
                    outcome.rejections.append(
                        Rejection(
                            item.line,
                            item.row.key,
                            "unknown_kpj",
                            _("No member with KPJ %(kpj)s: import the members first.", kpj=kpj),
                        )
                    )
                    continue
                values["member_id"] = members[kpj]
            values.update(source_hash=item.source_hash, updated_at=now)
            found = existing.get(item.row.key)
            if found is None:
                inserts.append({**values, "created_at": now})
            elif found[1] == item.source_hash:
                outcome.unchanged += 1
            else:
                updates.append({**values, "id": found[0]})
        if inserts:
            # render_nulls: every row has the same columns, so the batch is one executemany
            # (otherwise rows are grouped by which values are None: hundreds of statements).
            db.session.execute(insert(model).execution_options(render_nulls=True), inserts)
        if updates:
            db.session.execute(update(model), updates)
        outcome.created = len(inserts)
        outcome.updated = len(updates)
        return outcome


@dataclass
class _Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def add(self, other: _Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejections.extend(other.rejections)


def _database_reason(exc: DBAPIError) -> str:
    # Only the driver's first line: the full text would echo the row's values (PII) back.
    original = str(getattr(exc, "orig", exc)).strip().splitlines()
    return _(
        "The database refused the row: %(reason)s", reason=original[0] if original else type(exc).__name__
    )


class _Prepared(NamedTuple):
    """A source record after validation: the parsed row, or why it was refused."""

    line: int
    key: str | None
    row: ParsedRow | None
    source_hash: str | None = None
    error_code: str | None = None
    error: str | None = None


def _prepare(kind: str, record: SourceRow) -> _Prepared:
    """Validate one record and compute everything derived from it (pure CPU, no database)."""
    if record.error:
        key = record.data.get("claim_number" if kind == "claims" else "kpj")
        return _Prepared(
            record.position, str(key).strip() if key else None, None, None, "unreadable", record.error
        )
    try:
        row = (parse_claim if kind == "claims" else parse_member)(record.data)
    except RowError as exc:
        return _Prepared(record.position, exc.key, None, None, exc.code, exc.reason)
    source_hash = fingerprint(kind, row.values)
    if kind == "members":
        # Bulk statements skip the model's @validates hook, so the keyed-hash columns are
        # computed here; EncryptedText still encrypts the plaintext when it is bound.
        row.values.update(identifier_hashes(row.values))
    return _Prepared(record.position, row.key, row, source_hash)


def _prepare_chunk(kind: str, records: list[SourceRow]) -> list[_Prepared]:
    return [_prepare(kind, record) for record in records]


def _init_worker(keys: list[str], hash_key: str) -> None:
    """A spawned worker has no application: a bare one, whose context stays pushed for the
    process's life, carries the cipher that the keyed hashes need."""
    holder = Flask(__name__)
    init_cipher(holder, keys, hash_key)
    holder.app_context().push()


def _prepared(records: Iterable[SourceRow], kind: str, workers: int) -> Iterator[_Prepared]:
    """Validated records in source order, prepared by ``workers`` processes (0: here).

    Validation (phone parsing above all) costs about as much CPU as the database writes, so
    on a multi-core machine it runs in worker processes while this process writes. A bounded
    window of chunks in flight keeps memory flat for any file size. Spawned (not forked)
    workers: the parent may hold threads and open connections that a fork would copy.
    """
    if workers <= 0:
        for record in records:
            yield _prepare(kind, record)
        return
    config = current_app.config
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(list(config["PII_ENCRYPTION_KEYS"]), config["PII_HASH_KEY"]),
    ) as pool:
        window: deque[Future[list[_Prepared]]] = deque()
        iterator = iter(records)
        while chunk := list(islice(iterator, CHUNK_SIZE)):
            window.append(pool.submit(_prepare_chunk, kind, chunk))
            if len(window) >= 2 * workers + 1:
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()


def apply_records(
    rows: Iterable[SourceRow],
    kind: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[], None] | None = None,
    on_reject: Callable[[Rejection], None] | None = None,
    workers: int = 0,
) -> ImportReport:
    """Validate and upsert records of one ``kind`` (members or claims); return the report.

    Writes go through the session in batches; ``on_batch`` runs after each one (the caller
    passes ``db.session.commit`` to commit per batch, or nothing to commit once at the end).
    ``on_reject`` receives every rejected record; the report keeps the first few as examples.
    A record whose fingerprint equals the stored ``source_hash`` is counted unchanged and not
    written. A bad record never stops the others. ``workers`` > 0 validates in that many
    separate processes while this one writes (worth it from some ten thousand records on).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    report = ImportReport(kind)
    batcher = _Batcher(kind, report, max(1, batch_size), on_batch, on_reject)
    for prepared in _prepared(rows, kind, workers):
        batcher.add(prepared)
    batcher.flush()
    return report
