"""The baseline for bench_webhooks.py: bare Flask answering the same webhook paths with a
constant TwiML document (no signature check, no database), served by the same gunicorn."""

from flask import Flask, Response

app = Flask(__name__)
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/telephony/voice/language" '
    'numDigits="1"><Say language="id-ID">Selamat datang. Tekan 1 untuk Bahasa Indonesia.</Say>'
    "</Gather></Response>"
)


@app.post("/telephony/voice/inbound")
def inbound() -> Response:
    return Response(TWIML, mimetype="application/xml")


@app.post("/telephony/voice/status")
def status() -> Response:
    return Response(status=204)


HOLD = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="id-ID">Anda nomor 250 dalam '
    "antrean. Perkiraan waktu tunggu sekitar 20 menit.</Say><Play>http://example.com/hold.mp3</Play>"
    "</Response>"
)


@app.post("/telephony/voice/wait")
def wait() -> Response:
    return Response(HOLD, mimetype="application/xml")


# The rest of a caller's way through the IVR, for bench_burst.py: the same URLs and the same shape
# of answer (a Gather whose action is the next step, the queue, a conference), constant documents.
def _gather(action: str) -> Response:
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="{action}" numDigits="1">'
        '<Say language="id-ID">Tekan angka pilihan Anda.</Say></Gather></Response>',
        mimetype="application/xml",
    )


@app.post("/telephony/voice/language")
def language() -> Response:
    return _gather("/telephony/voice/kpj?lang=id")


@app.post("/telephony/voice/kpj")
def kpj() -> Response:
    return _gather("/telephony/voice/topic?lang=id")


@app.post("/telephony/voice/topic")
def topic() -> Response:
    return Response(
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="id-ID">Mohon tunggu.</Say>'
        '<Enqueue action="/telephony/voice/queue-exit?lang=id" method="POST" waitUrl="/telephony/voice/wait?lang=id" '
        'waitUrlMethod="POST">halopmi-id</Enqueue></Response>',
        mimetype="application/xml",
    )


@app.post("/telephony/voice/queue-exit")
def queue_exit() -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response />', mimetype="application/xml")
