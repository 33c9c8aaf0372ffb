"""The demo's last act (issue 16): the hourly alarms job, the emails that reached people, the KPIs.

After the simulated nights and the day in the field, the demo fires AlarmsFunction's hourly
schedule at 08:05 Mexico City time, three days after the field day: the visits still open past
their SLA raise ``visit_overdue``, unassigned visits are tried again, and the tenant's digest goes
out. Then it reads, as the lender would, ``GET /v1/alarms`` (by code), the emails SES took (one
per urgent alarm, one digest) and ``GET /v1/kpis`` for the simulated days. At the same hour the job
writes the daily report of the day before (SPEC §9): the demo prints where it is in the bucket,
reads its links with ``GET /v1/reports/daily/{date}`` and keeps a copy of the HTML and the PDF
under ``.local/reports/`` for a newcomer to open.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

Call = Callable[..., tuple[int, Any]]
#: 08:05 in Mexico City (UTC-6): the digest's hour.
DIGEST_TICK = time(14, 5)
TENANT = "demo"  # infra.local.demo.DEMO_TENANT


def run(stack: Any, call: Call, key: str, first_day: date, last_day: date, field_day: date) -> dict[str, Any]:
    """Fires the alarms hour, waits for its emails; returns what the lender can read after it."""
    tick = datetime.combine(field_day + timedelta(days=4), DIGEST_TICK, tzinfo=timezone.utc)
    stack.fire_schedule("AlarmsFunction", tick)
    stack.wait_idle(timeout=300)  # the tenant's hour on AlarmsQueue, then AlarmsPipe -> NotifyFunction
    alarms: list[dict[str, Any]] = []
    token = None
    while True:
        status, page = call("GET", "/v1/alarms?limit=100" + (f"&next_token={token}" if token else ""), key=key)
        if status != 200:
            raise RuntimeError(f"GET /v1/alarms answered {status}")
        alarms += page["items"]
        token = page["next_token"]
        if not token:
            break
    status, kpis = call("GET", f"/v1/kpis?from={first_day}&to={last_day}&group_by=day", key=key)
    if status != 200:
        raise RuntimeError(f"GET /v1/kpis answered {status}: {json.dumps(kpis)[:300]}")
    subjects = [str(m.get("subject", "")) for m in stack.moto_data().get("ses", {}).get("Message", [])]
    report = _daily_report(stack, call, key, tick.date() - timedelta(days=1))  # 08:05 local: the same day as UTC
    return {"tick": tick, "alarms": alarms, "kpis": kpis, "report": report,
            "urgent_emails": sum(1 for s in subjects if s.startswith(("Alarma urgente", "Urgent alarm"))),
            "digests": [s for s in subjects if s.startswith(("Resumen diario", "Daily digest"))]}


def _daily_report(stack: Any, call: Call, key: str, day: date) -> dict[str, Any]:
    """The daily report the hourly job wrote: its keys and content types, its links through the
    API, and a copy of each file under .local/reports/."""
    s3, copies, found = stack.client("s3"), Path(stack.root) / ".local" / "reports", {}
    copies.mkdir(parents=True, exist_ok=True)
    for kind in ("html", "pdf"):
        object_key = f"reports/{TENANT}/daily/{day.isoformat()}.{kind}"
        try:
            stored = s3.get_object(Bucket=stack.bucket, Key=object_key)
        except s3.exceptions.NoSuchKey:
            continue
        copy = copies / f"{TENANT}-{day.isoformat()}.{kind}"
        copy.write_bytes(stored["Body"].read())
        found[kind] = {"key": object_key, "type": stored["ContentType"], "bytes": copy.stat().st_size, "copy": copy}
    status, links = call("GET", f"/v1/reports/daily/{day.isoformat()}", key=key)
    return {"day": day, "files": found, "route": status, "links": links, "bucket": stack.bucket,
            "endpoint": stack.aws_endpoint, "root": Path(stack.root)}


def print_daily_report(report: dict[str, Any]) -> None:
    day, files = report["day"].isoformat(), report["files"]
    print(f" daily report of {day} (written by the hourly job at the digest's hour, linked from the digest):")
    if not files:
        print(f"   FAILED: no reports/{TENANT}/daily/{day}.html in the bucket (see .local/logs/)")
        return
    for found in files.values():
        print(f"   s3://{report['bucket']}/{found['key']} ({found['type']}, {found['bytes']:,} bytes)")
    if "pdf" not in files:
        print("   no PDF: the renderer was unavailable or failed (see the AlarmsFunction log in .local/logs/)")
    links = report["links"] if report["route"] == 200 else {}
    print(f"   GET /v1/reports/daily/{day} -> {report['route']}" + (
        f": html_url{' and pdf_url' if links.get('pdf_url') else ' (pdf_url null)'}, valid until {links['expires_at']}"
        if links else ""))
    print("   copies to open: " + ", ".join(str(f["copy"].relative_to(report["root"])) for f in files.values()))
    print(f"   or fetch one: aws --endpoint-url {report['endpoint']} s3 cp "
          f"s3://{report['bucket']}/{files.get('pdf', files['html'])['key']} .")


def print_report(report: dict[str, Any]) -> None:
    alarms = report["alarms"]
    by_code = Counter(a["code"] for a in alarms)
    urgent = sum(1 for a in alarms if a["urgent"])
    print(f" alarms (hourly job fired at {report['tick']:%Y-%m-%d %H:%M} UTC, 08:05 in Mexico City):")
    print(f"   raised {len(alarms)}: " + ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())))
    print("   by status: " + ", ".join(f"{s} {n}" for s, n in sorted(Counter(a['status'] for a in alarms).items())))
    print(f"   urgent {urgent}, emailed one by one: {report['urgent_emails']} emails; "
          f"the others in the digest: {', '.join(report['digests']) or 'no digest'}")
    kpis = report["kpis"]
    print(f" KPIs {kpis['from']} .. {kpis['to']} (GET /v1/kpis?group_by=day, {kpis['currency']}):")
    print(f"   {'day':<10} {'attempts':>8} {'delivered':>9} {'rpc':>4} {'promises':>8} {'kept':>4} {'broken':>6} "
          f"{'payments':>8} {'recovered':>11} {'visits':>6}")
    for row in kpis["series"]:
        print(f"   {row['period']:<10} {sum(row['attempts'].values()):>8} {sum(row['deliveries'].values()):>9} "
              f"{sum(row['right_party_contacts'].values()):>4} {row['promises_made']:>8} {row['promises_kept']:>4} "
              f"{row['promises_broken']:>6} {row['payments']:>8} {row['amount_recovered']:>11} {row['visits_done']:>6}")
    totals = kpis["totals"]
    print(f"   amount due at the start {totals['amount_due_start']}, recovered {totals['amount_recovered']} "
          f"(recovery rate {totals['recovery_rate']}); contact rate {totals['contact_rate']}; "
          f"kept rate {totals['kept_rate']}; cost {totals['cost_total']} "
          f"(per amount recovered {totals['cost_per_amount_recovered']})")
    rolls = kpis["roll_rates"]
    moved = [f"{rolls['buckets'][i]}->{rolls['buckets'][j]} {n}" for i, row in enumerate(rolls["moved"])
             for j, n in enumerate(row) if n]
    print(f"   roll rates: {', '.join(moved) or 'no account changed bucket'}")
    if "report" in report:
        print_daily_report(report["report"])
