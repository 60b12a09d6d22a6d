"""Key rotation for PII at rest.

Put a new Fernet key first in ``PII_ENCRYPTION_KEYS`` (keep the old ones after it), deploy,
then run ``flask pii rotate``: every encrypted value is re-encrypted under the new key and
every keyed hash is recomputed with the current ``PII_HASH_KEY``. When it reports zero
failures the old keys can be removed. Models declare their hash columns in ``__pii_hashes__``
(``{attribute: (hash_column, kind)}``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from app.core.crypto import EncryptedText, get_cipher
from app.extensions import Base, db


@dataclass
class RotationReport:
    tables: int = 0
    values: int = 0
    hashes: int = 0


def encrypted_models() -> list[tuple[type, list[str]]]:
    found = []
    for mapper in Base.registry.mappers:
        attrs = [
            prop.key
            for prop in mapper.column_attrs
            if any(isinstance(col.type, EncryptedText) for col in prop.columns)
        ]
        if attrs:
            found.append((mapper.class_, attrs))
    return found


def rotate_all(batch_size: int = 1000) -> RotationReport:
    cipher = get_cipher()
    report = RotationReport()
    for model, attrs in encrypted_models():
        report.tables += 1
        hashes: dict[str, tuple[str, str]] = getattr(model, "__pii_hashes__", {})
        table = model.__table__  # type: ignore[attr-defined]
        columns = {attr: model.__mapper__.get_property(attr).columns[0] for attr in attrs}  # type: ignore[attr-defined]
        last_id = 0
        while True:
            # Reading through EncryptedText decrypts with any configured key; writing the
            # plaintext back encrypts it under the primary key.
            stmt = (
                select(table.c.id, *[table.c[col.name] for col in columns.values()])
                .where(table.c.id > last_id)
                .order_by(table.c.id)
                .limit(batch_size)
            )
            rows = db.session.execute(stmt).all()
            if not rows:
                break
            for row in rows:
                last_id = row[0]
                values: dict[str, object] = {}
                for index, attr in enumerate(attrs, start=1):
                    plaintext = row[index]  # decrypted by EncryptedText (any key)
                    if plaintext is None:
                        continue
                    values[columns[attr].name] = plaintext  # re-encrypted under the primary key
                    report.values += 1
                    if attr in hashes:
                        hash_column, kind = hashes[attr]
                        values[hash_column] = cipher.blind_index(kind, plaintext)
                        report.hashes += 1
                if values:
                    db.session.execute(update(table).where(table.c.id == row[0]).values(**values))
            db.session.commit()
    return report
