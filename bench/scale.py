"""Scale benchmarks (issue 14, SPEC §10): ``python -m bench scale``.

- ``ingest_us_per_row_with_sdk`` and ``ratio_vs_csv_reader_with_sdk``: a generated 100,000-row CSV
  through the ingest path (read, validate, sort, merge, derive) with the real ``BatchWriter``: every
  ``BatchWriteItem`` is built and sent by boto3 over HTTP to a local endpoint that answers as
  DynamoDB does (``DynamoEcho``, another process, so its work is not in the figure) and counts
  requests; beside a bare ``csv.reader`` pass over the same file, in the same run. Then the same
  for an update of every account (the file's second day: one conditional ``UpdateItem`` each).
- ``planner_us_per_due_account_with_sdk``: one tenant's night of 10,000 due accounts (the
  "email+3" step each) planned by ``planner.run_for_tenant`` with every request (the due-index
  pages, the tenant, each attempt's conditional put, the queue batches, each account's update)
  built and sent by boto3 to the echo, which answers the due-index from a file. Then the model of
  a large night: ``night_10m_due_minutes`` = 10,000,000 x that cost / the parts run at once
  (NightFunction's MaximumConcurrency in template.yaml), and
  ``night_10m_due_one_tenant_part_seconds`` for one tenant's DUE_SHARDS parts.
- ``hot_partition_max_share``: the largest share of one tenant's 100,000 accounts under one
  partition key value, over the table and each of its indexes (keys from the store's own key
  functions, statuses and stages as the sample generator spreads them).
- ``list_rare_filter_items_read_per_page`` / ``list_common_filter_items_read_per_page``: DynamoDB
  items read (index keys and accounts) for the first page (limit 50) of ``?status=disputed`` (5
  accounts) and ``?status=active`` among 100,000 accounts in moto, through the API's use case.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 11, 23)
ROWS = 100_000
PAGE = 50


# ---------------------------------------------------------------- a DynamoDB that only answers
class _Echo(BaseHTTPRequestHandler):
    """Answers each DynamoDB JSON request with an empty success, and counts it by operation."""

    counts: Counter[str] = Counter()
    protocol_version = "HTTP/1.1"  # keep-alive, as DynamoDB's endpoint
    disable_nagle_algorithm = True  # or each answer waits for the client's delayed ACK (40 ms)

    #: What Query and GetItem answer (``echo PORT DATA``): the due-index's items by shard, one item.
    data: dict = {"due": {}, "item": None}

    def do_POST(self) -> None:  # noqa: N802  # http.server's naming
        length = int(self.headers.get("content-length") or 0)
        request = self.rfile.read(length)
        operation = (self.headers.get("x-amz-target") or ".").split(".", 1)[1]
        self.counts[operation] += 1
        body = self._answer(operation, request)
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, operation: str, request: bytes) -> bytes:
        if operation == "Query":
            shard = json.loads(request).get("ExpressionAttributeValues", {}).get(":s", {}).get("S")
            items = self.data["due"].get(shard, [])
            return json.dumps({"Items": items, "Count": len(items), "ScannedCount": len(items)}).encode()
        if operation == "GetItem" and self.data["item"]:
            return json.dumps({"Item": self.data["item"]}).encode()
        asked = json.loads(request).get("RequestItems", {}) if operation == "BatchGetItem" else {}
        if self.data.get("batch_table") in asked:  # the item, under each key asked of that table
            table = self.data["batch_table"]
            keys = asked[table].get("Keys", [])
            return json.dumps({"Responses": {table: [{**self.data["item"], **key, "account_id": key["account_id"]}
                                                     for key in keys]}, "UnprocessedKeys": {}}).encode()
        if operation in ("SendMessageBatch", "SendMessage"):
            entries = json.loads(request).get("Entries", [])
            return json.dumps({"Successful": [{"Id": e["Id"], "MessageId": e["Id"], "MD5OfMessageBody": "0"}
                                              for e in entries], "Failed": []}).encode()
        return {"BatchWriteItem": b'{"UnprocessedItems":{}}', "Query": b'{"Items":[],"Count":0,"ScannedCount":0}'}.get(
            operation, b"{}")

    def do_GET(self) -> None:  # noqa: N802  # http.server's naming
        body = json.dumps(self.counts).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _echo_server(port: int, data_path: str | None = None) -> None:
    if data_path:
        _Echo.data = json.loads(Path(data_path).read_text())
    ThreadingHTTPServer(("127.0.0.1", port), _Echo).serve_forever()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- ingest with the SDK
def _measure_with_sdk(path: str, endpoint: str, mode: str) -> dict:
    """In a fresh process: the ingest path with the real writer against ``endpoint``."""
    from infra.local.template import LocalTemplate

    os.environ.update(LocalTemplate(ROOT / "template.yaml").function_environment("IngestFunction"))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_REGION="us-east-1", AWS_ENDPOINT_URL_DYNAMODB=endpoint, POWERTOOLS_LOG_LEVEL="WARNING")
    from cobranza.accounts.store import BatchWriter
    from cobranza.portfolio.ingest import header_of
    from cobranza.portfolio.readers import open_portfolio
    from cobranza.portfolio.reports import ProblemLog
    from cobranza.portfolio.runs import ItemSpool, SortedRuns
    from cobranza.portfolio.steps import Job, Tally, merge_accounts, validate_rows
    from cobranza.tenants.policy import effective_policy
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "IngestFunction"  # this process stands for the function's
    from functions.ingest import app  # noqa: F401  # the function's process: its imports and its bulk_gc.tune()

    job = Job("bench", "up_bench", "bucket", "portfolios/bench/x.csv", "", "snapshot", "America/Mexico_City",
              effective_policy(None), AS_OF.isoformat(), "2026-11-23T15:00:00Z")
    stored = iter(())
    if mode == "update":  # yesterday's accounts, each with another balance: every row is an update
        stored = _yesterday(job, path)
    started, cpu = time.perf_counter(), time.process_time()
    tally, problems = Tally(), ProblemLog()
    with open(path, "rb") as fh, SortedRuns() as runs, ItemSpool() as absent, BatchWriter() as writer:
        portfolio = open_portfolio(fh, path)
        validate_rows(job, header_of(portfolio), portfolio.records, runs.add, tally, problems)
        merge_accounts(job, runs.merged(), stored, writer, tally, problems.add_late, absent.add)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
            "rows": tally.rows_total, "written": writer.written}


def _yesterday(job: object, path: str) -> object:
    """The stored side of an update night: every account of the file as ingestion stored it,
    with a balance one peso higher (built before the clock starts)."""
    from cobranza.portfolio.ingest import header_of
    from cobranza.portfolio.readers import open_portfolio
    from cobranza.portfolio.reports import ProblemLog
    from cobranza.portfolio.runs import ItemSpool, SortedRuns
    from cobranza.portfolio.steps import Tally, merge_accounts, validate_rows

    class Keep:
        def __init__(self) -> None:
            self.items: list[dict] = []

        def put(self, item: dict) -> None:
            self.items.append(dict(item, balance=item["balance"] + 1, row_hash="yesterday", rev=3))

    keep = Keep()
    with open(path, "rb") as fh, SortedRuns() as runs, ItemSpool() as absent:
        portfolio = open_portfolio(fh, path)
        tally, problems = Tally(), ProblemLog()
        validate_rows(job, header_of(portfolio), portfolio.records, runs.add, tally, problems)
        merge_accounts(job, runs.merged(), iter(()), keep, tally, problems.add_late, absent.add)
    return iter(keep.items)


def _in_fresh_process(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'layers' / 'cobranza'}", POWERTOOLS_LOG_LEVEL="WARNING")
    out = subprocess.run([sys.executable, "-m", "bench.scale", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


#: Runs of the bare ``csv.reader`` pass and of a first upload with the SDK; the fastest of each is kept.
BARE_RUNS = 3
SDK_RUNS = 2


def _fastest_new(path: Path, endpoint: str) -> tuple[dict, dict[str, int]]:
    """The fastest of SDK_RUNS first uploads, and the requests of one (every run sends the same)."""
    runs, counts = [], []
    for _ in range(SDK_RUNS):
        before = _counts(endpoint)
        runs.append(_in_fresh_process("sdk", str(path), endpoint, "new"))
        after = _counts(endpoint)
        counts.append({k: after[k] - before.get(k, 0) for k in after})
    assert all(c == counts[0] for c in counts), counts  # nosec B101  # the same file, the same requests
    return min(runs, key=lambda r: r["seconds"]), counts[0]


def _ingest_with_sdk() -> dict:
    from bench.ingest import _in_fresh_process as ingest_process
    from bench.ingest import _portfolio

    path = _portfolio(ROWS)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.scale", "echo", str(port)], cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        _wait_for(port)
        endpoint = f"http://127.0.0.1:{port}"
        # The fastest of a few runs of each (this machine's speed varies from one minute to the
        # next; noise only ever adds time), every run in a fresh process.
        bare = min((ingest_process("csv_reader", path) for _ in range(BARE_RUNS)), key=lambda r: r["seconds"])
        new, counts_new = _fastest_new(path, endpoint)
        before_update = _counts(endpoint)
        update = _in_fresh_process("sdk", str(path), endpoint, "update")
        counts_all = _counts(endpoint)
    finally:
        server.terminate()
    counts_update = {k: counts_all[k] - before_update.get(k, 0) for k in counts_all}
    return {
        "ingest_rows": new["rows"],
        "ingest_us_per_row_with_sdk": round(new["seconds"] / new["rows"] * 1e6, 1),
        "ratio_vs_csv_reader_with_sdk": round(new["seconds"] / (bare["seconds"] * ROWS / bare["rows"]), 1),
        "csv_reader_us_per_row": round(bare["seconds"] / bare["rows"] * 1e6, 2),
        "ingest_dynamodb_requests_per_1000_new": round(sum(counts_new.values()) * 1000 / new["rows"], 1),
        "ingest_update_us_per_row_with_sdk": round(update["seconds"] / update["rows"] * 1e6, 1),
        "ingest_dynamodb_requests_per_1000_updated": round(sum(counts_update.values()) * 1000 / update["rows"], 1),
        "ingest_requests_breakdown": {"new": counts_new, "update": counts_update},
    }


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the DynamoDB echo did not start")


def _counts(endpoint: str) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(endpoint, timeout=5) as response:  # nosec B310  # our own local echo
        return dict(json.load(response))


# ---------------------------------------------------------------- the planner with the SDK
PLANNER_DUE = 10_000


def _planner_data(path: Path) -> None:
    """The echo's answers for a night: 10,000 accounts due today (day +3: the "email+3" step),
    spread over the due-index shards as stored, and the tenant's item."""
    from bench.campaign import TODAY  # the campaign benchmark's night and accounts
    from cobranza.accounts import store
    from cobranza.accounts.service import refresh_derived
    from cobranza.tenants.policy import effective_policy

    policy, due = effective_policy(None), {}
    for i in range(PLANNER_DUE):
        item = {"tenant_id": "bench", "account_id": f"D{i:07d}", "debtor_name": f"Persona Número {i}",
                "balance": Decimal("12345.67"), "currency": "MXN", "due_date": (TODAY - timedelta(days=3)).isoformat(),
                "timezone": "America/Mexico_City", "email": f"persona{i}@ejemplo.mx", "phone": "+525512345678",
                "address": "Av. Insurgentes Sur 1234", "city": "Benito Juárez", "state": "CDMX", "postal_code": "03100",
                "status": "active", "row_hash": "x" * 16, "source_upload_id": "up_bench",
                "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"}
        refresh_derived(item, policy, TODAY)
        item["next_action_on"] = TODAY.isoformat()
        due.setdefault(item["due_shard"], []).append(store.to_wire(store.with_keys(item)))
    tenant = {"tenant_id": {"S": "bench"}, "name": {"S": "Bench"}, "timezone": {"S": "America/Mexico_City"},
              "notification_emails": {"L": []}, "created_at": {"S": "2026-11-01T00:00:00.000000+0000"}}
    path.write_text(json.dumps({"due": due, "item": tenant}))


