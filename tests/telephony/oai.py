"""A fake ``twilio.http.HttpClient`` that checks every request against Twilio's OpenAPI document.

Each outbound request must name an operation that exists (method + path template) with path
values that match their schemas (a conference's ``CF…`` sid where one is declared), send only
parameters that operation declares (form body or query), include the required ones, and use
valid enum values (schema enums, or the values the description lists after "Can be:") and, for
``format: uri`` parameters (callback URLs), absolute http(s) URLs. It answers with the
operation's own example response, or with a queued error.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twilio.http import HttpClient
from twilio.http.response import Response

SPEC_PATH = Path("/work/shared/twilio-oai/twilio_api_v2010.json")
if not SPEC_PATH.exists():  # a checkout next to the repository
    SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "twilio-oai" / "twilio_api_v2010.json"


class ContractViolation(AssertionError):
    pass


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in spec()["paths"]:
        # Each {Name} becomes a named group, so the values in the path can be checked too.
        pattern = "^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        out.append((re.compile(pattern), template))
    return out


def _check_path(template: str, operation: dict[str, Any], values: dict[str, str]) -> None:
    """Path parameters (a conference's ``CF…`` sid, a call's ``CA…``) against their schemas."""
    declared = {p["name"]: p.get("schema", {}) for p in operation.get("parameters", []) if p.get("in") == "path"}
    for name, value in values.items():
        schema = declared.get(name, {})
        pattern = schema.get("pattern")
        if pattern and not re.match(pattern, value):
            raise ContractViolation(f"{template}: path {name}={value!r} does not match {pattern}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            raise ContractViolation(f"{template}: path {name}={value!r} has the wrong length")


def _allowed_values(schema: dict[str, Any]) -> list[str] | None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec()["components"]["schemas"][name]
    if "enum" in schema:
        return [str(v) for v in schema["enum"]]
    if schema.get("type") == "array":
        from_items = _allowed_values(schema.get("items", {}))
        if from_items is not None:
            return from_items
    match = re.search(r"Can be:?(.*?)(?:\.\s|$)", schema.get("description", ""), re.S)
    if match:
        values = re.findall(r"`([^`]+)`", match.group(1))
        return values or None
    return None


class OpenAPICheckedHttpClient(HttpClient):
    def __init__(self) -> None:
        super().__init__(logging.getLogger("twilio.fake"), False)
        self.requests: list[dict[str, Any]] = []
        self.errors: list[tuple[int, dict[str, Any]]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []

    def fail_next(self, status: int, code: int = 20500, message: str = "error") -> None:
        self.errors.append((status, {"code": code, "message": message, "more_info": "", "status": status}))

    def answer_next(self, status: int, body: dict[str, Any]) -> None:
        """Answer the next request with ``body`` instead of the operation's example."""
        self.answers.append((status, body))

    def example(self, method: str, url: str, status: str = "200") -> dict[str, Any]:
        """The operation's own example response (to adapt for :meth:`answer_next`)."""
        _template, operation = self.operation(method, url)
        examples = operation["responses"][status]["content"]["application/json"]["examples"]
        return json.loads(json.dumps(next(iter(examples.values()))["value"]))

    def operation(self, method: str, url: str) -> tuple[str, dict[str, Any]]:
        parts = urlsplit(url)
        if parts.netloc != "api.twilio.com":
            raise ContractViolation(f"unexpected host {parts.netloc}")
        for pattern, template in _templates():
            match = pattern.match(parts.path)
            if match:
                operation = spec()["paths"][template].get(method.lower())
                if operation is None:
                    raise ContractViolation(f"{method} not allowed on {template}")
                _check_path(template, operation, match.groupdict())
                return template, operation
        raise ContractViolation(f"no operation for {parts.path}")

    def check(
        self, method: str, url: str, params: dict[str, Any] | None, data: dict[str, Any] | None
    ) -> dict[str, Any]:
        template, operation = self.operation(method, url)
        if data:
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/x-www-form-urlencoded", {}).get("schema", {})
            properties = schema.get("properties", {})
            for name in schema.get("required", []):
                if name not in data:
                    raise ContractViolation(f"{template}: missing required {name}")
            self._check_values(template, properties, data)
        if params:
            declared = {
                p["name"]: p.get("schema", {})
                for p in operation.get("parameters", [])
                if p.get("in") == "query"
            }
            self._check_values(template, declared, params)
        return operation

    @staticmethod
    def _check_values(template: str, declared: dict[str, Any], values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name not in declared:
                raise ContractViolation(f"{template}: unknown parameter {name}")
            allowed = _allowed_values(declared[name])
            uri = declared[name].get("format") == "uri"
            for item in value if isinstance(value, list) else [value]:
                if allowed is not None and str(item) not in allowed:
                    raise ContractViolation(f"{template}: {name}={item!r} not in {allowed}")
                if uri:
                    parts = urlsplit(str(item))
                    if parts.scheme not in ("http", "https") or not parts.netloc:
                        raise ContractViolation(f"{template}: {name}={item!r} is not an absolute URL")

    def request(
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = False,
    ) -> Response:
        operation = self.check(method, url, params, data)
        self.requests.append({"method": method, "url": url, "params": params, "data": data, "auth": auth})
        if self.errors:
            status, body = self.errors.pop(0)
            return Response(status, json.dumps(body))
        if self.answers:
            status, body = self.answers.pop(0)
            return Response(status, json.dumps(body))
        for status, response in operation["responses"].items():
            examples = response.get("content", {}).get("application/json", {}).get("examples")
            if examples:
                first = next(iter(examples.values()))
                return Response(int(status), json.dumps(first["value"]))
        return Response(int(next(iter(operation["responses"]))), "")
