"""A correctly signed webhook that lacks the sid naming its call or message is a 400, never a 500.

Twilio always sends ``CallSid`` (voice) or ``MessageSid`` (messaging); a signed request without
one can only come from someone holding the token or a broken proxy, and must be refused plainly
(issue 12, item 4: ten endpoints answered 500).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.telephony.conftest import call_params
from tests.telephony.test_signature import WEBHOOKS

VOICE = [path for path in WEBHOOKS if "/voice/" in path] + [
    "/telephony/voice/consent",
    "/telephony/voice/conference",
    "/telephony/voice/after-conference",
]


# The id each webhook is about: conference events and recording reports name their conference or
# recording (Twilio leaves CallSid out of some of them); every other voice webhook names a call.
NAMED_BY = {"/telephony/voice/conference": "ConferenceSid", "/telephony/voice/recording": "RecordingSid"}


@pytest.mark.parametrize("path", sorted(set(VOICE)))
def test_signed_voice_webhook_without_its_sid_is_a_400(post: Any, path: str) -> None:
    params = call_params()
    del params["CallSid"]
    response = post(path, params)
    assert response.status_code == 400, (path, response.status_code, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize("path", sorted(set(VOICE)))
def test_signed_voice_webhook_with_a_malformed_call_sid_is_a_400(post: Any, path: str) -> None:
    params = call_params(sid="x" * 5000)
    if path in NAMED_BY:
        params[NAMED_BY[path]] = NAMED_BY[path][:2].upper() + "1" * 32
    response = post(path, params)
    assert response.status_code == 400, (path, response.status_code)


def test_a_sid_with_other_characters_is_a_400(post: Any) -> None:
    response = post("/telephony/voice/status", call_params(sid="CA1'; DROP TABLE calls;--"))
    assert response.status_code == 400


def test_signed_message_status_without_message_sid_is_a_400(post: Any) -> None:
    response = post("/telephony/messaging/status", {"MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32})
    assert response.status_code == 400


def test_a_complete_signed_webhook_still_answers(post: Any) -> None:
    response = post("/telephony/voice/inbound", call_params())
    assert response.status_code == 200
    assert b"<Response>" in response.data