def _measure_planner(endpoint: str) -> dict:
    """In a fresh process: one tenant's night (every shard) planned against ``endpoint``."""
    from datetime import datetime, timezone

    from infra.local.template import LocalTemplate

    os.environ.update(LocalTemplate(ROOT / "template.yaml").function_environment("NightFunction"))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_REGION="us-east-1", AWS_ENDPOINT_URL_DYNAMODB=endpoint, AWS_ENDPOINT_URL_SQS=endpoint,
                      POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_METRICS_DISABLED="true")
    from cobranza.campaign.planner import run_for_tenant
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "NightFunction"  # this process stands for the function's
    from functions.night import app  # noqa: F401  # the function's process: its imports and its bulk_gc.tune()

    at = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)
    started, cpu = time.perf_counter(), time.process_time()
    counts = run_for_tenant("bench", at, at)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
            "accounts_due": counts["accounts_due"], "attempts": counts["attempts"],
            "messages_queued": counts["messages_queued"]}


def _planner_with_sdk() -> dict:
    from cobranza.accounts.store import DUE_SHARDS

    data = ROOT / "bench" / ".data" / "planner-echo.json"
    data.parent.mkdir(parents=True, exist_ok=True)
    _planner_data(data)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.scale", "echo", str(port), str(data)], cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        _wait_for(port)
        endpoint = f"http://127.0.0.1:{port}"
        night = _in_fresh_process("planner", endpoint)
        requests = _counts(endpoint)
    finally:
        server.terminate()
    us_per_due = night["seconds"] / night["accounts_due"] * 1e6
    concurrency, parts_per_tenant = _night_concurrency(), DUE_SHARDS
    return {
        "planner_accounts_due": night["accounts_due"],
        "planner_attempts": night["attempts"],
        "planner_us_per_due_account_with_sdk": round(us_per_due, 1),
        "planner_requests_per_due_account": round(sum(requests.values()) / night["accounts_due"], 2),
        "planner_requests_breakdown": requests,
        "night_parts": parts_per_tenant,
        "night_part_concurrency": concurrency,
        # 10 million due accounts across tenants (at least as many parts as run at once): N x p / concurrency
        "night_10m_due_minutes": round(10_000_000 * us_per_due / concurrency / 60e6, 1),
        # one tenant with 10 million due: DUE_SHARDS parts, each against the 900 s limit
        "night_10m_due_one_tenant_part_seconds": round(10_000_000 / parts_per_tenant * us_per_due / 1e6),
    }


