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
# Keypad → IVR self-service (the claim-status option, offered in the topic menu to a caller whose
# KPJ was found) and the keys of its closing menu.
SELF_SERVICE_KEY = "8"
MENU_REPEAT, MENU_SMS, MENU_AGENT = "1", "2", "0"

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
    "self_service_offer": {
        "id": "Untuk mendengar status klaim Anda, tekan 8.",
        "en": "To hear the status of your claims, press 8.",
    },
    "birth_date_prompt": {
        "id": "Untuk melindungi data Anda, masukkan tanggal lahir Anda dengan delapan angka: "
        "tanggal, bulan, lalu tahun. Contoh, 17 Agustus 1990 adalah 1 7 0 8 1 9 9 0.",
        "en": "To protect your data, enter your date of birth as eight digits: day, month, then year. "
        "For example, 17 August 1990 is 1 7 0 8 1 9 9 0.",
    },
    "birth_date_invalid": {
        "id": "Itu bukan tanggal yang benar.",
        "en": "That is not a valid date.",
    },
    "birth_date_silence": {
        "id": "Kami tidak menerima tanggal lahir Anda.",
        "en": "We did not receive your date of birth.",
    },
    "birth_date_wrong": {
        "id": "Tanggal lahir tersebut tidak sesuai dengan data kami. Silakan coba lagi.",
        "en": "That date of birth does not match our records. Please try again.",
    },
    "self_service_refused": {
        "id": "Maaf, identitas Anda tidak dapat kami pastikan, jadi status klaim tidak dapat "
        "disampaikan melalui telepon. Petugas kami akan membantu Anda.",
        "en": "Sorry, we could not confirm your identity, so we cannot give your claim status by phone. "
        "An agent will help you.",
    },
    "self_service_locked": {
        "id": "Demi keamanan, layanan status klaim untuk nomor peserta ini sementara dikunci karena "
        "terlalu banyak tanggal lahir yang salah. Petugas kami akan membantu Anda.",
        "en": "For your security, claim status by phone is locked for a while for this membership number "
        "after too many wrong dates of birth. An agent will help you.",
    },
    "self_service_unavailable": {
        "id": "Maaf, identitas Anda tidak dapat kami periksa melalui telepon. Petugas kami akan membantu Anda.",
        "en": "Sorry, we cannot check your identity by phone. An agent will help you.",
    },
    "self_service_to_agent": {
        "id": "Baik, kami hubungkan Anda dengan petugas kami.",
        "en": "All right, we will put you through to an agent.",
    },
    "claims_none": {
        "id": "Tidak ada klaim yang sedang diproses atau baru selesai atas nama Anda.",
        "en": "You have no claims in progress or recently settled.",
    },
    "claims_count_one": {
        "id": "Anda memiliki satu klaim.",
        "en": "You have one claim.",
    },
    "claims_count": {
        "id": "Anda memiliki {count} klaim.",
        "en": "You have {count} claims.",
    },
    "claim_line": {
        "id": "Klaim {number}: {program}, {benefit}. Status: {status}. Perubahan terakhir: {date}.",
        "en": "Claim {number}: {program}, {benefit}. Status: {status}. Last change: {date}.",
    },
    "claim_line_undated": {
        "id": "Klaim {number}: {program}, {benefit}. Status: {status}.",
        "en": "Claim {number}: {program}, {benefit}. Status: {status}.",
    },
    "claim_target": {
        "id": "Menurut peraturan, klaim {program} dibayar paling lambat {days} hari kerja setelah berkas lengkap.",
        "en": "By law, a {program} claim is paid within {days} working days once the file is complete.",
    },
    "claim_no_target": {
        "id": "Peraturan tidak menetapkan batas waktu pembayaran untuk klaim {program}.",
        "en": "The law sets no payment deadline for {program} claims.",
    },
    "claims_more": {
        "id": "Ada {count} klaim lain. Petugas kami dapat menjelaskannya.",
        "en": "There are {count} more claims. An agent can tell you about them.",
    },
    "menu_repeat": {
        "id": "Untuk mendengar sekali lagi, tekan 1.",
        "en": "To hear this again, press 1.",
    },
    "menu_sms": {
        "id": "Untuk menerima status ini lewat SMS ke nomor ini, tekan 2.",
        "en": "To get this status by SMS on this number, press 2.",
    },
    "menu_agent": {
        "id": "Untuk berbicara dengan petugas, tekan 0. Jika sudah cukup, Anda dapat menutup telepon.",
        "en": "To talk to an agent, press 0. If that is all, you may hang up.",
    },
    "invalid_choice": {
        "id": "Pilihan tersebut tidak tersedia.",
        "en": "That is not one of the choices.",
    },
    "sms_on_its_way": {
        "id": "Status klaim Anda akan segera kami kirim lewat SMS ke nomor ini.",
        "en": "We will send your claim status to this number by SMS shortly.",
    },
    "sms_already_sent": {
        "id": "SMS status klaim sudah kami kirim ke nomor ini.",
        "en": "The SMS with your claim status has already been sent to this number.",
    },
    "program_JKK": {"id": "Jaminan Kecelakaan Kerja", "en": "work accident insurance"},
    "program_JKM": {"id": "Jaminan Kematian", "en": "death insurance"},
    "program_JHT": {"id": "Jaminan Hari Tua", "en": "old-age savings"},
    "benefit_medical_abroad": {"id": "perawatan medis di luar negeri", "en": "medical care abroad"},
    "benefit_disability": {"id": "santunan cacat", "en": "disability benefit"},
    "benefit_transport": {"id": "biaya transportasi", "en": "transport costs"},
    "benefit_failed_departure": {"id": "gagal berangkat", "en": "failed departure"},
    "benefit_scholarship": {"id": "beasiswa anak", "en": "scholarship for children"},
    "benefit_death_benefit": {"id": "santunan kematian", "en": "death benefit payment"},
    "benefit_funeral": {"id": "biaya pemakaman", "en": "funeral costs"},
    "benefit_periodic": {"id": "santunan berkala", "en": "periodic payments"},
    "benefit_balance": {"id": "saldo tabungan", "en": "savings balance"},
    "benefit_other": {"id": "manfaat lain", "en": "another benefit"},
    "claim_status_reported": {"id": "sudah dilaporkan", "en": "reported"},
    "claim_status_submitted": {"id": "sudah diajukan, menunggu diproses", "en": "submitted, waiting to be processed"},
    "claim_status_documents_incomplete": {
        "id": "dokumen belum lengkap, mohon lengkapi dokumen Anda",
        "en": "documents incomplete, please complete your documents",
    },
    "claim_status_verifying": {"id": "sedang diverifikasi", "en": "being verified"},
    "claim_status_medical_assessment": {"id": "dalam penilaian dokter penasihat", "en": "in medical assessment"},
    "claim_status_approved": {"id": "disetujui, menunggu pembayaran", "en": "approved, waiting for payment"},
    "claim_status_rejected": {"id": "ditolak", "en": "rejected"},
    "claim_status_paid": {"id": "sudah dibayar", "en": "paid"},
    "claim_status_closed": {"id": "selesai", "en": "closed"},
    "sms_claims_header": {
        "id": "BPJS Ketenagakerjaan, status klaim KPJ ...{kpj}:",
        "en": "BPJS Ketenagakerjaan, claim status for KPJ ...{kpj}:",
    },
    "sms_claim_line": {
        "id": "{code} ({benefit}), klaim no. {number}: {status}, perubahan terakhir {date}. {target}",
        "en": "{code} ({benefit}), claim no. {number}: {status}, last change {date}. {target}",
    },
    "sms_claim_line_undated": {
        "id": "{code} ({benefit}), klaim no. {number}: {status}. {target}",
        "en": "{code} ({benefit}), claim no. {number}: {status}. {target}",
    },
    "sms_target": {
        "id": "Dibayar maks. {days} hari kerja setelah berkas lengkap.",
        "en": "Paid within {days} working days of a complete file.",
    },
    "sms_no_target": {
        "id": "Tanpa batas waktu pembayaran dalam peraturan.",
        "en": "No payment deadline set by law.",
    },
    "sms_claims_none": {
        "id": "Tidak ada klaim yang sedang diproses atau baru selesai.",
        "en": "No claims in progress or recently settled.",
    },
    "sms_claims_more": {
        "id": "Dan {count} klaim lain: hubungi kami.",
        "en": "And {count} more claims: please call us.",
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
