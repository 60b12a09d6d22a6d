"""TwiML documents the webhooks answer with, built with Twilio's ``VoiceResponse``.

URLs are root-relative (Twilio resolves them against the URL it just fetched, so they stay on the
public host that signed requests are checked against). Follow-up URLs carry ``lang`` so that even
the fallback URL, which Twilio calls with ``ErrorUrl``, can apologise in the caller's language.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeAlias

from flask import Response, current_app, has_request_context, request, url_for
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from app.telephony.prompts import LANGUAGES, VOICES, language_or_default, text

QUEUE_PREFIX = "halopmi"
GATHER_TIMEOUT = 6
CONSENT_TIMEOUT = 4  # seconds the caller has to press a key and decline recording


P = ParamSpec("P")
TwiML: TypeAlias = VoiceResponse | str  # a document to answer with: built, or already rendered
MEMO_SIZE = 4096  # rendered documents kept per application; cleared whole when full


def xml(response: TwiML) -> Response:
    return Response(str(response), mimetype="application/xml")


def rendered(builder: Callable[P, VoiceResponse]) -> Callable[P, TwiML]:
    """Answer a webhook with ``builder``'s document rendered once per set of arguments.

    The menus and the hold document are the same for every caller in a language: building and
    serialising them again (a dozen ``url_for`` calls and an XML tree) was about a tenth of an
    inbound webhook's CPU on the profile. Only for builders whose document depends on nothing but
    their arguments, the request's root path and the hold music's URL (all in the key). Outside a
    request (TwiML sent from a job, with absolute URLs) they are built each time.
    """
    name = builder.__qualname__

    @functools.wraps(builder)
    def answer(*args: P.args, **kwargs: P.kwargs) -> TwiML:
        if not has_request_context():
            return builder(*args, **kwargs)
        memo: dict[tuple[Any, ...], str] = current_app.extensions.setdefault("halopmi.twiml", {})
        key = (
            name,
            args,
            tuple(sorted(kwargs.items())),
            request.script_root,
            current_app.config["TELEPHONY_HOLD_MUSIC_URL"],
        )
        document = memo.get(key)
        if document is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            document = memo[key] = str(builder(*args, **kwargs))
        return document

    return answer


def say(parent: VoiceResponse | Gather, key: str, language: str | None, **values: object) -> None:
    lang = language_or_default(language)
    parent.say(text(key, lang, **values), **VOICES[lang])


def _url(endpoint: str, language: str | None = None) -> str:
    if language:
        return url_for(endpoint, lang=language_or_default(language))
    return url_for(endpoint)


def webhook_url(endpoint: str, **values: Any) -> str:
    """One of our webhook URLs: root-relative while answering Twilio (it resolves them against
    the URL it fetched), absolute from ``PUBLIC_BASE_URL`` in jobs (TwiML sent through the REST
    API has no URL to resolve against)."""
    if has_request_context():
        return url_for(endpoint, **values)
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    base = current_app.config.get("PUBLIC_BASE_URL") or "http://localhost"
    return str(base).rstrip("/") + path


def recording_callback(call_id: int) -> str:
    """Where Twilio reports a recorded agent call (``kind="call"`` recordings)."""
    return webhook_url("telephony.voice_recording", call=call_id)


@rendered
def language_menu() -> VoiceResponse:
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, action=_url("telephony.voice_language"), method="POST", timeout=GATHER_TIMEOUT
    )
    for lang in LANGUAGES:  # each option in its own language
        say(gather, "language_menu", lang)
    # No key pressed: Bahasa Indonesia.
    response.redirect(_url("telephony.voice_language"), method="POST")
    return response


@rendered
def kpj_menu(language: str, prefix: str | None = None) -> VoiceResponse:
    response = VoiceResponse()
    if prefix:
        say(response, prefix, language)
    gather = response.gather(
        num_digits=11,
        finish_on_key="#",
        action=_url("telephony.voice_kpj", language),
        method="POST",
        timeout=GATHER_TIMEOUT + 4,
    )
    say(gather, "kpj_menu", language)
    response.redirect(_url("telephony.voice_kpj", language), method="POST")
    return response


@rendered
def topic_menu(language: str, prefix: str | None = None, *, self_service: bool = False) -> VoiceResponse:
    """The topic menu; ``self_service``: her KPJ was found, so claim status by keypad is offered."""
    response = VoiceResponse()
    if prefix:
        say(response, prefix, language)
    gather = response.gather(
        num_digits=1, action=_url("telephony.voice_topic", language), method="POST", timeout=GATHER_TIMEOUT
    )
    if self_service:
        say(gather, "self_service_offer", language)
    say(gather, "topic_menu", language)
    response.redirect(_url("telephony.voice_topic", language), method="POST")
    return response


def birth_date(language: str, *, attempt: int, again: int, prefix: tuple[str, ...] = ()) -> VoiceResponse:
    """Self-service: her birth date, eight digits (DDMMYYYY). The try and the re-prompts so far
    travel in the URL, so a replayed answer is recognised as the same try."""
    response = VoiceResponse()
    for key in prefix:
        say(response, key, language)
    action = url_for(
        "telephony.voice_self_service_birth_date", lang=language_or_default(language), attempt=attempt, again=again
    )
    gather = response.gather(
        num_digits=8, finish_on_key="#", action=action, method="POST", timeout=GATHER_TIMEOUT + 6
    )
    say(gather, "birth_date_prompt", language)
    response.redirect(action, method="POST")  # nothing entered: the same URL without Digits
    return response


def claim_statuses(
    language: str,
    sentences: tuple[str, ...] = (),
    *,
    prefix: tuple[str, ...] = (),
    repeat: bool,
    sms: bool,
    again: int = 0,
) -> VoiceResponse:
    """Self-service: her claims (``sentences``, already in her language, from the prompts), then
    the menu: 1 again, 2 SMS (when offered), 0 an agent. A key cuts the reading short."""
    response = VoiceResponse()
    lang = language_or_default(language)
    for key in prefix:
        say(response, key, language)
    action = url_for("telephony.voice_self_service_menu", lang=lang, again=again)
    gather = response.gather(num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT)
    for sentence in sentences:
        gather.say(sentence, **VOICES[lang])
    if repeat:
        say(gather, "menu_repeat", language)
    if sms:
        say(gather, "menu_sms", language)
    say(gather, "menu_agent", language)
    response.redirect(action, method="POST")  # no key: the same URL without Digits
    return response


def consent(language: str, action: str, greeting: tuple[str, ...] = ()) -> VoiceResponse:
    """The recording notice: any key declines; silence accepts (the action is then fetched
    without ``Digits``). Nothing is recorded before the answer."""
    response = VoiceResponse()
    for key in greeting:
        say(response, key, language)
    gather = response.gather(num_digits=1, action=action, method="POST", timeout=CONSENT_TIMEOUT)
    say(gather, "recording_notice", language)
    response.redirect(action, method="POST")
    return response


@rendered
def enqueue(language: str, topic: str | None = None, prefix: tuple[str, ...] = ()) -> VoiceResponse:
    response = VoiceResponse()
    for key in prefix:
        say(response, key, language)
    if topic == "emergency":
        say(response, "emergency_ack", language)
    say(response, "queued", language)
    response.enqueue(
        f"{QUEUE_PREFIX}-{language_or_default(language)}",
        action=_url("telephony.voice_queue_exit", language),
        method="POST",
        wait_url=_url("telephony.voice_wait", language),
        wait_url_method="POST",
    )
    return response


@rendered
def hold(
    language: str, position: int | None, wait_seconds: int | None, *, offer_callback: bool
) -> VoiceResponse:
    """The wait URL: position and estimated wait, the callback offer, then hold music."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, action=_url("telephony.voice_wait_key", language), method="POST", timeout=3
    )
    if position:
        say(gather, "position", language, position=position)
    if wait_seconds is not None:
        minutes = max(1, round(wait_seconds / 60))
        if minutes == 1:  # "about 1 minutes" read badly to English callers
            say(gather, "estimated_wait_one", language)
        else:
            say(gather, "estimated_wait", language, minutes=minutes)
    if offer_callback:
        say(gather, "press_for_callback", language)
    response.play(current_app.config["TELEPHONY_HOLD_MUSIC_URL"])
    return response


