"""The OpenAPI 3.1 document of the public API (served at ``GET /api/openapi.json``).

Kept as a Python dict so it is reviewed with the code; tests validate real responses against
the schemas below (OpenAPI 3.1 schemas are JSON Schema 2020-12). The click-to-call paths are
served by ``app/telephony/api.py`` and described here from SPEC §4.
"""

from __future__ import annotations

from typing import Any

from app.tickets.models import CATEGORIES, STATUSES

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _json_body(ref: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _ok(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


REFERENCE_PARAM = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^PMI-[0-9]{4}-[0-9]{6,}$"},
    "example": "PMI-2026-000123",
}

COMMON_ERRORS = {
    "400": _error_response("Malformed JSON"),
    "415": _error_response("The body is not JSON"),
    "422": _error_response("Validation failed; `fields` names each field with its message"),
    "429": _error_response("Too many requests"),
}


def document() -> dict[str, Any]:
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
        "paths": {
            "/api/v1/complaints": {
                "post": {
                    "operationId": "createComplaint",
                    "summary": "File a complaint",
                    "requestBody": _json_body("#/components/schemas/ComplaintCreate"),
                    "responses": {
                        "201": _ok("Complaint stored", "#/components/schemas/ComplaintCreated"),
                        **COMMON_ERRORS,
                    },
                }
            },
            "/api/v1/complaints/{reference}": {
                "get": {
                    "operationId": "getComplaint",
                    "summary": "Status and public timeline of a complaint",
                    "parameters": [
                        REFERENCE_PARAM,
                        {
                            "name": "verification",
                            "in": "query",
                            "required": True,
                            "description": "The requester's birth date (YYYY-MM-DD) or the phone number on file",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": _ok("The case", "#/components/schemas/Complaint"),
                        "404": _error_response("No case with this reference and verification"),
                        "422": _error_response("Verification missing"),
                        "429": _error_response("Too many attempts"),
                    },
                }
            },
            "/api/v1/complaints/{reference}/replies": {
                "post": {
                    "operationId": "replyToComplaint",
                    "summary": "The worker replies (reopens a recently resolved case)",
                    "parameters": [REFERENCE_PARAM],
                    "requestBody": _json_body("#/components/schemas/ReplyCreate"),
                    "responses": {
                        "201": _ok("Reply stored", "#/components/schemas/ReplyCreated"),
                        "404": _error_response("No case with this reference and verification"),
                        "409": _error_response("The case no longer accepts replies"),
                        **COMMON_ERRORS,
                    },
                }
            },
            "/api/v1/complaints/{reference}/rating": {
                "post": {
                    "operationId": "rateComplaint",
                    "summary": "Rate the service once the case is resolved",
                    "parameters": [REFERENCE_PARAM],
                    "requestBody": _json_body("#/components/schemas/RatingCreate"),
                    "responses": {
                        "201": _ok("Rating stored", "#/components/schemas/Complaint"),
                        "404": _error_response("No case with this reference and verification"),
                        "409": _error_response("Not resolved yet, or already rated"),
                        **COMMON_ERRORS,
                    },
                }
            },
            "/api/v1/complaints/{reference}/attachments": {
                "post": {
                    "operationId": "attachToComplaint",
                    "summary": "Add photos or PDFs to a case (images/PDF only, size-limited)",
                    "parameters": [REFERENCE_PARAM],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["verification", "files"],
                                    "properties": {
                                        "verification": {"type": "string"},
                                        "files": {
                                            "type": "array",
                                            "items": {"type": "string", "format": "binary"},
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Files stored",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["reference", "stored", "files"],
                                        "properties": {
                                            "reference": {"type": "string"},
                                            "stored": {"type": "integer"},
                                            "files": {"type": "array", "items": {"type": "string"}},
                                        },
                                    }
                                }
                            },
                        },
                        "404": _error_response("No case with this reference and verification"),
                        "409": _error_response("The case is closed"),
                        "413": _error_response("A file is too large, or too many files"),
                        "415": _error_response("Not multipart, or a file is not an image or a PDF"),
                        "422": _error_response("Verification or files missing"),
                        "429": _error_response("Too many requests"),
                    },
                }
            },
            "/api/v1/complaints/{reference}/attachments/{attachment_id}": {
                "get": {
                    "operationId": "getComplaintAttachment",
                    "summary": "Download a file listed on the case's timeline (`attachment_ids`)",
                    "description": "Only files the worker may see: their own and those an agent sent "
                    "with a reply; never an internal note's. Always a download.",
                    "parameters": [
                        REFERENCE_PARAM,
                        {
                            "name": "attachment_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        },
                        {
                            "name": "verification",
                            "in": "query",
                            "required": True,
                            "description": "The requester's birth date (YYYY-MM-DD) or the phone number on file",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The file (image or PDF)",
                            "content": {
                                media: {"schema": {"type": "string", "format": "binary"}}
                                for media in ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
                            },
                        },
                        "404": _error_response("No such case, verification or file"),
                        "422": _error_response("Verification missing"),
                        "429": _error_response("Too many attempts"),
                    },
                }
            },
            "/api/v1/callbacks": {
                "post": {
                    "operationId": "requestCallback",
                    "summary": "Ask to be called back (served by the telephony package)",
                    "requestBody": _json_body("#/components/schemas/CallbackCreate"),
                    "responses": {
                        "201": {
                            "description": "Callback requested",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["id", "status"],
                                        "properties": {
                                            "id": {"type": "integer"},
                                            "status": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        },
                        **COMMON_ERRORS,
                    },
                }
            },
            "/api/v1/voice-token": {
                "post": {
                    "operationId": "createVoiceToken",
                    "summary": "A short-lived token for an in-app/browser call (served by the telephony package)",
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                        "200": {
                            "description": "Token issued",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["token", "identity", "expires_at"],
                                        "properties": {
                                            "token": {"type": "string"},
                                            "identity": {"type": "string"},
                                            "expires_at": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        },
                        "503": _error_response("Calls from the browser are not configured"),
                        **COMMON_ERRORS,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "fields"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                            },
                        }
                    },
                },
                "ComplaintCreate": {
                    "type": "object",
                    "required": ["name", "phone", "country", "category", "description"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 200},
                        "phone": {
                            "type": "string",
                            "description": "E.164 preferred; local numbers are read in `country`",
                        },
                        "email": {"type": "string"},
                        "kpj": {"type": "string", "description": "11 characters"},
                        "nik": {"type": "string", "description": "16 digits"},
                        "passport": {"type": "string", "pattern": "^[A-Za-z0-9]{6,9}$"},
                        "birth_date": {"type": "string", "format": "date"},
                        "country": {"type": "string", "description": "ISO 3166 alpha-2 placement country"},
                        "category": {"type": "string", "enum": list(CATEGORIES)},
                        "description": {"type": "string", "minLength": 10, "maxLength": 5000},
                        "language": {"type": "string", "enum": ["id", "en"], "default": "id"},
                    },
                },
                "ComplaintCreated": {
                    "type": "object",
                    "required": ["reference", "status"],
                    "properties": {
                        "reference": {"type": "string", "pattern": "^PMI-[0-9]{4}-[0-9]{6,}$"},
                        "status": {"type": "string", "enum": list(STATUSES)},
                    },
                },
                "TimelineEntry": {
                    "type": "object",
                    "required": ["kind", "at", "from", "attachments"],
                    "properties": {
                        "kind": {"type": "string"},
                        "at": {"type": "string", "format": "date-time"},
                        "from": {"type": "string", "enum": ["you", "agent"]},
                        "message": {"type": "string"},
                        "status": {"type": "string"},
                        "merged_into": {"type": "string"},
                        "attachments": {"type": "array", "items": {"type": "string"}},
                        "attachment_ids": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "description": "Ids of the files named in `attachments`, in the same order",
                        },
                    },
                },
                "Complaint": {
                    "type": "object",
                    "required": [
                        "reference",
                        "status",
                        "category",
                        "created_at",
                        "updated_at",
                        "timeline",
                        "can_reply",
                        "can_rate",
                    ],
                    "properties": {
                        "reference": {"type": "string"},
                        "status": {"type": "string", "enum": list(STATUSES)},
                        "category": {"type": "string", "enum": list(CATEGORIES)},
                        "created_at": {"type": "string", "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"},
                        "resolved_at": {"type": ["string", "null"], "format": "date-time"},
                        "merged_into": {"type": ["string", "null"]},
                        "csat_score": {"type": ["integer", "null"]},
                        "can_reply": {"type": "boolean"},
                        "can_rate": {"type": "boolean"},
                        "timeline": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/TimelineEntry"},
                        },
                    },
                },
                "ReplyCreate": {
                    "type": "object",
                    "required": ["verification", "message"],
                    "properties": {
                        "verification": {"type": "string"},
                        "message": {"type": "string", "maxLength": 5000},
                    },
                },
                "ReplyCreated": {
                    "type": "object",
                    "required": ["reference", "status"],
                    "properties": {
                        "reference": {"type": "string"},
                        "status": {"type": "string", "enum": list(STATUSES)},
                    },
                },
                "RatingCreate": {
                    "type": "object",
                    "required": ["verification", "score"],
                    "properties": {
                        "verification": {"type": "string"},
                        "score": {"type": "integer", "minimum": 1, "maximum": 5},
                        "comment": {"type": "string", "maxLength": 2000},
                    },
                },
                "CallbackCreate": {
                    "type": "object",
                    "required": ["phone", "language", "topic"],
                    "properties": {
                        "phone": {"type": "string"},
                        "language": {"type": "string"},
                        "topic": {"type": "string", "enum": list(CATEGORIES)},
                        "kpj": {"type": "string"},
                        "nik": {"type": "string"},
                        "preferred_window": {
                            "type": "object",
                            "description": 'The worker\'s local time window, e.g. {"start": "18:00", "end": "21:00"}',
                            "properties": {
                                "start": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                                "end": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                                "timezone": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    }
