"""PII at rest: Fernet encryption with rotation, and keyed hashes for exact lookup.

* ``EncryptedText`` is a column type: values are encrypted with the first key of
  ``PII_ENCRYPTION_KEYS`` and decrypted with any of them (``MultiFernet``), so a new key can be
  put first and old rows re-encrypted later with ``flask pii rotate``.
* ``blind_index(kind, value)`` is an HMAC-SHA256 of the normalised value under ``PII_HASH_KEY``,
  stored beside the ciphertext so that "find the member with this NIK" is an indexed equality
  lookup without decrypting anything. ``kind`` keeps equal strings of different kinds apart.

The cipher belongs to the application: :func:`init_app` (called by the factory) builds it from
the app's keys into ``app.extensions``, and :func:`get_cipher` finds it through ``current_app``,
so two apps with different keys in one process never share one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app, has_app_context
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class PIIKeyError(RuntimeError):
    """The PII keys are missing or malformed."""


@dataclass(frozen=True)
class PIICipher:
    fernet: MultiFernet
    primary: Fernet
    hash_key: bytes

    def encrypt(self, plaintext: str) -> str:
        return self.primary.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise PIIKeyError("a PII value cannot be decrypted with the configured keys") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the primary key (no-op in meaning, new ciphertext)."""
        return self.fernet.rotate(token.encode("ascii")).decode("ascii")

    def blind_index(self, kind: str, value: str) -> str:
        message = f"{kind}:{value}".encode()
        return hmac.new(self.hash_key, message, hashlib.sha256).hexdigest()


_EXTENSION_KEY = "halopmi.pii_cipher"


def build_cipher(keys: list[str], hash_key: str | None) -> PIICipher:
    if not keys:
        raise PIIKeyError("PII_ENCRYPTION_KEYS is empty")
    if not hash_key:
        raise PIIKeyError("PII_HASH_KEY is empty")
    try:
        fernets = [Fernet(key.encode("ascii")) for key in keys]
    except (ValueError, TypeError) as exc:
        raise PIIKeyError(
            "PII_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(generate one with: flask pii generate-key)"
        ) from exc
    return PIICipher(MultiFernet(fernets), fernets[0], hash_key.encode("utf-8"))


def init_app(app: Flask, keys: list[str] | None = None, hash_key: str | None = None) -> PIICipher:
    """Give ``app`` its cipher, from its ``PII_ENCRYPTION_KEYS`` and ``PII_HASH_KEY`` unless
    other keys are given (a key rotation in a test, a worker process's copy)."""
    cipher = build_cipher(
        app.config["PII_ENCRYPTION_KEYS"] if keys is None else keys,
        app.config["PII_HASH_KEY"] if hash_key is None else hash_key,
    )
    app.extensions[_EXTENSION_KEY] = cipher
    return cipher


def get_cipher() -> PIICipher:
    """The current application's cipher."""
    cipher = current_app.extensions.get(_EXTENSION_KEY) if has_app_context() else None
    if cipher is None:
        raise PIIKeyError("PII cipher not configured: no application context, or the app has no keys")
    return cipher


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def blind_index(kind: str, value: str | None) -> str | None:
    """Keyed hash of an already-normalised value, or None for an empty one."""
    if not value:
        return None
    return get_cipher().blind_index(kind, value)


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; Python sees plaintext."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None or value == "":
            return None
        return get_cipher().encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return get_cipher().decrypt(value)
