"""PII at rest: encryption, key rotation with ``flask pii rotate``, keyed hashes ("blind index")."""

from __future__ import annotations

import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from app import create_app
from app.core import crypto
from app.core.crypto import PIIKeyError, build_cipher
from app.extensions import db
from app.records.models import Member
from config import TestingConfig
from tests.factories import make_member

KEY_A = TestingConfig.PII_ENCRYPTION_KEYS[0]
HASH_KEY = TestingConfig.PII_HASH_KEY
NIK = "3201015705900001"
PHONE = "+85291234567"


def raw_columns(member_id: int) -> dict[str, str | None]:
    row = db.session.execute(
        text("SELECT nik, nik_hash, phone_abroad, phone_abroad_hash FROM members WHERE id = :id"),
        {"id": member_id},
    ).one()
    return dict(row._mapping)


# --- encryption -----------------------------------------------------------------------------


def test_encrypt_then_decrypt_gives_the_plaintext_back():
    cipher = build_cipher([KEY_A], HASH_KEY)
    token = cipher.encrypt(NIK)
    assert token != NIK and NIK not in token
    assert cipher.decrypt(token) == NIK


def test_encryption_is_randomised():
    cipher = build_cipher([KEY_A], HASH_KEY)
    assert cipher.encrypt(NIK) != cipher.encrypt(NIK)


def test_member_identifiers_are_stored_encrypted(app):
    member = make_member(nik=NIK, phone_abroad=PHONE)
    raw = raw_columns(member.id)
    assert raw["nik"] and NIK not in raw["nik"]
    assert raw["phone_abroad"] and PHONE not in raw["phone_abroad"]
    assert build_cipher([KEY_A], HASH_KEY).decrypt(raw["nik"]) == NIK
    db.session.expire_all()
    assert db.session.get(Member, member.id).nik == NIK


def test_wrong_key_raises_pii_key_error():
    token = build_cipher([KEY_A], HASH_KEY).encrypt(NIK)
    other = build_cipher([Fernet.generate_key().decode()], HASH_KEY)
    with pytest.raises(PIIKeyError):
        other.decrypt(token)


def test_reading_a_row_without_its_key_raises_pii_key_error(app):
    member = make_member(nik=NIK)
    crypto.init_app(app, [Fernet.generate_key().decode()], HASH_KEY)
    db.session.expire_all()
    with pytest.raises(PIIKeyError):
        db.session.get(Member, member.id).nik  # noqa: B018 - the load is the test
    db.session.rollback()


@pytest.mark.parametrize(
    ("keys", "hash_key"),
    [([], HASH_KEY), (["not-a-fernet-key"], HASH_KEY), ([KEY_A], ""), ([KEY_A], None)],
)
def test_missing_or_malformed_keys_raise_pii_key_error(keys, hash_key):
    with pytest.raises(PIIKeyError):
        build_cipher(keys, hash_key)


# --- rotation -------------------------------------------------------------------------------


def test_flask_pii_rotate_moves_every_value_to_the_new_key(app):
    members = [make_member(nik=f"32010157059000{i:02d}", phone_abroad=PHONE) for i in range(3)]
    key_b = Fernet.generate_key().decode()
    only_a = build_cipher([KEY_A], HASH_KEY)
    only_b = build_cipher([key_b], HASH_KEY)
    assert only_a.decrypt(raw_columns(members[0].id)["nik"]) == members[0].nik

    crypto.init_app(app, [key_b, KEY_A], HASH_KEY)  # B first: encrypts; A kept: still decrypts
    result = app.test_cli_runner().invoke(args=["pii", "rotate"])
    assert result.exit_code == 0, result.output
    assert "rotated 6 values" in result.output

    for member in members:
        raw = raw_columns(member.id)
        assert only_b.decrypt(raw["nik"]) == member.nik
        assert only_b.decrypt(raw["phone_abroad"]) == PHONE
        with pytest.raises(PIIKeyError):
            only_a.decrypt(raw["nik"])

    crypto.init_app(app, [key_b], HASH_KEY)  # old key removed: everything still readable
    db.session.expire_all()
    assert [db.session.get(Member, m.id).nik for m in members] == [m.nik for m in members]


def test_rotation_recomputes_hashes_after_a_hash_key_change(app):
    from app.core.pii import rotate_all

    member = make_member(nik=NIK, phone_abroad=PHONE)
    old_hash = raw_columns(member.id)["nik_hash"]
    assert old_hash == build_cipher([KEY_A], HASH_KEY).blind_index("nik", NIK)

    crypto.init_app(app, [KEY_A], "a-new-hash-key")
    report = rotate_all()
    assert (report.values, report.hashes) == (2, 2)

    new = build_cipher([KEY_A], "a-new-hash-key")
    raw = raw_columns(member.id)
    assert raw["nik_hash"] == new.blind_index("nik", NIK) != old_hash
    assert raw["phone_abroad_hash"] == new.blind_index("phone", PHONE)
    # Lookups by the new hash find the member.
    found = db.session.scalar(select(Member.id).where(Member.nik_hash == crypto.blind_index("nik", NIK)))
    assert found == member.id


# --- blind index ----------------------------------------------------------------------------


def test_blind_index_is_stable_across_ciphers_with_the_same_hash_key():
    first = build_cipher([KEY_A], HASH_KEY).blind_index("nik", NIK)
    second = build_cipher([Fernet.generate_key().decode()], HASH_KEY).blind_index("nik", NIK)
    assert first == second
    assert len(first) == 64 and NIK not in first


def test_blind_index_separates_kinds_and_hash_keys():
    cipher = build_cipher([KEY_A], HASH_KEY)
    assert cipher.blind_index("nik", NIK) != cipher.blind_index("phone", NIK)
    assert cipher.blind_index("nik", NIK) != build_cipher([KEY_A], "other").blind_index("nik", NIK)
    assert cipher.blind_index("nik", NIK) != cipher.blind_index("nik", NIK[:-1] + "2")


def test_blind_index_of_nothing_is_none(app):
    assert crypto.blind_index("nik", None) is None
    assert crypto.blind_index("nik", "") is None


def test_model_keeps_the_hash_in_step_with_the_value(app):
    member = make_member(nik=NIK)
    member.nik = "3201015705900099"
    db.session.commit()
    assert raw_columns(member.id)["nik_hash"] == crypto.blind_index("nik", "3201015705900099")


def test_each_app_has_its_own_cipher_and_none_exists_outside_an_app(app):
    other_key = Fernet.generate_key().decode()
    other = create_app(TestingConfig, PII_ENCRYPTION_KEYS=[other_key], PII_HASH_KEY="another")
    with other.app_context():
        theirs = crypto.get_cipher()
    assert crypto.get_cipher() is not theirs  # this test's app kept its own
    assert theirs.blind_index("nik", NIK) == build_cipher([other_key], "another").blind_index("nik", NIK)
    assert crypto.get_cipher().blind_index("nik", NIK) == build_cipher([KEY_A], HASH_KEY).blind_index("nik", NIK)

    errors: list[Exception] = []

    def outside() -> None:  # a thread starts without any application context
        try:
            crypto.get_cipher()
        except PIIKeyError as exc:
            errors.append(exc)

    thread = threading.Thread(target=outside)
    thread.start()
    thread.join()
    assert len(errors) == 1
