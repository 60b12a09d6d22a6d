"""The OpenAPI description of the URLs Twilio calls: valid, complete (SPEC §4), and true to the
routes (each documented URL is a signed POST route)."""

from __future__ import annotations

from openapi_spec_validator import validate as validate_openapi

from app.telephony.openapi import document

# SPEC §4: the URLs configured in Twilio (stable names).
STABLE = {
    "/telephony/voice/inbound",
    "/telephony/voice/client",
    "/telephony/voice/status",
    "/telephony/voice/fallback",
    "/telephony/messaging/inbound",
    "/telephony/messaging/status",
}


def test_the_document_is_valid_openapi_and_lists_every_stable_url(client):
    response = client.get("/telephony/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    validate_openapi(doc)
    assert set(doc["paths"]) == STABLE


def test_every_documented_url_is_a_signed_post_route(app):
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}
    for path, item in document()["paths"].items():
        assert set(item) == {"post"}
        rule = rules[path]
        assert "POST" in (rule.methods or ())
        assert getattr(app.view_functions[rule.endpoint], "twilio_signed", False), path
        assert item["post"]["security"] == [{"twilioSignature": []}]
        assert {"400", "403"} <= set(item["post"]["responses"])


def test_the_inbound_message_documents_what_the_webhook_reads():
    form = document()["paths"]["/telephony/messaging/inbound"]["post"]["requestBody"]["content"]
    schema = form["application/x-www-form-urlencoded"]["schema"]
    assert {"MessageSid", "From", "Body", "NumMedia", "MediaUrl0", "MediaContentType0", "ProfileName"} <= set(
        schema["properties"]
    )
