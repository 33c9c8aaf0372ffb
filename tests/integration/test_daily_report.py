"""SPEC §9: the daily report per tenant, on moto.

Given a tenant's day of work (a night, its emails, payments, calls, a promise, visits by its
agents), when the hourly job reaches the digest's hour the next morning, then the report of that
day lands in the data bucket as HTML and PDF (every chart, the day's figures, a PDF whose first
page is a real page), the digest links to it, and the tenant's systems and supervisors get short
links to it; a quiet day gets its report too, and a PDF that cannot be rendered costs the PDF only.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import boto3
import pytest
import requests

from tests.helpers import ROOT
from tests.integration.test_campaign_dispatch import queues  # noqa: F401  (fixture)
from tests.integration.test_kpis import api, day_of_work, now, schema_check  # noqa: F401  (fixtures)
from tests.integration.test_visits import agents, call  # noqa: F401  (fixture)

DIGEST_TICK = datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc)  # 08:05 in Mexico City, the next morning
DAY = "2026-11-23"
SCREENSHOT = ROOT / ".local" / "screenshots" / "report-page1.png"


def hour(tenant_id="acme", at=DIGEST_TICK):
    from cobranza.alarms.hourly import run_tenant

    return run_tenant({"tenant_id": tenant_id, "event_time": at.isoformat().replace("+00:00", "Z")})


def s3_object(bucket, key):
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)


def keys(bucket, tenant_id="acme"):
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"reports/{tenant_id}/daily/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def digests():
    """The digest emails SES took (the day's reminders went through SES too)."""
    from moto.backends import get_backend

    return [m for m in get_backend("ses")["123456789012"]["us-east-1"].sent_messages
            if str(getattr(m, "subject", "")).startswith(("Resumen diario", "Daily digest"))]


def digest_mark(tenant_id, day):
    from cobranza.core.settings import get_settings

    return boto3.client("dynamodb").get_item(TableName=get_settings().alarms_table, Key={
        "tenant_id": {"S": tenant_id}, "alarm_id": {"S": f"digest.{day}"}})["Item"]


@pytest.fixture
def visited(day_of_work, agents):
    """The day of work, plus visits by two agents (one of them a supervisor) and a night's rolls."""
    from cobranza.kpis import store as kpis_repo

    ana, sup = agents("ana", zones=["CDMX"]), agents("sup", supervisor=True, zones=["CDMX"])
    kpis_repo.add("acme", DAY, "general", {"visits_done": 5, "visits_verified": 4,
                                           f"visit_agent.{ana['agent_id']}": 3, f"visit_agent_verified.{ana['agent_id']}": 3,
                                           f"visit_agent.{sup['agent_id']}": 2, f"visit_agent_verified.{sup['agent_id']}": 1,
                                           "roll.1-30>31-60": 1})
    return {**day_of_work, "ana": ana, "sup": sup}


def first_page(document: bytes):
    import pypdfium2

    pdf = pypdfium2.PdfDocument(document)
    try:
        return pdf[0].render(scale=1.5).to_pil().convert("RGB")
    finally:
        pdf.close()


def test_at_the_digest_hour_the_day_s_report_lands_as_html_and_pdf_and_the_digest_links_to_it(visited, bucket):
    assert "digest" not in hour(at=datetime(2026, 11, 24, 13, 5, tzinfo=timezone.utc))  # 07:05: not yet
    assert keys(bucket) == []
    assert hour()["digest"] == "sent"
    assert keys(bucket) == [f"reports/acme/daily/{DAY}.html", f"reports/acme/daily/{DAY}.pdf"]

    html = s3_object(bucket, f"reports/acme/daily/{DAY}.html")
    assert html["ContentType"] == "text/html; charset=utf-8"
    page = html["Body"].read().decode("utf-8")
    for section in ("summary", "aging", "roll-rates", "channels", "best-hours", "agents"):
        assert f'<section id="{section}">' in page, section
    assert f"Reporte diario · {DAY}" in page and "Financiera Acme" in page
    # the day's figures: 4 accounts owing 4,000 as the night started, 1,400 recovered by two payments,
    # 4 emails, 2 calls (one right party), the agents' visits by name
    for figure in ("4,000.00", "1,400.00", "35.0%", "50.0%", "Correo", "Teléfono", "ana", "sup"):
        assert figure in page, figure
    assert "<script" not in page and page.count("<svg") == 6

    pdf = s3_object(bucket, f"reports/acme/daily/{DAY}.pdf")
    assert pdf["ContentType"] == "application/pdf"
    document = pdf["Body"].read()
    assert document.startswith(b"%PDF-")
    image = first_page(document)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    image.save(SCREENSHOT)
    pixels = list(image.get_flattened_data())
    inked = sum(1 for r, g, b in pixels if min(r, g, b) < 235) / len(pixels)
    assert inked > 0.03, f"the first page is almost blank ({inked:.1%} inked)"
    blue = sum(1 for r, g, b in pixels if abs(r - 0x25) < 30 and abs(g - 0x63) < 30 and abs(b - 0xEB) < 30)
    assert blue > 500  # the aging chart's columns were drawn

    (digest,) = digests()
    assert f"reports/acme/daily/{DAY}.html" in digest.body and f"reports/acme/daily/{DAY}.pdf" in digest.body
    assert f"/console/#/reports/{DAY}" in digest.body
    assert digest_mark("acme", "2026-11-24")["report"]["S"] == "written"

    assert b"<link" not in page.encode() and "src=" not in page and "@import" not in page  # self-contained

    # later ticks of the hour: the digest is sent, the report is not written again
    before = s3_object(bucket, f"reports/acme/daily/{DAY}.html")["LastModified"]
    assert hour(at=datetime(2026, 11, 24, 15, 5, tzinfo=timezone.utc))["digest"] == "already_sent"
    assert s3_object(bucket, f"reports/acme/daily/{DAY}.html")["LastModified"] == before


def test_rewriting_a_day_s_report_is_harmless_and_costs_what_the_day_holds(stack, tenant, bucket):
    from cobranza.core import aws
    from cobranza.reports.service import write_daily_report
    from cobranza.tenants import store as tenants
    from cobranza.tenants.policy import effective_policy

    acme = tenants.get_tenant("acme")
    aws.request_counts.clear()
    first = write_daily_report(acme, effective_policy(acme.policy), date(2026, 11, 23), DIGEST_TICK)
    # the KPI counters of October and November (the weeks of the best hours), two objects put; no
    # agent visited, so the team is not read
    assert dict(aws.request_counts) == {"dynamodb.Query": 2, "s3.PutObject": 2}
    again = write_daily_report(acme, effective_policy(acme.policy), date(2026, 11, 23), DIGEST_TICK)
    assert first == again == {"day": DAY, "html_key": f"reports/acme/daily/{DAY}.html",
                              "pdf_key": f"reports/acme/daily/{DAY}.pdf", "pdf": "written"}
    assert keys(bucket) == [f"reports/acme/daily/{DAY}.html", f"reports/acme/daily/{DAY}.pdf"]



def test_a_quiet_day_still_gets_its_report_in_english_when_the_policy_says_so(stack, tenant, bucket):
    from cobranza.tenants import store as tenants

    tenants.save_policy(tenants.get_tenant("acme"), {"locale": "en"})
    assert hour()["digest"] == "nothing_new"  # no email...
    assert keys(bucket) == [f"reports/acme/daily/{DAY}.html", f"reports/acme/daily/{DAY}.pdf"]  # ...a report
    page = s3_object(bucket, f"reports/acme/daily/{DAY}.html")["Body"].read().decode("utf-8")
    assert '<html lang="en">' in page and "No contact attempts this day." in page
    assert digests() == []
    assert digest_mark("acme", "2026-11-24")["report"]["S"] == "written"


@pytest.fixture
def alarmed(stack, tenant):
    """A tenant with nothing but an alarm for its digest."""
    from cobranza.accounts.alarms import raise_alarm

    raise_alarm("acme", "skip_trace", "account#V2", "account V2: wrong number", "2026-11-23T17:01:00Z",
                {"account_id": "V2"})
    return tenant


def test_the_route_gives_short_links_to_the_tenant_s_report_only(alarmed, api, agents):
    from cobranza.tenants import store as tenants

    key = alarmed["api_key"]
    assert call(api, "get", f"/v1/reports/daily/{DAY}", key=key)[0] == 404  # not written yet
    assert hour()["digest"] == "sent"
    status, body = call(api, "get", f"/v1/reports/daily/{DAY}", key=key)
    assert status == 200 and set(body) == {"date", "html_url", "pdf_url", "expires_at"}, body
    assert body["date"] == DAY and body["expires_at"] == "2026-11-23T16:05:00Z"  # 5 minutes (the platform's clock)
    schema_check("DailyReport", body)
    html = requests.get(body["html_url"], timeout=10)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert '<section id="roll-rates">' in html.text
    pdf = requests.get(body["pdf_url"], timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    # a supervisor's token opens it too; a field agent's does not
    supervisor, agent = agents("sup", supervisor=True, zones=["CDMX"]), agents("ana", zones=["CDMX"])
    assert call(api, "get", f"/v1/reports/daily/{DAY}", token=supervisor["token"])[0] == 200
    assert call(api, "get", f"/v1/reports/daily/{DAY}", token=agent["token"])[0] == 403
    assert call(api, "get", f"/v1/reports/daily/{DAY}")[0] == 401

    assert call(api, "get", "/v1/reports/daily/2026-11-22", key=key)[0] == 404  # no report that day
    tenants.create_tenant("beta", "Beta", "America/Mexico_City", [])
    status, body = call(api, "get", f"/v1/reports/daily/{DAY}", key=tenants.issue_api_key("beta"))
    assert status == 404 and body["error"]["code"] == "not_found"  # another tenant's report
    for bad in ("2026-13-01", "yesterday", "1999-12-31", "2026-11-23.pdf", "20261123"):
        status, body = call(api, "get", f"/v1/reports/daily/{bad}", key=key)
        assert status == 400 and body["error"]["code"] == "bad_request", (bad, body)
    assert call(api, "post", f"/v1/reports/daily/{DAY}", key=key)[0] == 405


@pytest.mark.parametrize("failure, recorded", [(RuntimeError("pango exploded"), "failed"),
                                               ("unavailable", "unavailable")])
def test_a_pdf_that_cannot_be_rendered_costs_the_pdf_only(alarmed, api, bucket, monkeypatch, failure, recorded):
    from cobranza.reports import render

    def broken(page):
        raise render.RendererUnavailable("OSError") if failure == "unavailable" else failure

    monkeypatch.setattr(render, "pdf", broken)
    assert hour()["digest"] == "sent"
    assert keys(bucket) == [f"reports/acme/daily/{DAY}.html"]
    assert s3_object(bucket, f"reports/acme/daily/{DAY}.html")["ContentType"] == "text/html; charset=utf-8"
    (digest,) = digests()
    assert f"reports/acme/daily/{DAY}.html" in digest.body and ".pdf" not in digest.body
    assert digest_mark("acme", "2026-11-24")["report"]["S"] == recorded
    status, body = call(api, "get", f"/v1/reports/daily/{DAY}", key=alarmed["api_key"])
    assert status == 200 and body["pdf_url"] is None and body["html_url"]
    schema_check("DailyReport", body)


def test_a_report_that_cannot_be_written_does_not_hold_the_digest_back(alarmed, bucket, monkeypatch):
    from cobranza.kpis import service as kpis_service

    def unreadable(*args, **kwargs):
        raise ConnectionError("kpis table unreachable")

    monkeypatch.setattr(kpis_service, "report_figures", unreadable)
    assert hour()["digest"] == "sent"
    assert keys(bucket) == []
    (digest,) = digests()
    assert f"El reporte diario del {DAY} no se pudo generar esta vez." in digest.body
    assert digest_mark("acme", "2026-11-24")["report"]["S"] == "failed"


class Killed(BaseException):
    """What a Lambda timeout or an out-of-memory kill does to a render: nothing after it runs."""


def test_a_render_killed_midway_leaves_the_digest_to_the_next_tick_which_renders_once(alarmed, bucket, monkeypatch):
    from cobranza.reports import render

    real_pdf, real_html, renders = render.pdf, render.html, []

    def killed(page):
        raise Killed

    monkeypatch.setattr(render, "pdf", killed)
    with pytest.raises(Killed):
        hour()
    assert digests() == [] and keys(bucket) == []
    monkeypatch.setattr(render, "pdf", real_pdf)
    monkeypatch.setattr(render, "html", lambda context: renders.append(context["day"]) or real_html(context))
    assert hour(at=datetime(2026, 11, 24, 15, 5, tzinfo=timezone.utc))["digest"] == "sent"  # the next tick
    assert keys(bucket) == [f"reports/acme/daily/{DAY}.html", f"reports/acme/daily/{DAY}.pdf"]
    (digest,) = digests()
    assert f"reports/acme/daily/{DAY}.html" in digest.body and f"reports/acme/daily/{DAY}.pdf" in digest.body
    assert digest_mark("acme", "2026-11-24")["report"]["S"] == "written"
    # the ticks after a sent digest render nothing
    assert hour(at=datetime(2026, 11, 24, 16, 5, tzinfo=timezone.utc))["digest"] == "already_sent"
    assert renders == [DAY]


def test_a_report_written_again_without_its_pdf_drops_the_day_s_older_pdf(alarmed, api, bucket, monkeypatch):
    from cobranza.reports import render
    from cobranza.reports.service import write_daily_report
    from cobranza.tenants import store as tenants
    from cobranza.tenants.policy import effective_policy

    acme = tenants.get_tenant("acme")
    write_daily_report(acme, effective_policy(acme.policy), date(2026, 11, 23), DIGEST_TICK)  # an earlier writing
    assert keys(bucket) == [f"reports/acme/daily/{DAY}.html", f"reports/acme/daily/{DAY}.pdf"]
    monkeypatch.setattr(render, "pdf", lambda page: (_ for _ in ()).throw(RuntimeError("pango exploded")))
    assert hour()["digest"] == "sent"
    assert keys(bucket) == [f"reports/acme/daily/{DAY}.html"]
    (digest,) = digests()
    assert f"reports/acme/daily/{DAY}.html" in digest.body and ".pdf" not in digest.body
    assert digest_mark("acme", "2026-11-24")["report"]["S"] == "failed"
    status, body = call(api, "get", f"/v1/reports/daily/{DAY}", key=alarmed["api_key"])
    assert status == 200 and body["pdf_url"] is None and body["html_url"]


def test_the_alarms_function_may_put_and_delete_only_the_daily_reports():
    from infra.local.template import load_template

    policies = load_template(ROOT / "template.yaml")["Resources"]["AlarmsFunction"]["Properties"]["Policies"]
    reports = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-data-${AWS::AccountId}-${AWS::Region}/reports/*/daily/*"}
    s3 = [s for p in policies for s in p.get("Statement", []) if str(s["Action"]).startswith("s3:")]
    assert s3 == [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": reports},
                  {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": reports}]
