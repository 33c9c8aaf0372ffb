"""Ingestion benchmarks (issue 3).

- ``rows_per_s``, ``ratio_vs_csv_reader``, ``peak_rss_mb_1m``: a generated 1,000,000-row CSV
  through the handler's own code path (``open_portfolio`` -> ``validate_rows`` (parse, validate,
  normalize) -> sorted runs on disk -> ``merge_accounts`` (segment, next-change date, item to
  write)), with an empty stored portfolio and a writer that only counts, in a fresh process on
  one core; beside a bare ``csv.reader`` pass over the same file.
- ``peak_rss_mb_100k``: the same on the first 100,000 rows (memory must not grow with the file).
- ``aws_requests_per_1000_accounts``: the real S3-triggered handler on moto (in process) for a
  new 5,000-account file, every request counted by the client factory; also through the
  parallel pipeline (``..._split``) and for the same file again (``..._unchanged``).
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data"
AS_OF = date(2026, 11, 23)


def _portfolio(rows: int) -> Path:
    from infra.sample_data import write_portfolio

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"portfolio-{rows}.csv"
    if not path.exists():
        write_portfolio(str(path), rows, seed=42, as_of=AS_OF, fmt="csv")
    return path


# ---------------------------------------------------------------- one measurement per process
def _measure_pipeline(path: str) -> dict:
    from cobranza.portfolio.ingest import header_of
    from cobranza.portfolio.readers import open_portfolio
    from cobranza.portfolio.reports import ProblemLog
    from cobranza.portfolio.runs import ItemSpool, SortedRuns
    from cobranza.portfolio.steps import Job, Tally, merge_accounts, validate_rows
    from cobranza.tenants.policy import effective_policy

    class CountingWriter:
        written = 0

        def put(self, item):
            self.written += 1

    job = Job("bench", "up_bench", "bucket", "portfolios/bench/x.csv", "", "snapshot", "America/Mexico_City",
              effective_policy(None), AS_OF.isoformat(), "2026-11-23T15:00:00Z")
    started = time.perf_counter()
    cpu = time.process_time()
    tally, problems, writer = Tally(), ProblemLog(), CountingWriter()
    with open(path, "rb") as fh, SortedRuns() as runs, ItemSpool() as absent:
        portfolio = open_portfolio(fh, path)
        validate_rows(job, header_of(portfolio), portfolio.records, runs.add, tally, problems)
        merge_accounts(job, runs.merged(), iter(()), writer, tally, problems.add_late, absent.add)
    with problems.rejects_csv():
        pass
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rows": tally.rows_total,
        "accepted": tally.rows_accepted,
        "written": writer.written,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _measure_csv_reader(path: str) -> dict:
    import csv

    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as fh:
        rows = sum(1 for _ in csv.reader(fh))
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _in_fresh_process(what: str, path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'layers' / 'cobranza'}", POWERTOOLS_LOG_LEVEL="WARNING")
    out = subprocess.run([sys.executable, "-m", "bench.ingest", what, str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- AWS requests (moto)
def _requests_per_1000_accounts(rows: int = 5000) -> dict[str, float]:
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_REGION="us-east-1", POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_TRACE_DISABLED="true",
                      POWERTOOLS_LOG_LEVEL="WARNING")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from cobranza.core import aws
    from cobranza.core.settings import get_settings
    from cobranza.core.tables import unbind_models
    from cobranza.tenants import store as tenants
    from infra.local.moto_in_process import dynamodb_one_at_a_time
    from infra.local.resources import create_resources
    from infra.local.template import LocalTemplate
    from tests.helpers import LambdaContext, load_function, s3_put_event, sqs_event

    template = LocalTemplate(ROOT / "template.yaml")
    data = _portfolio(rows).read_bytes()
    figures = {}
    with mock_aws(), dynamodb_one_at_a_time():
        create_resources(template)
        os.environ.update(template.function_environment("IngestFunction"))
        get_settings.cache_clear()
        aws.reset()
        unbind_models()
        tenants.create_tenant("bench", "Bench", "America/Mexico_City", [])
        s3 = aws.client("s3")
        sqs = aws.client("sqs")
        bucket = template.physical_name("DataBucket")
        queue = template.physical_name("IngestQueue")
        ingest, worker = load_function("ingest"), load_function("ingest_worker")

        def run(key: str, chunk_bytes: int) -> int:
            os.environ["INGEST_CHUNK_BYTES"] = str(chunk_bytes)
            get_settings.cache_clear()
            etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
            aws.request_counts.clear()
            ingest.handler(s3_put_event(bucket, key, len(data), etag, f"{abs(hash(key)):020X}"), LambdaContext())
            while True:
                messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    worker.handler(sqs_event([json.loads(message["Body"])], "cobranza-IngestQueue"), LambdaContext())
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            # the benchmark's own queue polling is not the pipeline's work
            for name in ("sqs.ReceiveMessage", "sqs.DeleteMessage"):
                aws.request_counts.pop(name, None)
            return sum(aws.request_counts.values())

        figures["aws_requests_per_1000_accounts"] = round(run("portfolios/bench/a.csv", 10**12) * 1000 / rows, 1)
        figures["aws_requests_per_1000_accounts_unchanged"] = round(run("portfolios/bench/b.csv", 10**12) * 1000 / rows, 1)
        tenants.create_tenant("bench2", "Bench 2", "America/Mexico_City", [])
        figures["aws_requests_per_1000_accounts_split"] = round(
            run("portfolios/bench2/a.csv", len(data) // 4) * 1000 / rows, 1)
        figures["aws_requests_breakdown"] = dict(sorted(aws.request_counts.items()))
    return figures


def run() -> dict:
    million, hundred_k = _portfolio(1_000_000), _portfolio(100_000)
    bare = _in_fresh_process("csv_reader", million)
    full = _in_fresh_process("pipeline", million)
    small = _in_fresh_process("pipeline", hundred_k)
    figures = {
        "rows": full["rows"],
        "file_mb": round(million.stat().st_size / 1e6, 1),
        "seconds_1m": round(full["seconds"], 1),
        "rows_per_s": round(full["rows"] / full["seconds"]),
        "csv_reader_seconds_1m": round(bare["seconds"], 2),
        "ratio_vs_csv_reader": round(full["seconds"] / bare["seconds"], 1),
        "peak_rss_mb_100k": round(small["peak_rss_mb"], 1),
        "peak_rss_mb_1m": round(full["peak_rss_mb"], 1),
        "peak_rss_growth_pct": round(100 * (full["peak_rss_mb"] / small["peak_rss_mb"] - 1), 1),
    }
    figures.update(_requests_per_1000_accounts())
    return figures


if __name__ == "__main__":
    what, path = sys.argv[1], sys.argv[2]
    print(json.dumps(_measure_pipeline(path) if what == "pipeline" else _measure_csv_reader(path)))
