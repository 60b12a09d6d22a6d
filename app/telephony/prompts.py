"""IVR prompts in Bahasa Indonesia and English.

The caller picks the language per call, so these are not gettext strings (whose language follows
the web request): each prompt is ``{key: {"id": …, "en": …}}`` and :func:`text` picks one.
A test checks that every prompt exists in both languages.
"""

from __future__ import annotations

from app.core.i18n import LANGUAGES

DEFAULT_LANGUAGE = "id"

# Twilio <Say> language and voice per caller language.
VOICES: dict[str, dict[str, str]] = {
    "id": {"language": "id-ID", "voice": "Google.id-ID-Standard-A"},
    "en": {"language": "en-US", "voice": "Polly.Joanna"},
}

# Keypad → topic (ticket category, app/tickets/models.py CATEGORIES).
TOPIC_KEYS: dict[str, str] = {
    "1": "claim_jkk",
    "2": "claim_jkm",
    "3": "claim_jht",
    "4": "membership",
    "5": "benefit_info",
    "9": "emergency",
    "0": "other",
}

PROMPTS: dict[str, dict[str, str]] = {
    "language_menu": {
        "id": "Selamat datang di layanan BPJS Ketenagakerjaan untuk Pekerja Migran Indonesia. "
        "Untuk Bahasa Indonesia, tekan 1.",
        "en": "Welcome to BPJS Ketenagakerjaan for Indonesian migrant workers. For English, press 2.",
    },
    "kpj_menu": {
        # The eleventh digit ends the entry (numDigits=11): a hash pressed after it, as a menu
        # asking for one would invite, reached the next menu as a wrong choice.
        "id": "Jika Anda memiliki nomor kartu peserta KPJ, masukkan kesebelas digitnya. "
        "Jika tidak, tekan tanda pagar.",
        "en": "If you have your KPJ membership number, enter its eleven digits. "
        "Otherwise, press the hash key.",
    },
    "kpj_found": {
        "id": "Terima kasih, nomor peserta Anda ditemukan.",
        "en": "Thank you, we found your membership.",
    },
    "kpj_not_found": {
        "id": "Nomor tersebut tidak kami temukan. Kami tetap akan membantu Anda.",
        "en": "We could not find that number. We will still help you.",
    },
    "topic_menu": {
        "id": "Untuk klaim kecelakaan kerja, tekan 1. Klaim jaminan kematian, tekan 2. "
        "Jaminan hari tua, tekan 3. Kepesertaan dan iuran, tekan 4. Informasi manfaat, tekan 5. "
        "Untuk keadaan darurat, tekan 9. Untuk hal lain, tekan 0.",
        "en": "For a work accident claim, press 1. Death benefit claim, press 2. Old-age savings, press 3. "
        "Membership and contributions, press 4. Benefit information, press 5. "
        "For an emergency, press 9. For anything else, press 0.",
    },
    "emergency_ack": {
        "id": "Panggilan darurat Anda kami prioritaskan.",
        "en": "Your emergency call is being prioritised.",
    },
    "queued": {
        "id": "Mohon tunggu, panggilan Anda akan segera dijawab oleh petugas kami.",
        "en": "Please hold, one of our agents will answer your call shortly.",
    },
    "position": {
        "id": "Anda berada di urutan ke {position}.",
        "en": "You are number {position} in the queue.",
    },
    "estimated_wait": {
        "id": "Perkiraan waktu tunggu sekitar {minutes} menit.",
        "en": "The estimated wait is about {minutes} minutes.",
    },
    "estimated_wait_one": {
        "id": "Perkiraan waktu tunggu sekitar 1 menit.",
        "en": "The estimated wait is about one minute.",
    },
    "press_for_callback": {
        "id": "Untuk kami telepon kembali ke nomor ini tanpa menunggu, tekan 1.",
        "en": "To be called back on this number instead of waiting, press 1.",
    },
    "callback_confirmed": {
        "id": "Terima kasih. Kami akan menelepon Anda kembali ke nomor ini. Sampai jumpa.",
        "en": "Thank you. We will call you back on this number. Goodbye.",
    },
    "callback_unavailable": {
        "id": "Maaf, kami tidak dapat menelepon kembali nomor ini. Mohon tetap menunggu.",
        "en": "Sorry, we cannot call this number back. Please stay on the line.",
    },
    "closed": {
        "id": "Layanan kami buka pukul {open} sampai {close} waktu Jakarta.",
        "en": "We are open from {open} to {close} Jakarta time.",
    },
    "voicemail": {
        "id": "Silakan tinggalkan pesan setelah nada, sebutkan nama dan keperluan Anda. "
        "Kami akan menelepon Anda kembali.",
        "en": "Please leave a message after the tone with your name and what you need. "
        "We will call you back.",
    },
    "voicemail_thanks": {
        "id": "Terima kasih, pesan Anda sudah kami terima. Sampai jumpa.",
        "en": "Thank you, we have received your message. Goodbye.",
    },
    "long_wait": {
        "id": "Maaf, semua petugas kami masih sibuk.",
        "en": "Sorry, all our agents are still busy.",
    },
    "apology": {
        "id": "Maaf, sistem kami sedang mengalami gangguan.",
        "en": "Sorry, our system is having a problem.",
    },
    "connecting": {
        "id": "Anda akan dihubungkan dengan petugas kami.",
        "en": "Connecting you to an agent.",
    },
    "transferring": {
        "id": "Mohon tunggu, panggilan Anda sedang dialihkan ke petugas lain.",
        "en": "Please hold, your call is being transferred to another agent.",
    },
    "callback_greeting": {
        "id": "Halo, ini BPJS Ketenagakerjaan menelepon kembali sesuai permintaan Anda.",
        "en": "Hello, this is BPJS Ketenagakerjaan returning your call as you requested.",
    },
    "recording_notice": {
        "id": "Untuk menjaga mutu layanan, pembicaraan ini akan direkam. "
        "Jika Anda tidak ingin direkam, tekan tombol apa saja sekarang.",
        "en": "To keep our service quality, this call will be recorded. "
        "If you do not want it recorded, press any key now.",
    },
    "recording_declined": {
        "id": "Baik, pembicaraan ini tidak akan direkam.",
        "en": "Understood, this call will not be recorded.",
    },
    "not_allowed": {
        "id": "Maaf, panggilan ini tidak dapat dilanjutkan.",
        "en": "Sorry, this call cannot be completed.",
    },
    "goodbye": {
        "id": "Terima kasih telah menghubungi BPJS Ketenagakerjaan. Sampai jumpa.",
        "en": "Thank you for calling BPJS Ketenagakerjaan. Goodbye.",
    },
    "callback_sms": {
        "id": "BPJS Ketenagakerjaan mencoba menelepon Anda kembali tetapi tidak terhubung. "
        "Silakan hubungi kami kembali atau ajukan permintaan baru. Ref: {reference}",
        "en": "BPJS Ketenagakerjaan tried to call you back but could not reach you. "
        "Please call us again or make a new request. Ref: {reference}",
    },
}


def language_or_default(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def text(key: str, language: str | None, **values: object) -> str:
    """The prompt ``key`` in ``language`` (Bahasa Indonesia when unknown), with values filled in."""
    template = PROMPTS[key][language_or_default(language)]
    return template.format(**values) if values else template
