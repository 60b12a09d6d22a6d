"""Supervisor pages: the wallboard, the call reports, and their exports (supervisors, admins).

Routes are thin: parse the period (a bad one is a 400 with the reason), call one service in
``app.supervisor``, render or stream. Every CSV and the queue_log are streamed downloads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from app.console import LANGUAGES
from app.core.dates import reader_zone, zone_name
from app.core.errors import error_response
from app.core.policy import require
from app.core.time import utcnow
from app.supervisor import call_log, kpis, reports, staffing, trends, wallboard
from app.supervisor.charts import SERIES_COLOURS, bar_line_chart, trend_chart
from app.supervisor.exports import queue_log
from app.telephony.clicktocall import softphone_provider
from app.tickets.labels import category_choices

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
        topic_names=dict(category_choices()),
        reader_zone_name=zone_name(reader_zone()),
        softphone_provider=softphone_provider(),
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


@bp.get("/reports/call-log.csv")
@require("reports.export")
def call_log_csv() -> Any:
    """Every call of the period with its wrap-up disposition (code and label)."""
    from app.agents.wrapup import disposition_label

    period = _period()
    name = f"call-log-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return _download(call_log.call_log_csv(period, disposition_label), name, "text/csv")


# --- reports ------------------------------------------------------------------------------------

MAX_TABLE_ROWS = 500


def _key_names(dimension: str) -> dict[str, Any]:
    if dimension == "topic":
        return dict(category_choices())
    if dimension == "queue":
        return dict(LANGUAGES)
    return {kpis.ALL: _("All queues")}


def _bucket_label(bucket: Any, period: reports.Period) -> str:
    if period.interval == "day":
        return str(bucket.strftime("%Y-%m-%d"))
    if period.days == 1:
        return str(bucket.strftime("%H:%M"))
    return str(bucket.strftime("%m-%d %H:%M"))


@bp.get("/reports")
@require("supervisor.view")
def reports_index() -> Any:
    query = request.query_string.decode()
    return redirect(url_for("supervisor.calls_report") + (f"?{query}" if query else ""))


@bp.get("/reports/calls")
@require("supervisor.view")
def calls_report() -> Any:
    period = _period()
    report = reports.call_kpis(period)
    # Every interval of the period on the x axis, calls or not: a bar stands where its time is.
    buckets = trends.every_bucket(
        report.by_bucket(), period.start_at, period.end_at, period.interval, period.settings.zone
    )
    labels = [_bucket_label(bucket, period) for bucket, _figures in buckets]
    chart = bar_line_chart(
        labels,
        [figures.offered for _bucket, figures in buckets],
        [figures.service_level for _bucket, figures in buckets],
        title=_("Calls offered (bars) and service level (line) per interval"),
        target=period.settings.target_service_level,
    )
    daily = trends.daily_trends(period.start, period.end, period.settings)
    trend = trend_chart(
        [day.strftime("%d/%m") for day in daily.days],
        [
            (_("Service level"), daily.service_level),
            (_("Abandon rate"), daily.abandon_rate),
            (_("SLA compliance (tickets)"), daily.sla_compliance),
        ],
        title=_("Service level, abandon rate and ticket SLA compliance per day"),
        target=period.settings.target_service_level,
    )
    return render_template(
        "supervisor/reports/calls.html",
        period=period,
        report=report,
        rows=report.rows[:MAX_TABLE_ROWS],
        truncated=len(report.rows) > MAX_TABLE_ROWS,
        chart=chart,
        trend=trend,
        trends=daily,
        colours=SERIES_COLOURS,
        names=_key_names(period.dimension),
        bucket_label=lambda bucket: _bucket_label(bucket, period),
        definitions=kpis.definitions(period.settings),
        definitions_by_key={item["key"]: item for item in kpis.definitions(period.settings)},
        intervals=kpis.INTERVALS,
        dispositions=call_log.dispositions(period),
    )


@bp.get("/reports/agents")
@require("supervisor.view")
def agents_report() -> Any:
    period = _period()
    return render_template(
        "supervisor/reports/agents.html",
        period=period,
        rows=reports.agent_performance(period),
        dispositions=call_log.dispositions_by_agent(period),
        definitions=kpis.definitions(period.settings),
    )


@bp.get("/reports/agents.csv")
@require("reports.export")
def agents_csv() -> Any:
    period = _period()
    name = f"agents-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return _download(
        reports.agent_performance_csv(reports.agent_performance(period), period), name, "text/csv"
    )


@bp.get("/reports/satisfaction")
@require("supervisor.view")
def satisfaction_report() -> Any:
    period = _period()
    return render_template(
        "supervisor/reports/satisfaction.html",
        period=period,
        result=reports.satisfaction(period),
        names=dict(category_choices()),
        scores=reports.SCORES,
    )


@bp.get("/reports/satisfaction.csv")
@require("reports.export")
def satisfaction_csv() -> Any:
    period = _period()
    name = f"satisfaction-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return _download(reports.satisfaction_csv(reports.satisfaction(period), period), name, "text/csv")


def _staffing_plan() -> Any:
    args = request.args
    settings = kpis.KpiSettings.from_config()
    try:
        day = date.fromisoformat(args.get("day") or "") if args.get("day") else None
    except ValueError:
        raise reports.BadPeriod("day must be YYYY-MM-DD") from None
    if day is None:
        day = (utcnow().astimezone(settings.zone) + timedelta(days=1)).date()
    weeks = reports.int_arg(args, "weeks", int(current_app.config.get("STAFFING_WEEKS", 4)), 1, 26)
    queue = args.get("queue") or None
    return staffing.staffing_plan(day, weeks=weeks, queue=queue, settings=settings)


@bp.get("/reports/staffing")
@require("supervisor.view")
def staffing_report() -> Any:
    plan = _staffing_plan()
    chart = bar_line_chart(
        [row.slot.strftime("%H:%M") for row in plan.rows],
        [row.erlang_c.raw_agents if row.erlang_c else 0 for row in plan.rows],
        [row.agents_observed for row in plan.rows],
        title=_("Agents needed by Erlang C (bars) and agents logged in on those days (line)"),
        line_is_share=False,
    )
    return render_template("supervisor/reports/staffing.html", plan=plan, chart=chart, queue_names=LANGUAGES)


@bp.get("/reports/staffing.csv")
@require("reports.export")
def staffing_csv() -> Any:
    plan = _staffing_plan()
    return _download(staffing.staffing_csv(plan), f"staffing-{plan.day.isoformat()}.csv", "text/csv")
