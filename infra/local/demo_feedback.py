"""`make demo`, the day after the first night: the lender hears back (SPEC §6b).

- a payments file lands in the bucket (``portfolios/demo/payments/``), as a lender's bank export
  would, with Spanish headers: full and partial payments;
- the lender's systems post more payments through the API (one sent twice, one reversed);
- the phone team works the day's call list: outcomes (no answer, a callback, a wrong number, a
  dispute, a promise) posted with each task's id;
- promises made on the phone through the API, some of them paid the same day.

After the next nights, ``report`` counts, for each kind of feedback, the reminders the affected
accounts were due (the cadence's steps on automated channels, nights 2 onward) and the ones they
were sent: the difference is what the feedback stopped. It also counts the promises kept and
broken, and reads the next day's call list.
"""
from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from boto3.dynamodb.types import TypeDeserializer

from cobranza.accounts.segmentation import steps_due
from cobranza.tenants.policy import effective_policy

#: The demo lender's policy: the default, with the phone team calling on two days of the cadence.
CALL_STEPS = {"administrative": [{"day": 1, "channel": "sms"}, {"day": 3, "channel": "email"},
                                 {"day": 5, "channel": "call"}, {"day": 7, "channel": "whatsapp"},
                                 {"day": 12, "channel": "call"}, {"day": 15, "channel": "email"},
                                 {"day": 20, "channel": "call"}, {"day": 25, "channel": "sms"}]}
ZONE = ZoneInfo("America/Mexico_City")
AUTOMATED = ("email", "sms", "whatsapp")
Call = Callable[..., tuple[int, Any]]


def demo_policy() -> dict[str, Any]:
    """The policy the demo lender puts before its first upload (PUT /v1/policy)."""
    cadences = dict(effective_policy(None)["cadences"])
    cadences.update(CALL_STEPS)
    return {"cadences": cadences}


def _reminded(api: Call, key: str, limit: int) -> list[dict[str, Any]]:
    """Active accounts with a phone and an email, most overdue first among the first pages."""
    found: list[dict[str, Any]] = []
    next_page = ""
    while len(found) < limit:
        _, page = api("GET", f"/v1/accounts?status=active&limit=100{next_page}", key=key)
        found += [a for a in page.get("items", []) if a["contact"].get("email") and a["contact"].get("phone")
                  and a["days_past_due"] > 0]
        if not page.get("next_token"):
            break
        next_page = f"&next_token={page['next_token']}"
    return found[:limit]