@rendered
def leave() -> VoiceResponse:
    response = VoiceResponse()
    response.leave()
    return response


@rendered
def goodbye(language: str, key: str = "goodbye") -> VoiceResponse:
    response = VoiceResponse()
    say(response, key, language)
    response.hangup()
    return response


def voicemail(language: str, prefix: list[str] | None = None) -> VoiceResponse:
    response = VoiceResponse()
    for key in prefix or ():
        if key == "closed":
            opening, _, closing = current_app.config["TELEPHONY_HOURS"].partition("-")
            say(response, key, language, open=opening.strip(), close=closing.strip())
        else:
            say(response, key, language)
    say(response, "voicemail", language)
    response.record(
        action=_url("telephony.voice_voicemail_done", language),
        method="POST",
        max_length=120,
        play_beep=True,
        timeout=5,
        recording_status_callback=_url("telephony.voice_recording"),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    say(response, "voicemail_thanks", language)
    response.hangup()
    return response


def conference(
    name: str,
    *,
    language: str | None,
    agent: bool,
    greeting: tuple[str, ...] = ("connecting",),
    starts: bool | None = None,
    record_callback: str | None = None,
    agent_id: int | None = None,
) -> VoiceResponse:
    """Join conference ``name``: the agent's leg ends it; by default it also starts it and the
    worker's waits (``starts`` overrides: a call-back's conference starts with the worker).

    ``record_callback``: record the conference from its start and report the recording there.
    The leg that starts a conference decides its recording, so callers set the same on every leg
    that may start it, and only once the caller's consent is known.

    Every leg asks for the conference's status callbacks (start, end, join, leave) and carries a
    participant label (``agent-<id>`` or ``caller``) so they say who joined or left. When the
    conference ends, the caller's leg asks what next (``after-conference``): back to the queue
    after a transfer, else goodbye.
    """
    response = VoiceResponse()
    if not agent and language:
        for key in greeting:
            say(response, key, language)
    dial = Dial()
    options: dict[str, object] = {
        "start_conference_on_enter": agent if starts is None else starts,
        "end_conference_on_exit": agent,
        "beep": False,
    }
    if not agent:
        options["wait_url"] = current_app.config["TELEPHONY_HOLD_MUSIC_URL"]
    options.update(
        status_callback=webhook_url("telephony.voice_conference"),
        status_callback_method="POST",
        status_callback_event="start end join leave",
        participant_label=f"agent-{agent_id}" if agent and agent_id else ("agent" if agent else "caller"),
    )
    if record_callback:
        options.update(
            record="record-from-start",
            recording_status_callback=record_callback,
            recording_status_callback_method="POST",
            recording_status_callback_event="completed",
        )
    dial.conference(name, **options)
    response.append(dial)
    if not agent:
        after = webhook_url("telephony.voice_after_conference", lang=language_or_default(language), conference=name)
        response.redirect(after, method="POST")
    return response


def supervisor_conference(name: str, *, label: str, muted: bool, coach: str | None) -> VoiceResponse:
    """A supervisor's softphone joins the agent's conference ``name``: muted (listen), as the
    coach of leg ``coach`` whom only that leg hears (whisper), or neither (barge). The leg never
    starts the conference (it joins one the agent is in) nor ends it when it leaves; its label
    makes the conference's status callbacks say which supervision joined or left."""
    response = VoiceResponse()
    dial = Dial()
    options: dict[str, object] = {
        "muted": muted,
        "beep": False,
        "start_conference_on_enter": False,
        "end_conference_on_exit": False,
        "status_callback": webhook_url("telephony.voice_conference"),
        "status_callback_method": "POST",
        "status_callback_event": "start end join leave",
        "participant_label": label,
    }
    if coach:
        options["coach"] = coach
    dial.conference(name, **options)
    response.append(dial)
    return response


def not_allowed(language: str | None = None) -> VoiceResponse:
    response = VoiceResponse()
    say(response, "not_allowed", language)
    response.hangup()
    return response


def empty() -> VoiceResponse:
    return VoiceResponse()


def fallback(language: str | None) -> VoiceResponse:
    """Apology + voicemail offer; built from constants only (no database on this path)."""
    response = VoiceResponse()
    languages = [language] if language in LANGUAGES else list(LANGUAGES)
    for lang in languages:
        say(response, "apology", lang)
        say(response, "voicemail", lang)
    lang = languages[0]
    response.record(
        action=_url("telephony.voice_fallback_done", lang),
        method="POST",
        max_length=120,
        play_beep=True,
        timeout=5,
        recording_status_callback=_url("telephony.voice_recording"),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    for lang in languages:
        say(response, "voicemail_thanks", lang)
    response.hangup()
    return response
