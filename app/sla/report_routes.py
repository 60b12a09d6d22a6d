"""SLA reports for supervisors (``/supervisor/sla``): compliance, breaches, CSV exports."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context

from app.core.policy import require
from app.sla import reports
from app.tickets.models import CATEGORIES

bp = Blueprint("sla_reports", __name__, url_prefix="/supervisor/sla")


def _period() -> reports.Period:
    return reports.parse_period(request.args.get("from"), request.args.get("to"))


def _dimension() -> str:
    dimension = request.args.get("by") or "category"
    if dimension not in reports.DIMENSIONS:
        raise reports.ReportError("unknown dimension")
    return dimension


@bp.get("/")
@require("supervisor.view")
def compliance():
    args: dict[str, Any] = {"by": request.args.get("by") or "category",
                            "from": request.args.get("from") or "", "to": request.args.get("to") or ""}
    try:
        period, dimension = _period(), _dimension()
    except reports.ReportError as exc:
        return render_template("sla/report.html", error=str(exc), rows=[], total=None, args=args,
                               dimensions=reports.DIMENSIONS, definitions=reports.DEFINITIONS, period=None), 400
    rows = reports.compliance(dimension, period)
    return render_template(
        "sla/report.html",
        rows=rows,
        total=reports.totals(rows),
        args={**args, "from": period.start.isoformat(), "to": period.end.isoformat(), "by": dimension},
        dimensions=reports.DIMENSIONS,
        definitions=reports.DEFINITIONS,
        period=period,
        error=None,
    )


@bp.get("/compliance.csv")
@require("reports.export")
def compliance_csv():
    try:
        period, dimension = _period(), _dimension()
    except reports.ReportError as exc:
        return Response(str(exc) + "\n", status=400, mimetype="text/plain")
    body = reports.rows_csv(dimension, reports.compliance(dimension, period))
    name = f"sla-compliance-{dimension}-{period.start}-{period.end}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/tickets.csv")
@require("reports.export")
def tickets_csv():
    try:
        period = _period()
    except reports.ReportError as exc:
        return Response(str(exc) + "\n", status=400, mimetype="text/plain")
    name = f"sla-tickets-{period.start}-{period.end}.csv"
    return Response(
        stream_with_context(reports.export_tickets(period)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/breaches")
@require("supervisor.view")
def breaches():
    target = request.args.get("target") or None
    category = request.args.get("category") or None
    page = request.args.get("page", "1")
    args = {"from": request.args.get("from") or "", "to": request.args.get("to") or "",
            "target": target or "", "category": category or ""}
    error = None
    if target not in (None, "first_response", "resolution") or category not in (None, *CATEGORIES) or not page.isdigit():
        error = "invalid filter"
    try:
        period = _period()
    except reports.ReportError as exc:
        error, period = str(exc), None
    if error or period is None:
        return render_template("sla/breaches.html", error=error, rows=[], args=args, categories=CATEGORIES,
                               page=1), 400
    number = max(1, int(page))
    rows = reports.breaches(period, target=target, category=category, limit=100, offset=(number - 1) * 100)
    return render_template(
        "sla/breaches.html",
        rows=rows,
        args={**args, "from": period.start.isoformat(), "to": period.end.isoformat()},
        categories=CATEGORIES,
        page=number,
        error=None,
    )