def day_of_feedback(stack: Any, api: Call, key: str, day: date, out: Path) -> dict[str, Any]:
    """Records the day's feedback (the payments file, API payments, the call list's outcomes,
    promises); returns the accounts of each kind and what was answered."""
    pool = _reminded(api, key, 200)
    _, calls = api("GET", f"/v1/calls?date={day.isoformat()}&limit=100", key=key)
    call_items = calls.get("items", [])
    called = {c["account_id"] for c in call_items}
    pool = [a for a in pool if a["account_id"] not in called]
    by_file, by_api, promised = pool[:40], pool[40:60], pool[60:80]
    groups: dict[str, list[str]] = {}

    # 1. the bank's file: 20 pay everything, 20 pay a third
    path = out / f"pagos_{day.strftime('%Y%m%d')}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Folio", "Cuenta", "Importe", "Fecha de pago", "Forma de pago"])
        for n, account in enumerate(by_file):
            amount = float(account["balance"]) if n % 2 == 0 else round(float(account["balance"]) / 3, 2)
            writer.writerow([f"BANCO-{day.strftime('%Y%m%d')}-{n:04d}", account["account_id"], f"{amount:,.2f}",
                             day.strftime("%d/%m/%Y"), ("SPEI", "OXXO", "Efectivo")[n % 3]])
    stack.client("s3").upload_file(str(path), stack.bucket, f"portfolios/demo/payments/{path.name}")
    stack.wait_idle(timeout=300)
    file_summary = _payments_summary(stack)
    groups["payments file"] = [a["account_id"] for a in by_file]

    # 2. the API: 20 payments of half the balance, one resent, one reversed
    paid_at = (datetime.now(ZONE) - timedelta(hours=1)).isoformat()
    items = [{"payment_id": f"API-{day.strftime('%Y%m%d')}-{n:04d}", "account_id": a["account_id"],
              "amount": f"{float(a['balance']) / 2:.2f}", "paid_at": paid_at, "method": "transfer"}
             for n, a in enumerate(by_api)]
    items.append(dict(items[0]))  # the lender's system retried one
    items.append({"payment_id": f"API-{day.strftime('%Y%m%d')}-R001", "account_id": items[1]["account_id"],
                  "amount": items[1]["amount"], "paid_at": paid_at, "reverses": items[1]["payment_id"]})
    _, answered = api("POST", "/v1/payments", {"payments": items}, key=key)
    api_results = Counter(r["status"] for r in answered.get("results", []))
    groups["API payments"] = [a["account_id"] for a in by_api]

    # 3. the phone team works today's list, with each task's id
    results = ("no_answer", "right_party_contact", "no_answer", "callback_requested", "busy", "wrong_number",
               "voicemail", "dispute", "promise_to_pay", "third_party_contact")
    outcomes: Counter[str] = Counter()
    moment = datetime.now(ZONE) - timedelta(hours=3)  # this morning's calls (never in the future)
    for n, item in enumerate(call_items[:30]):
        result = results[n % len(results)]
        body: dict[str, Any] = {"channel": "phone", "result": result, "task_id": item["task_id"],
                                "occurred_at": (moment + timedelta(minutes=4 * n)).isoformat(),
                                "agent": ("ana.lopez", "jorge.ruiz")[n % 2], "duration_s": 20 + 7 * n}
        if result == "callback_requested":
            body["callback_at"] = datetime.combine(day + timedelta(days=1), time(18, 30), ZONE).isoformat()
        if result == "promise_to_pay":
            body["promise"] = {"amount": f"{float(item['balance']) / 2:.2f}", "due_on": (day + timedelta(days=5)).isoformat()}
        code, _ = api("POST", f"/v1/accounts/{item['account_id']}/outcomes", body, key=key)
        outcomes[result if code == 201 else f"refused {code}"] += 1
    groups["call outcomes"] = [c["account_id"] for c in call_items[:30]]

    # 4. promises on the phone, due today: half of them paid this afternoon
    made = Counter()
    for n, account in enumerate(promised):
        amount = f"{max(100.0, float(account['balance']) / 4):.2f}"
        code, _ = api("POST", f"/v1/accounts/{account['account_id']}/promises",
                      {"amount": amount, "due_on": day.isoformat(), "source": "phone"}, key=key)
        made["made" if code == 201 else f"refused {code}"] += 1
        if code == 201 and n % 2 == 0:
            api("POST", "/v1/payments", {"payments": [{
                "payment_id": f"PROM-{day.strftime('%Y%m%d')}-{n:04d}", "account_id": account["account_id"],
                "amount": amount, "paid_at": datetime.now(ZONE).isoformat(), "method": "oxxo"}]},
                key=key)
    groups["promises"] = [a["account_id"] for a in promised]
    return {"groups": groups, "file": file_summary, "api": dict(api_results), "outcomes": dict(outcomes),
            "promises": dict(made), "calls_listed": len(call_items)}


def _payments_summary(stack: Any) -> dict[str, Any]:
    s3 = stack.client("s3")
    listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix="reports/demo/uploads/").get("Contents", [])
    for entry in sorted(listed, key=lambda o: o["LastModified"], reverse=True):
        if entry["Key"].endswith("summary.json"):
            summary = json.loads(s3.get_object(Bucket=stack.bucket, Key=entry["Key"])["Body"].read())
            if summary.get("mode") == "payments":
                return dict(summary)
    return {}


