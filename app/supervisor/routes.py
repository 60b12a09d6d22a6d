"""Supervisor pages: the wallboard, the call reports, and their exports (supervisors, admins).

Routes are thin: parse the period (a bad one is a 400 with the reason), call one service in
``app.supervisor``, render or stream. Every CSV and the queue_log are streamed downloads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, stream_with_context
from flask_babel import gettext as _

from app.agents.console import LANGUAGES
from app.agents.policy import require
from app.core.errors import error_response
from app.supervisor import kpis, reports, wallboard
from app.supervisor.exports import queue_log

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")


def _download(lines: Iterable[str], filename: str, mimetype: str) -> Response:
    response = Response(stream_with_context(iter(lines)), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(reports.BadPeriod)
def bad_period(exc: reports.BadPeriod) -> Any:
    return error_response(400, "bad_period", _("This period cannot be reported: %(reason)s", reason=str(exc)))


def _period(default_interval: str = "60") -> reports.Period:
    return reports.parse_period(request.args, default_interval=default_interval)


@bp.app_template_filter("kpi_pct")
def kpi_pct(value: float | None) -> str:
    """0.8731 → "87%" (the wallboard and the reports); no figure → an em dash."""
    return "—" if value is None else f"{value * 100:.0f}%"


@bp.app_template_filter("kpi_duration")
def kpi_duration(seconds: float | None) -> str:
    """Seconds as m:ss (or h:mm:ss); no figure → an em dash."""
    if seconds is None:
        return "—"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@bp.get("/")
@require("supervisor.view")
def index() -> Any:
    return render_template("supervisor/index.html")


@bp.get("/wallboard")
@require("supervisor.view")
def wallboard_page() -> Any:
    return render_template(
        "supervisor/wallboard.html",
        snapshot=wallboard.snapshot(),
        queue_names=LANGUAGES,
        definitions={item["key"]: item for item in kpis.definitions(kpis.KpiSettings.from_config())},
    )


@bp.get("/api/wallboard")
@require("supervisor.view")
def wallboard_api() -> Any:
    response = jsonify(wallboard.snapshot())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports/queue_log")
@require("reports.export")
def queue_log_download() -> Any:
    period = _period()
    name = f"queue_log-{period.start.isoformat()}-{period.end.isoformat()}.log"
    return _download(queue_log(period.start_at, period.end_at), name, "text/plain")


@bp.get("/reports/calls.csv")
@require("reports.export")
def calls_csv() -> Any:
    period = _period()
    report = reports.call_kpis(period)
    name = f"call-kpis-{period.dimension}-{period.interval}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return _download(reports.call_kpis_csv(report), name, "text/csv")
