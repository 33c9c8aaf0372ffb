"""The daily report (SPEC §9): written by the hourly job at the digest's hour, read by the console.

- ``write_daily_report``: the report of one day (the day that just ended when the digest goes
  out): the KPI counters of the day and of the weeks before it (a query a month), the tenant's
  agents when someone visited (their names), the HTML, its PDF, both put in the data bucket at
  ``reports/<tenant_id>/daily/<date>.html`` and ``.pdf``. Rewriting a day is harmless. A PDF that
  cannot be rendered (no renderer where this runs, or a rendering error) is logged and counted,
  and the HTML is written all the same.
- ``daily_report``: ``GET /v1/reports/daily/{date}``, presigned GET URLs of a day's report.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Mapping, TypedDict
from zoneinfo import ZoneInfo

from ..core import clock, pagination
from ..core.errors import Invalid, NotFound
from ..core.instants import utc_stamp
from ..core.observability import logger, metrics
from ..core.tables import TenantModel
from ..kpis import service as kpis_service
from ..visits import agents as agents_repo
from . import render, rules
from . import store as reports_repo

#: How long the console's links to a report work.
URL_SECONDS = 300


class Written(TypedDict):
    """What ``write_daily_report`` wrote: the day, the HTML's key, the PDF's key (None when the
    PDF could not be rendered) and what became of the PDF: written, unavailable or failed."""
    day: str
    html_key: str
    pdf_key: str | None
    pdf: str


def write_daily_report(tenant: TenantModel, policy: Mapping[str, Any], day: date, now: datetime) -> Written:
    """Writes the tenant's daily report of ``day`` (HTML, and PDF when it can be rendered)."""
    tenant_id = tenant.tenant_id
    figures = kpis_service.report_figures(tenant_id, policy, day, rules.HOURS_DAYS, rules.AGENT_DAYS)
    local = now.astimezone(ZoneInfo(tenant.timezone))
    context = rules.build_report(
        figures, lender=tenant.name, day=day.isoformat(), generated_at=f"{local:%Y-%m-%d %H:%M} ({tenant.timezone})",
        currency=str(policy.get("currency", "MXN")), locale=rules.locale_of(policy), agent_names=_agent_names(tenant_id, figures))
    page = render.html(context)
    document, outcome = None, "written"
    try:
        document = render.pdf(page)
    except render.RendererUnavailable as exc:
        outcome = "unavailable"
        logger.warning("daily report: the PDF renderer is unavailable, HTML only",
                       extra={"tenant_id": tenant_id, "day": day.isoformat(), "error": str(exc)})
    except Exception as exc:  # a PDF is a copy of the HTML: its failure must not lose the report (nor the digest)
        outcome = "failed"
        logger.warning("daily report: the PDF was not rendered, HTML only",
                       extra={"tenant_id": tenant_id, "day": day.isoformat(), "error": type(exc).__name__})
    if outcome != "written":
        metrics.add_metric(name=f"DailyReportPdf_{outcome}", unit="Count", value=1)
    keys = reports_repo.put_report(tenant_id, day.isoformat(), page.encode("utf-8"), document)
    metrics.add_metric(name="DailyReportWritten", unit="Count", value=1)
    logger.info("daily report written", extra={"tenant_id": tenant_id, "day": day.isoformat(), "pdf": outcome})
    return {"day": day.isoformat(), "html_key": keys[-1], "pdf_key": keys[0] if document is not None else None,
            "pdf": outcome}


def _agent_names(tenant_id: str, figures: Mapping[str, Any]) -> dict[str, str]:
    """The names of the agents the report lists (one query of the team, only when someone visited)."""
    if not figures["agents"] and not figures["agents_window"]["agents"]:
        return {}
    return {str(a["agent_id"]): str(a["name"]) for a in agents_repo.list_agents(tenant_id) if a.get("name")}


def _day(raw: str) -> date:
    day = pagination.parse_day(raw, "date")
    if day is None:  # a path's date is never empty; said all the same
        raise Invalid("bad_request", "date must be a date, YYYY-MM-DD", [{"field": "date"}])
    return day


def daily_report(tenant_id: str, raw_date: str) -> dict[str, Any]:
    """``GET /v1/reports/daily/{date}``: presigned GET URLs (valid ``URL_SECONDS``) of the tenant's
    report of that day; 404 when there is none (another tenant's is never looked at)."""
    day = _day(raw_date)
    urls = reports_repo.report_urls(tenant_id, day.isoformat(), URL_SECONDS)
    if urls is None:
        raise NotFound("not_found", f"no daily report for {day.isoformat()}")
    return {"date": day.isoformat(), "html_url": urls[0], "pdf_url": urls[1],
            "expires_at": utc_stamp(clock.utcnow() + timedelta(seconds=URL_SECONDS))}