def report(stack: Any, api: Call, key: str, feedback: dict[str, Any], nights: list[date]) -> dict[str, Any]:
    """After the nights that followed: the reminders each kind of feedback stopped, the promises
    kept and broken, and the call list of the day after the feedback."""
    policy = effective_policy(demo_policy())
    stopped = {}
    for kind, ids in feedback["groups"].items():
        due = sent = 0
        for account_id in ids:
            account = _account(stack, account_id)
            for night in nights:
                due += sum(1 for s in steps_due(policy, date.fromisoformat(account["due_date"]), night,
                                                account.get("amount_tier") or "low", account.get("lat") is not None,
                                                since=night, segment=account.get("segment"))
                           if s.channel in AUTOMATED)
            sent += sum(1 for e in _timeline(stack, account_id)
                        if e.get("kind") == "contact" and e.get("status") == "sent" and e.get("channel") in AUTOMATED
                        and e.get("planned_for", "") >= nights[0].isoformat())
        stopped[kind] = {"accounts": len(ids), "due": due, "sent": sent, "stopped": due - sent}
    kinds: Counter[str] = Counter()
    for ids in feedback["groups"].values():
        for account_id in ids:
            kinds.update(e["kind"] for e in _timeline(stack, account_id) if e.get("kind", "").startswith("promise_"))
    _, next_day = api("GET", f"/v1/calls?date={nights[0].isoformat()}&limit=5", key=key)
    return {"stopped": stopped, "kept": kinds.get("promise_kept", 0), "broken": kinds.get("promise_broken", 0),
            "call_list": next_day.get("items", []), "call_list_date": nights[0].isoformat()}


def _account(stack: Any, account_id: str) -> dict[str, Any]:
    from cobranza.accounts.store import wire_key

    item = stack.client("dynamodb").get_item(TableName=stack.names["AccountsTable"], Key=wire_key("demo", account_id))
    return {k: TypeDeserializer().deserialize(v) for k, v in item.get("Item", {}).items()}


def _timeline(stack: Any, account_id: str) -> list[dict[str, Any]]:
    pages = stack.client("dynamodb").get_paginator("query").paginate(
        TableName=stack.names["TimelineTable"], KeyConditionExpression="account_key = :k",
        ExpressionAttributeValues={":k": {"S": f"demo#{account_id}"}})
    return [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for page in pages for item in page["Items"]]


def print_report(feedback: dict[str, Any], result: dict[str, Any]) -> None:
    file = feedback["file"]
    print(" a day of feedback (after the first night):")
    print(f"   payments file: {file.get('payments_applied', 0)} applied, {file.get('payments_duplicate', 0)} duplicate, "
          f"{file.get('rows_rejected', 0)} rejected; amount applied {file.get('amount_applied', '0')}")
    print(f"   POST /v1/payments: {', '.join(f'{k} {v}' for k, v in sorted(feedback['api'].items()))}")
    print(f"   call outcomes on {feedback['calls_listed']} listed calls: "
          f"{', '.join(f'{k} {v}' for k, v in sorted(feedback['outcomes'].items()))}")
    print(f"   promises on the phone: {', '.join(f'{k} {v}' for k, v in sorted(feedback['promises'].items()))}")
    print("   reminders the next nights owed these accounts, and what they were sent:")
    for kind, counts in result["stopped"].items():
        print(f"     {kind:<14} {counts['accounts']:>3} accounts: due {counts['due']:>3}, sent {counts['sent']:>3}, "
              f"stopped {counts['stopped']:>3}")
    print(f"   promises kept {result['kept']}, broken {result['broken']} (alarm promise_broken)")
    print(f"   call list of {result['call_list_date']} (first {len(result['call_list'])}):")
    for item in result["call_list"]:
        hours = ", ".join(item["best_hours"]["hours"])
        print(f"     {item['account_id']:<10} {item['balance']:>11} {item['priority']:<14} {item['source']:<16} "
              f"best hours {hours} ({item['best_hours']['source']})")
