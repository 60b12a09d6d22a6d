"""Bodies of the public API (/api/v1) beyond the shared input rules, as pydantic models.

Request bodies reuse the portal's rules (:mod:`app.tickets.schemas`) and telephony's
(:mod:`app.telephony.schemas`), adding the ``verification`` a case lookup needs. Responses are
models too, so the OpenAPI document (:mod:`app.api.openapi`) describes them from one source and
the tests check real responses against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from app.core.schemas import MAX_ID, OneOf, Schema, text
from app.tickets.models import CATEGORIES, STATUSES
from app.tickets.schemas import Rating, Reply

REFERENCE_PATTERN = r"^PMI-[0-9]{4}-[0-9]{6,}$"
VERIFICATION_HELP = "The requester's birth date (YYYY-MM-DD) or the phone number on file"
VERIFICATION_MESSAGE = _l("Enter the birth date (YYYY-MM-DD) or the phone number on file.")

Verification = Annotated[str, Field(min_length=1, description=VERIFICATION_HELP), text()]
Reference = Annotated[str, Field(pattern=REFERENCE_PATTERN, examples=["PMI-2026-000123"])]
Status = Annotated[str, OneOf(STATUSES)]


class Verified(Schema):
    """Who may see a case: the verification value, in the query or the body."""

    verification: Verification

    messages = {"verification": {"string_too_short": VERIFICATION_MESSAGE, "text_type": VERIFICATION_MESSAGE}}


class ReplyCreate(Reply, Verified):
    messages = {**Reply.messages, **Verified.messages}


class RatingCreate(Rating, Verified):
    messages = {**Rating.messages, **Verified.messages}


class AttachmentUpload(BaseModel):
    """multipart/form-data: the verification and one or more image/PDF files."""

    verification: Annotated[str, Field(min_length=1, description=VERIFICATION_HELP)]
    files: Annotated[list[bytes], Field(min_length=1)]


class CasePath(BaseModel):
    reference: Reference


ATTACHMENT_ID_MAX = MAX_ID


class AttachmentPath(CasePath):
    attachment_id: Annotated[int, Field(ge=0, le=ATTACHMENT_ID_MAX)]


# --- responses -----------------------------------------------------------------------------------


class Response(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ErrorBody(Response):
    code: str
    message: str
    fields: dict[str, str] = Field(description="Each field with the problem found in it")


class Error(Response):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorBody


class ComplaintCreated(Response):
    reference: Reference
    status: Status


class ReplyCreated(Response):
    reference: str
    status: Status


def _absent_when_empty(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # the key is left out, never null


# A key present only when it applies (never null).
OMITTED: Any = Field(default=None, json_schema_extra=_absent_when_empty)


class TimelineEntry(Response):
    kind: str
    at: datetime
    from_: Literal["you", "agent"] = Field(alias="from")
    message: str | SkipJsonSchema[None] = OMITTED
    status: str | None = None
    merged_into: str | SkipJsonSchema[None] = OMITTED
    attachments: list[str]
    attachment_ids: list[int] = Field(
        default_factory=list, description="Ids of the files named in `attachments`, in the same order"
    )


class Complaint(Response):
    """A case as its requester sees it."""

    reference: str
    status: Status
    category: Annotated[str, OneOf(CATEGORIES)]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    merged_into: str | None
    csat_score: int | None
    can_reply: bool
    can_rate: bool
    timeline: list[TimelineEntry]


class AttachmentsStored(Response):
    reference: str
    stored: int
    files: list[str]


class CallbackCreated(Response):
    id: int
    status: str


class VoiceToken(Response):
    token: str
    identity: str
    expires_at: str
