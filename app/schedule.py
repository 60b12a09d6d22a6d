"""Every periodic job of the application, and the setting that holds its period (seconds).

A declaration, not a registry: the factory installs this table on the app
(:func:`app.core.scheduler.init_app`) and every ``flask jobs worker`` runs it
(:class:`app.core.scheduler.Scheduler`); ``flask jobs loops`` lists it. A new periodic job is a
row here and a documented setting in ``config.py`` and the README.
"""

from __future__ import annotations

from app.agents.tasks import tick
from app.core.outbox import OutboxDispatcher, outbox_recovery
from app.core.scheduler import PeriodicJob
from app.sla.sweep import sweep_due
from app.supervisor.rollup import roll_up_pass
from app.supervisor.wallboard import wallboard_step
from app.telephony.simulator import sms_status_step
from app.telephony.tasks import housekeeping as telephony_housekeeping
from app.tickets.tasks import housekeeping as tickets_housekeeping

PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("outbox", "OUTBOX_POLL_SECONDS", "moves recorded intents into rq", build=OutboxDispatcher),
    PeriodicJob(
        "outbox-recovery", "OUTBOX_RECOVERY_SECONDS", "re-enqueues intents whose rq job vanished",
        build=outbox_recovery,
    ),
    # Each step of the tick is a conditional UPDATE, so every worker may tick.
    PeriodicJob(
        "router", "ROUTER_TICK_SECONDS", "offer time-outs, wrap-up ends, lost consoles, skill relaxation",
        step=tick,
    ),
    PeriodicJob("sla", "SLA_SWEEP_SECONDS", "SLA warnings, breaches and escalations", step=sweep_due),
    PeriodicJob(
        "tickets", "TICKETS_HOUSEKEEPING_SECONDS", "resolved tickets closed after the reopen period; retention",
        step=tickets_housekeeping,
    ),
    PeriodicJob(
        "telephony", "TELEPHONY_HOUSEKEEPING_SECONDS", "call-back dials cut short by a crash; old call-back quotas",
        step=telephony_housekeeping,
    ),
    PeriodicJob(
        "telephony-simulator", "TELEPHONY_SIMULATOR_SECONDS", "SMS delivery reports without Twilio",
        build=sms_status_step, app_context=False,
    ),
    PeriodicJob(
        "wallboard", "SUPERVISOR_WALLBOARD_SECONDS", "supervisors' wallboard, pushed when it changes",
        build=wallboard_step,
    ),
    PeriodicJob(
        "supervision-rollup", "SUPERVISOR_ROLLUP_SECONDS", "finished days into call_facts for long reports",
        step=roll_up_pass,
    ),
)
