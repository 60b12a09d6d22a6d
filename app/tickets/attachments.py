"""Attachments: images and PDFs, checked by their first bytes, stored outside the web root.

The browser's content type and the file name's extension are claims; the magic bytes decide.
Files live under ``instance/attachments/<2 hex>/<random key>`` (no user-chosen path part) and
are only ever sent back by a permission-checked route with ``Content-Disposition: attachment``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from flask import abort, current_app, send_file
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from app.core.i18n import _
from app.extensions import db
from app.tickets.models import Attachment

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_FILES = 3

# (prefix at offset 0, extra check, content type)
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class UploadError(ValueError):
    """A rejected upload; ``status`` is 413 (too large) or 415 (not an image or PDF)."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


def max_bytes() -> int:
    return int(current_app.config.get("TICKETS_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_files() -> int:
    return int(current_app.config.get("TICKETS_ATTACHMENT_MAX_FILES", DEFAULT_MAX_FILES))


# Voice notes, accepted from a worker's WhatsApp/SMS message only (WhatsApp records Ogg Opus;
# phones also send AMR, MP3 and AAC in an MP4 box).
_AUDIO_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"OggS", "audio/ogg"),
    (b"#!AMR", "audio/amr"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"\xff\xf3", "audio/mpeg"),
    (b"\xff\xf2", "audio/mpeg"),
)
# What a message's file may be announced as (Twilio's MediaContentTypeN) to be worth fetching;
# the bytes decide afterwards, as for any upload.
MESSAGE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/pdf",
        "audio/ogg",
        "audio/amr",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/x-m4a",
    }
)
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "audio/ogg": "ogg",
    "audio/amr": "amr",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
}


def sniff(data: bytes, *, audio: bool = False) -> str | None:
    """The content type the bytes really are, among the accepted ones (images and PDF; voice
    notes too with ``audio``), or None."""
    for prefix, content_type in _SIGNATURES:
        if data.startswith(prefix):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if audio:
        for prefix, content_type in _AUDIO_SIGNATURES:
            if data.startswith(prefix):
                return content_type
        if data[4:8] == b"ftyp" and data[8:11] in (b"M4A", b"mp4", b"iso", b"3gp"):
            return "audio/mp4"
    return None


def message_type_accepted(content_type: str) -> bool:
    """Whether a file a worker's message announces as ``content_type`` may be one we keep."""
    return content_type.split(";")[0].strip().lower() in MESSAGE_TYPES


def _safe_name(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip() or "file"
    return "".join(ch for ch in base if ch.isprintable())[:200]


def read_upload(stream: IO[bytes], filename: str, field: str = "attachments") -> Upload:
    """Read at most the size limit (+1 byte to notice more) and check the type by magic bytes."""
    limit = max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise UploadError(
            413,
            field,
            _(
                "%(name)s is too large (at most %(mb)d MB).",
                name=_safe_name(filename),
                mb=limit // (1024 * 1024),
            ),
        )
    if not data:
        raise UploadError(415, field, _("%(name)s is empty.", name=_safe_name(filename)))
    content_type = sniff(data)
    if content_type is None:
        raise UploadError(415, field, _("%(name)s is not an image or a PDF.", name=_safe_name(filename)))
    return Upload(_safe_name(filename), content_type, data)


def read_uploads(files: Iterable[FileStorage], field: str = "attachments") -> list[Upload]:
    """The files of one form field, each checked (413 for too many or too large, 415 for a
    type that is not an image or PDF); empty file inputs are ignored."""
    chosen = [f for f in files if f and f.filename]
    if len(chosen) > max_files():
        raise UploadError(413, field, _("At most %(n)d files can be attached.", n=max_files()))
    return [read_upload(f.stream, f.filename or "file", field) for f in chosen]


def storage_dir() -> str:
    return str(
        current_app.config.get("TICKETS_ATTACHMENT_DIR")
        or os.path.join(current_app.instance_path, "attachments")
    )


def store(ticket_id: int, upload: Upload, event_id: int | None = None, public: bool = True) -> Attachment:
    """Write the bytes under a random key and add the Attachment row (the caller commits)."""
    key = secrets.token_hex(16)
    directory = os.path.join(storage_dir(), key[:2])
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, key)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(upload.data)
    attachment = Attachment(
        ticket_id=ticket_id,
        event_id=event_id,
        original_filename=upload.filename,
        content_type=upload.content_type,
        size=len(upload.data),
        storage_key=key,
        sha256=hashlib.sha256(upload.data).hexdigest(),
        public=public,
    )
    db.session.add(attachment)
    return attachment


def remove(attachment: Attachment) -> None:
    """Delete the stored bytes (erasure); a file already gone is fine. The caller deletes the row."""
    try:
        os.remove(path_of(attachment))
    except FileNotFoundError:
        pass


def path_of(attachment: Attachment) -> str:
    return os.path.join(storage_dir(), attachment.storage_key[:2], attachment.storage_key)


def send(attachment: Attachment) -> Response:
    """The file as a download (``Content-Disposition: attachment``, its checked type, no
    sniffing); 404 when its bytes are gone (erased). The caller checked who may have it."""
    path = path_of(attachment)
    if not os.path.exists(path):
        abort(404)
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.original_filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
