"""The OpenAPI 3.1 document of the public API (served at ``GET /api/openapi.json``), generated.

Schemas come from the pydantic models that validate the input (:mod:`app.tickets.schemas`,
:mod:`app.telephony.schemas`) and describe the output (:mod:`app.api.schemas`), through
pydantic's JSON Schema (OpenAPI 3.1 schemas are JSON Schema 2020-12). What is written by hand is
only the list of operations below: path, method, summary, which model is the body, and which
status codes each answers. The click-to-call paths are served by ``app/telephony/api.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from app.api import schemas as api
from app.telephony.schemas import CallbackCreate, VoiceTokenCreate
from app.tickets.schemas import ComplaintCreate

REF = "#/components/schemas/{model}"
FILE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


class File:
    """A response that is a file download (one of ``FILE_TYPES``), not JSON."""


@dataclass(frozen=True)
class Operation:
    """One route of the API: its body model and its answers (status → (description, model)).

    A response without a model is an :class:`app.api.schemas.Error`.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    responses: Mapping[int, tuple[str, type[BaseModel] | type[File] | None]]
    body: type[BaseModel] | None = None
    media: str = "application/json"
    body_required: bool = True
    path_params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_NOT_FOUND = "No case with this reference and verification"
_BAD = (400, ("The request could not be understood (malformed JSON, a NUL byte)", None))
COMMON: dict[int, tuple[str, None]] = {
    _BAD[0]: _BAD[1],
    415: ("The body is not JSON", None),
    422: ("Validation failed; `fields` names each field with its message", None),
    429: ("Too many requests", None),
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post", "/api/v1/complaints", "createComplaint", "File a complaint",
        {201: ("Complaint stored", api.ComplaintCreated), **COMMON},
        body=ComplaintCreate,
    ),
    Operation(
        "get", "/api/v1/complaints/{reference}", "getComplaint", "Status and public timeline of a complaint",
        {
            200: ("The case", api.Complaint),
            _BAD[0]: _BAD[1],
            404: (_NOT_FOUND, None),
            422: ("Verification missing", None),
            429: ("Too many attempts", None),
        },
        path_params=api.CasePath, query=api.Verified,
    ),
    Operation(
        "post", "/api/v1/complaints/{reference}/replies", "replyToComplaint",
        "The worker replies (reopens a recently resolved case)",
        {
            201: ("Reply stored", api.ReplyCreated),
            404: (_NOT_FOUND, None),
            409: ("The case no longer accepts replies", None),
            **COMMON,
        },
        body=api.ReplyCreate, path_params=api.CasePath,
    ),
    Operation(
        "post", "/api/v1/complaints/{reference}/rating", "rateComplaint",
        "Rate the service once the case is resolved",
        {
            201: ("Rating stored", api.Complaint),
            404: (_NOT_FOUND, None),
            409: ("Not resolved yet, or already rated", None),
            **COMMON,
        },
        body=api.RatingCreate, path_params=api.CasePath,
    ),
    Operation(
        "post", "/api/v1/complaints/{reference}/attachments", "attachToComplaint",
        "Add photos or PDFs to a case (images/PDF only, size-limited)",
        {
            201: ("Files stored", api.AttachmentsStored),
            _BAD[0]: _BAD[1],
            404: (_NOT_FOUND, None),
            409: ("The case is closed", None),
            413: ("A file is too large, or too many files", None),
            415: ("Not multipart, or a file is not an image or a PDF", None),
            422: ("Verification or files missing", None),
            429: ("Too many requests", None),
        },
        body=api.AttachmentUpload, media="multipart/form-data", path_params=api.CasePath,
    ),
    Operation(
        "get", "/api/v1/complaints/{reference}/attachments/{attachment_id}", "getComplaintAttachment",
        "Download a file listed on the case's timeline (`attachment_ids`)",
        {
            200: ("The file (image or PDF)", File),
            _BAD[0]: _BAD[1],
            404: ("No such case, verification or file", None),
            422: ("Verification missing", None),
            429: ("Too many attempts", None),
        },
        path_params=api.AttachmentPath, query=api.Verified,
        description="Only files the worker may see: their own and those an agent sent with a reply; "
        "never an internal note's. Always a download.",
    ),
    Operation(
        "post", "/api/v1/callbacks", "requestCallback", "Ask to be called back (served by the telephony package)",
        {201: ("Callback requested", api.CallbackCreated), **COMMON},
        body=CallbackCreate,
    ),
    Operation(
        "post", "/api/v1/voice-token", "createVoiceToken",
        "A short-lived token for an in-app/browser call (served by the telephony package)",
        {
            200: ("Token issued", api.VoiceToken),
            503: ("Calls from the browser are not configured", None),
            **COMMON,
        },
        body=VoiceTokenCreate, body_required=False,
    ),
)


def _models() -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Every model the document names: bodies as validated, responses as serialised."""
    found: dict[type[BaseModel], JsonSchemaMode] = {api.Error: "serialization"}
    for operation in OPERATIONS:
        if operation.body is not None:
            found[operation.body] = "validation"
        for _description, model in operation.responses.values():
            if model is not None and model is not File:
                found[model] = "serialization"  # type: ignore[index]
    return list(found.items())


def _parameters(model: type[BaseModel] | None, where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = {key: value for key, value in prop.items() if key != "title"}
        parameter: dict[str, Any] = {"name": name, "in": where, "required": where == "path" or name in required}
        if "description" in prop:
            parameter["description"] = prop.pop("description")
        parameter["schema"] = prop
        parameters.append(parameter)
    return parameters


def _content(media: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {media: {"schema": schema}}


def _operation(operation: Operation, refs: Mapping[tuple[Any, JsonSchemaMode], Any]) -> dict[str, Any]:
    error = {"$ref": REF.format(model="Error")}
    responses: dict[str, Any] = {}
    for status, (description, model) in operation.responses.items():
        if model is File:
            content = {media: {"schema": {"type": "string", "format": "binary"}} for media in FILE_TYPES}
        elif model is None:
            content = _content("application/json", error)
        else:
            content = _content("application/json", refs[(model, "serialization")])
        responses[str(status)] = {"description": description, "content": content}
    result: dict[str, Any] = {"operationId": operation.operation_id, "summary": operation.summary}
    if operation.description:
        result["description"] = operation.description
    parameters = _parameters(operation.path_params, "path") + _parameters(operation.query, "query")
    if parameters:
        result["parameters"] = parameters
    if operation.body is not None:
        body: dict[str, Any] = {"content": _content(operation.media, refs[(operation.body, "validation")])}
        if operation.body_required:
            body["required"] = True
        result["requestBody"] = body
    result["responses"] = responses
    return result


def document() -> dict[str, Any]:
    refs, definitions = models_json_schema(_models(), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "halopmi public API",
            "version": "1.0.0",
            "description": (
                "Intake for Indonesian migrant workers (PMI): complaints, case status and replies, "
                "callback requests and in-app calls. JSON in and out; errors are "
                '`{"error": {"code", "message", "fields"}}` with 4xx status codes.'
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {})},
    }
