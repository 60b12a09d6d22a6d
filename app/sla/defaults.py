"""The SLA set a new installation starts with (plain data; administrators edit it afterwards).

Sources (../shared/reference/domain.md §2): JKM is paid within 3 working days and JHT within 5
once the file is complete; public-service complaints (LAPOR!/agency SOPs) are verified within 3
working days and light ones resolved within 2, normative ones within 5, others within 14. An
emergency abroad (accident, death, a worker in danger) is answered around the clock.

The office calendar: Monday–Thursday 08:00–12:00 and 13:00–16:30, Friday 08:00–11:30 and
13:00–16:30 (the longer Friday prayer break), WIB, closed on Indonesian public holidays and cuti
bersama. A working day is 7.5 hours, so "N working days" is N × 450 business minutes.
"""

from __future__ import annotations

from typing import Any

WORKING_DAY_MINUTES = 450

OFFICE_CALENDAR: dict[str, Any] = {
    "name": "Jam kerja kantor BPJS (WIB)",
    "timezone": "Asia/Jakarta",
    "always_open": False,
    "holiday_country": "ID",
    "closed_on_cuti_bersama": True,
    "weekly": {
        "0": [["08:00", "12:00"], ["13:00", "16:30"]],
        "1": [["08:00", "12:00"], ["13:00", "16:30"]],
        "2": [["08:00", "12:00"], ["13:00", "16:30"]],
        "3": [["08:00", "12:00"], ["13:00", "16:30"]],
        "4": [["08:00", "11:30"], ["13:00", "16:30"]],
    },
}
ROUND_THE_CLOCK: dict[str, Any] = {
    "name": "24/7",
    "timezone": "Asia/Jakarta",
    "always_open": True,
    "holiday_country": None,
    "closed_on_cuti_bersama": False,
    "weekly": {},
}
# The call centre's opening hours (175 answered 06:00–22:00 WIB every day in 2021), closed on
# public holidays but not on cuti bersama: the IVR reads it (TELEPHONY_CALENDAR) to decide
# between the queue and voicemail.
CALL_CENTRE_CALENDAR: dict[str, Any] = {
    "name": "Pusat panggilan / Call centre (WIB)",
    "timezone": "Asia/Jakarta",
    "always_open": False,
    "holiday_country": "ID",
    "closed_on_cuti_bersama": False,
    "weekly": {str(day): [["06:00", "22:00"]] for day in range(7)},
}
CALENDARS = (OFFICE_CALENDAR, ROUND_THE_CLOCK, CALL_CENTRE_CALENDAR)

# Tried in this order; the first match applies. "calendar" names one of CALENDARS.
POLICIES: tuple[dict[str, Any], ...] = (
    {
        "name": "Darurat / Emergency",
        "position": 10,
        "categories": ["emergency"],
        "priorities": [],
        "channels": [],
        "first_response_minutes": 15,
        "resolution_minutes": 24 * 60,
        "calendar": "24/7",
        "warn_percent": 50,
        "escalate_priority": "urgent",
    },
    {
        "name": "Mendesak / Urgent",
        "position": 20,
        "categories": [],
        "priorities": ["urgent"],
        "channels": [],
        "first_response_minutes": 60,
        "resolution_minutes": 2 * 24 * 60,
        "calendar": "24/7",
        "warn_percent": 50,
        "escalate_priority": None,
    },
    {
        "name": "Klaim JKM (kematian) / Death claim",
        "position": 30,
        "categories": ["claim_jkm"],
        "priorities": [],
        "channels": [],
        "first_response_minutes": 120,
        "resolution_minutes": 3 * WORKING_DAY_MINUTES,
        "calendar": OFFICE_CALENDAR["name"],
        "warn_percent": 75,
        "escalate_priority": "high",
    },
    {
        "name": "Klaim JKK dan JHT / Accident and savings claims",
        "position": 40,
        "categories": ["claim_jkk", "claim_jht"],
        "priorities": [],
        "channels": [],
        "first_response_minutes": 240,
        "resolution_minutes": 5 * WORKING_DAY_MINUTES,
        "calendar": OFFICE_CALENDAR["name"],
        "warn_percent": 80,
        "escalate_priority": "high",
    },
    {
        "name": "Kepesertaan / Membership",
        "position": 50,
        "categories": ["membership", "contribution", "data_correction", "app_access", "benefit_info"],
        "priorities": [],
        "channels": [],
        "first_response_minutes": WORKING_DAY_MINUTES,
        "resolution_minutes": 5 * WORKING_DAY_MINUTES,
        "calendar": OFFICE_CALENDAR["name"],
        "warn_percent": 80,
        "escalate_priority": None,
    },
    {
        "name": "Pengaduan layanan / Service complaint",
        "position": 60,
        "categories": ["service_complaint"],
        "priorities": [],
        "channels": [],
        "first_response_minutes": 3 * WORKING_DAY_MINUTES,
        "resolution_minutes": 14 * WORKING_DAY_MINUTES,
        "calendar": OFFICE_CALENDAR["name"],
        "warn_percent": 80,
        "escalate_priority": "high",
    },
    {
        "name": "Umum / General",
        "position": 1000,
        "categories": [],
        "priorities": [],
        "channels": [],
        "first_response_minutes": WORKING_DAY_MINUTES,
        "resolution_minutes": 5 * WORKING_DAY_MINUTES,
        "calendar": OFFICE_CALENDAR["name"],
        "warn_percent": 80,
        "escalate_priority": None,
    },
)