def _night_concurrency() -> int:
    """NightFunction's parts at once: its SQS event source's MaximumConcurrency in template.yaml."""
    from infra.local.template import load_template

    function = load_template(ROOT / "template.yaml")["Resources"]["NightFunction"]["Properties"]
    return int(function["Events"]["NightParts"]["Properties"]["ScalingConfig"]["MaximumConcurrency"])


# ---------------------------------------------------------------- partition key shares
def _hot_partition_share() -> dict:
    """The largest share of one tenant's accounts under one partition key value, per key."""
    from cobranza.accounts import store

    statuses = ["active"] * 90 + ["promised"] * 4 + ["settled"] * 4 + ["disputed"] * 2
    keys: dict[str, Counter[str]] = {name: Counter() for name in ("table", "due-index", *store.LIST_INDEXES)}
    for i in range(ROWS):
        account_id = f"{4_000_000 + i}"
        keys["table"][store.wire_key("bench", account_id)[store.PARTITION]["S"]] += 1
        keys["due-index"][store.due_shard("bench", account_id)] += 1
        for field in store.LIST_INDEXES:
            value = statuses[i % 100] if field == "status" else "one-value"  # the worst case: everyone shares it
            keys[field][store.list_key("bench", value, store.account_shard(account_id))] += 1
    shares = {name: round(max(counter.values()) / ROWS, 4) for name, counter in keys.items()}
    return {"hot_partition_max_share": max(shares.values()), "hot_partition_share_by_key": shares}


