"""Payments file benchmark (issue 15, SPEC §6b): ``python -m bench payments``.

A lender's daily file of 100,000 payments (20,000 accounts, 5 payments each, Spanish headers)
through the payments path of the ingest function: each row read and validated
(``payments.rows.validate_row``, the header matched as the function matches it), then recorded by
``payments.service.record`` on PaymentsFile's threads, every request built and sent by boto3 over
HTTP to the local DynamoDB echo of ``bench.scale`` (another process: its work is not in the
figure), which answers each GetItem with an account and counts requests by operation.

- ``payments_us_per_row_with_sdk``: CPU-side cost per payment in this process (wall time, the
  echo answering at once: a Lambda's figure without DynamoDB's own latency);
- ``payments_dynamodb_requests_per_payment`` and the breakdown: the account read and the one
  transaction per payment (the payment, the account's money, the timeline entry), the
  BatchGetItem of known payment ids per 100;
- ``payments_file_lambda_seconds_estimate``: the requests of the file at a 10 ms DynamoDB
  round trip on PaymentsFile.THREADS threads, plus the CPU figure: what one invocation spends.

In moto, through the use cases the API calls (every request counted by ``core.aws``):

- ``api_requests_per_payment``: ``POST /v1/payments`` with 100 payments of 100 accounts
  (``api.routes.record_payments``), all AWS requests over the payments applied;
- ``calls_dynamodb_requests_first_page_<n>_accounts``: the DynamoDB requests of the first page
  (limit 50) of ``GET /v1/calls`` with 200 call tasks listed, for portfolios of 10,000 and
  100,000 accounts (the page token's signing secret is read once per container besides).
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("BENCH_PAYMENT_ROWS", "100000"))
ACCOUNTS = ROWS // 5
ROUND_TRIP_S = 0.010


def _write_file(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Folio", "Cuenta", "Importe", "Fecha de pago", "Forma de pago"])
        for n in range(ROWS):
            writer.writerow([f"BANCO-{n:07d}", f"CTA{n % ACCOUNTS:06d}", f"{100 + n % 900:,}.50",
                             f"{1 + n % 28:02d}/11/2026", ("SPEI", "OXXO", "Efectivo", "Tarjeta")[n % 4]])


def _account_item() -> dict:
    from cobranza.accounts.store import to_wire, wire_key

    return {**wire_key("bench", "CTA000001"), **to_wire({
        "tenant_id": "bench", "account_id": "CTA000001", "balance": 1_000_000, "status": "active", "rev": 3,
        "currency": "MXN", "due_date": "2026-10-01", "timezone": "America/Mexico_City"})}


def _measure(path: str, endpoint: str) -> dict:
    """In a fresh process: read, validate and record every payment of ``path`` against ``endpoint``."""
    from infra.local.template import LocalTemplate

    os.environ.update(LocalTemplate(ROOT / "template.yaml").function_environment("IngestFunction"))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_REGION="us-east-1", AWS_ENDPOINT_URL_DYNAMODB=endpoint, POWERTOOLS_LOG_LEVEL="WARNING")
    from cobranza.payments import files, rows, service
    from cobranza.portfolio.rows import parse_header

    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = parse_header(next(reader), rows.PAYMENT_COLUMNS)
        accepted = []
        for number, values in enumerate(reader, start=2):
            payment, problems = rows.validate_row(header, number, values, "America/Mexico_City", date(2026, 11, 24))
            if payment is not None:
                accepted.append(payment)
    validated = time.perf_counter()
    outcomes = service.record("bench", accepted, "file:bench", "2026-11-24T12:00:00Z", threads=files.THREADS)
    done = time.perf_counter()
    return {"rows": len(accepted), "applied": sum(1 for o in outcomes if o.status == "applied"),
            "validate_seconds": validated - started, "seconds": done - started}


def run() -> dict:
    from bench.scale import _counts, _free_port, _wait_for

    out = ROOT / "bench" / ".data"
    out.mkdir(parents=True, exist_ok=True)
    path, data = out / "pagos_100k.csv", out / "payments_echo.json"
    _write_file(path)
    data.write_text(json.dumps({"due": {}, "item": _account_item_in_process(), "batch_table": _accounts_table()}))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.scale", "echo", str(port), str(data)], cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        _wait_for(port)
        endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'layers' / 'cobranza'}", POWERTOOLS_LOG_LEVEL="WARNING")
        result = subprocess.run([sys.executable, "-m", "bench.payments", "measure", str(path), endpoint], cwd=ROOT,
                                env=env, capture_output=True, text=True, check=True)
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        counts = _counts(endpoint)
    finally:
        server.terminate()
    requests = sum(counts.values())
    from cobranza.payments.files import THREADS

    moto_figures = json.loads(subprocess.run(
        [sys.executable, "-m", "bench.payments", "moto"], cwd=ROOT, capture_output=True, text=True, check=True,
        env=dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'layers' / 'cobranza'}")).stdout.strip().splitlines()[-1])
    return {**moto_figures,
        "payments_rows": measured["rows"],
        "payments_applied": measured["applied"],
        "payments_us_per_row_with_sdk": round(measured["seconds"] / measured["rows"] * 1e6, 1),
        "payments_per_second_per_worker_with_sdk": round(measured["rows"] / measured["seconds"]),
        "payments_validate_us_per_row": round(measured["validate_seconds"] / measured["rows"] * 1e6, 1),
        "payments_dynamodb_requests_per_payment": round(requests / measured["rows"], 3),
        "payments_requests_breakdown": counts,
        "payments_file_lambda_seconds_estimate": round(measured["seconds"] + requests * ROUND_TRIP_S / THREADS, 1),
    }


def _seed(count: int, start: int = 0) -> None:
    from cobranza.accounts import store

    with store.BatchWriter() as writer:
        for i in range(start, count):
            writer.put({"tenant_id": "bench", "account_id": f"{4_000_000 + i}", "debtor_name": "x", "balance": 1000,
                        "currency": "MXN", "due_date": "2026-10-01", "timezone": "America/Mexico_City",
                        "status": "active", "stage": "administrative", "aging_bucket": "31-60", "segment": "early",
                        "phone": "+525512345678", "risk_score": 500})


def _in_moto() -> dict:
    from datetime import datetime, timezone

    from bench.campaign import moto_stack

    figures: dict = {}
    with moto_stack():
        from cobranza.accounts import store
        from cobranza.api import routes
        from cobranza.campaign import calls
        from cobranza.core import aws, clock
        from cobranza.tenants import store as tenants

        clock.utcnow = lambda: datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # type: ignore[assignment]
        tenants.create_tenant("bench", "Bench", "America/Mexico_City", [])
        tenant = tenants.get_tenant("bench")
        _seed(10_000)
        body = {"payments": [{"payment_id": f"API-{i}", "account_id": f"{4_000_000 + i}", "amount": "100",
                              "paid_at": "2026-11-23"} for i in range(100)]}
        aws.request_counts.clear()
        answered = routes.record_payments(tenant, body)
        applied = sum(1 for r in answered["results"] if r["status"] == "applied")
        figures["api_requests_per_payment"] = round(sum(aws.request_counts.values()) / applied, 3)
        figures["api_requests_breakdown"] = dict(aws.request_counts)
        day = date(2026, 11, 23)
        for account in store.read_accounts("bench", [f"{4_000_000 + i}" for i in range(200, 400)]).values():
            calls.plan_call(account, day, "call+5")
        for size in (10_000, 100_000):
            if size > 10_000:
                _seed(size, 10_000)
            aws.request_counts.clear()
            page = calls.call_list(tenant, {"date": day.isoformat(), "limit": "50"})
            figures[f"calls_dynamodb_requests_first_page_{size}_accounts"] = sum(
                n for name, n in aws.request_counts.items() if name.startswith("dynamodb."))
            figures[f"calls_first_page_items_{size}_accounts"] = len(page["items"])
    return figures


def _accounts_table() -> str:
    from infra.local.template import LocalTemplate

    return str(LocalTemplate(ROOT / "template.yaml").function_environment("IngestFunction")["ACCOUNTS_TABLE"])


def _account_item_in_process() -> dict:
    sys.path[:0] = [str(ROOT / "layers" / "cobranza")]
    return _account_item()


if __name__ == "__main__":
    if sys.argv[1] == "measure":
        print(json.dumps(_measure(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "moto":
        print(json.dumps(_in_moto()))