# ---------------------------------------------------------------- list pages
def _list_pages() -> dict:
    from bench.campaign import moto_stack

    with moto_stack():
        from cobranza.accounts import store
        from cobranza.core import aws
        from cobranza.tenants import store as tenants

        tenants.create_tenant("bench", "Bench", "America/Mexico_City", [])
        with store.BatchWriter() as writer:
            for i in range(ROWS):
                writer.put({"tenant_id": "bench", "account_id": f"{4_000_000 + i}", "debtor_name": "x",
                            "balance": 100, "currency": "MXN", "due_date": "2026-10-01", "timezone": "America/Mexico_City",
                            "status": "disputed" if i % 20_000 == 7 else "active", "stage": "administrative",
                            "aging_bucket": "31-60", "segment": "standard"})
        figures = {}
        for name, value in (("rare", "disputed"), ("common", "active")):
            aws.items_read.clear()
            aws.request_counts.clear()
            items, _ = store.list_accounts("bench", {"status": value}, PAGE, None)
            figures[f"list_{name}_filter_items_read_per_page"] = sum(aws.items_read.values())
            figures[f"list_{name}_filter_requests_per_page"] = sum(aws.request_counts.values())
            figures[f"list_{name}_filter_page_items"] = len(items)
    return figures


def run() -> dict:
    figures = {"accounts": ROWS, "page_limit": PAGE}
    figures.update(_ingest_with_sdk())
    figures.update(_planner_with_sdk())
    figures.update(_hot_partition_share())
    figures.update(_list_pages())
    return figures


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        _echo_server(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    elif sys.argv[1] == "planner":
        print(json.dumps(_measure_planner(sys.argv[2])))
    else:
        print(json.dumps(_measure_with_sdk(sys.argv[2], sys.argv[3], sys.argv[4])))
