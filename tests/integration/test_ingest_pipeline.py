"""Large files through the parallel pipeline: the same result as one invocation, part by part,
with failed parts retried without losing or doubling rows."""
import csv
import io
import json
from datetime import date

import boto3
import pytest

from infra.sample_data import write_portfolio
from tests.helpers import LambdaContext, load_function, s3_put_event, sqs_event

VOLATILE = {"upload_id", "tenant_id", "key", "started_at", "finished_at"}


@pytest.fixture
def tenants(stack):
    from cobranza.tenants import store as tenants

    for tenant_id in ("whole", "split"):
        tenants.create_tenant(tenant_id, tenant_id, "America/Mexico_City", [])


@pytest.fixture
def pipeline(stack, bucket, monkeypatch):
    """Uploads a file, runs the S3-triggered function, then every queued part (redelivering a
    part whose handler reported it failed); returns the summary."""
    from cobranza.core.settings import get_settings

    ingest, worker = load_function("ingest"), load_function("ingest_worker")
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    queue_url = stack.physical_name("IngestQueue")
    sequence = iter(range(10**6))
    log = {"tasks": [], "redelivered": 0}

    def run(key: str, data: bytes, chunk_bytes: int | None = 4096, size: int | None = None) -> dict:
        if chunk_bytes is None:
            monkeypatch.delenv("INGEST_QUEUE_URL", raising=False)
        else:
            monkeypatch.setenv("INGEST_QUEUE_URL", queue_url)
            monkeypatch.setenv("INGEST_CHUNK_BYTES", str(chunk_bytes))
        get_settings.cache_clear()
        stored = s3.put_object(Bucket=bucket, Key=key, Body=data)
        event = s3_put_event(bucket, key, size or len(data), stored["ETag"].strip('"'), f"{next(sequence):020X}",
                             stored.get("VersionId"))
        upload_id = ingest.handler(event, LambdaContext())["uploads"][0]["upload_id"]
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                body = json.loads(message["Body"])
                log["tasks"].append((body["phase"], body["part"]))
                for attempt in range(1, 4):
                    result = worker.handler(sqs_event([body], "cobranza-IngestQueue", attempt), LambdaContext())
                    if not result["batchItemFailures"]:
                        break
                    log["redelivered"] += 1
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        summary_key = f"reports/{key.split('/')[1]}/uploads/{upload_id}/"
        read = lambda name: s3.get_object(Bucket=bucket, Key=summary_key + name)["Body"].read().decode()  # noqa: E731
        summary = json.loads(read("summary.json"))
        summary["_rejects"] = read("rejects.csv")
        return summary

    run.log = log
    return run


def portfolio(rows: int, seed: int = 7, extra: str = "") -> bytes:
    out = io.BytesIO()
    write_portfolio(out, rows, seed=seed, as_of=date(2026, 11, 23), fmt="csv")
    text = out.getvalue().decode()
    lines = text.splitlines(keepends=True)
    # problems a person must see with their spreadsheet row numbers, in different chunks
    lines[40] = lines[40].replace(",MXN,", ",MXN,", 1).split(",", 3)
    lines[40] = ",".join([lines[40][0], lines[40][1], "abc", lines[40][3]])
    lines.insert(200, lines[10])                   # a repeated account_id far from the first
    lines.insert(300, 'Q-1,"Ana\nMaría",100,2026-10-01,MXN,,,"Calle 1,\nCentro",,,,,,,,,\n')
    return ("".join(lines) + extra).encode()


def stored(tenant_id):
    from cobranza.accounts.store import iter_tenant_accounts

    return {a["account_id"]: a for a in iter_tenant_accounts(tenant_id)}


def comparable(accounts):
    # the tenant's own keys (the two tenants hold the same accounts) and the upload's stamps
    drop = {"tenant_id", "tenant_shard", "due_shard", "by_status", "by_stage", "by_segment", "by_bucket", "source_upload_id",
            "created_by", "withdrawn_by", "created_at", "updated_at"}
    return {k: {f: v for f, v in a.items() if f not in drop} for k, a in accounts.items()}


def same(a, b):
    return {k: v for k, v in a.items() if k not in VOLATILE} == {k: v for k, v in b.items() if k not in VOLATILE}


def test_a_split_file_gives_the_same_summary_rejects_and_accounts_as_one_invocation(tenants, pipeline):
    data = portfolio(1200)
    whole = pipeline("portfolios/whole/cartera.csv", data, chunk_bytes=None)
    split = pipeline("portfolios/split/cartera.csv", data, chunk_bytes=20_000)
    chunks = {part for phase, part in pipeline.log["tasks"] if phase == "chunk"}
    assert len(chunks) >= 10, "the file must really be split"
    assert whole["status"] == split["status"] == "succeeded"
    assert whole["rows_total"] == 1202 and whole["rows_rejected"] == 2
    assert same(whole, split)
    rejects = list(csv.DictReader(io.StringIO(split["_rejects"])))
    assert [(r["row_number"], r["code"]) for r in rejects if r["severity"] == "error"] == [
        ("41", "not_a_number"), ("201", "duplicate_account_id")]
    assert comparable(stored("whole")) == comparable(stored("split"))


def test_a_snapshot_through_the_pipeline_withdraws_the_absent_and_holds_back_a_truncated_one(tenants, pipeline):
    first = pipeline("portfolios/split/a.csv", portfolio(600), chunk_bytes=30_000)
    assert first["accounts_created"] == 600
    lines = portfolio(600).decode().splitlines(keepends=True)
    smaller = "".join(lines[:450]).encode()  # about a quarter of the accounts absent: under half
    second = pipeline("portfolios/split/b.csv", smaller, chunk_bytes=30_000)
    absent = 600 - second["rows_accepted"]
    assert 100 < absent < 300
    assert (second["accounts_withdrawn"], second["withdrawals_held_back"]) == (absent, 0)
    assert sum(a["status"] == "withdrawn" for a in stored("split").values()) == absent
    truncated = "".join(lines[:100]).encode()
    third = pipeline("portfolios/split/c.csv", truncated, chunk_bytes=8_000)
    assert third["accounts_withdrawn"] == 0 and third["withdrawals_held_back"] > 300
    assert [a["code"] for a in third["alarms"]] == ["snapshot_withdrawal_held_back"]
    assert sum(a["status"] == "withdrawn" for a in stored("split").values()) == absent


def test_a_part_that_fails_half_way_is_retried_without_losing_or_doubling_rows(tenants, pipeline, monkeypatch):
    from cobranza.accounts import store as accounts_repo

    original, calls = accounts_repo.BatchWriter._send, {"n": 0}

    def flaky_send(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:  # the third batch of the run dies after two were sent
            raise ConnectionError("network gone")
        return original(self, batch)

    monkeypatch.setattr(accounts_repo.BatchWriter, "_send", flaky_send)
    data = portfolio(400)
    split = pipeline("portfolios/split/a.csv", data, chunk_bytes=6_000)
    assert pipeline.log["redelivered"] == 1
    monkeypatch.setattr(accounts_repo.BatchWriter, "_send", original)
    whole = pipeline("portfolios/whole/a.csv", data, chunk_bytes=None)
    assert same(whole, split) and split["accounts_created"] == 400
    assert comparable(stored("whole")) == comparable(stored("split"))


def test_a_3_gb_file_is_split_and_streamed_not_read_whole(tenants, pipeline):
    """S3 reports the object's size; anything above the chunk size goes to the pipeline."""
    summary = pipeline("portfolios/split/grande.csv", portfolio(300), chunk_bytes=64 * 1024 * 1024, size=3 * 1024**3)
    assert summary["status"] == "succeeded" and summary["rows_total"] == 302
    assert ("chunk", 0) in pipeline.log["tasks"]


def test_an_unparseable_large_file_fails_before_any_part_runs_and_writes_nothing(tenants, pipeline):
    huge_field = '"' + "x" * (1024 * 1024 + 10) + '"'
    data = portfolio(300) + f"Z-1,{huge_field},1,2026-01-01,MXN,,,,,,,,,,,,\n".encode()
    summary = pipeline("portfolios/split/roto.csv", data, chunk_bytes=4_000)
    assert summary["status"] == "failed" and summary["error"]["code"] == "malformed_csv"
    assert stored("split") == {} and pipeline.log["tasks"] == []


def test_a_title_above_the_header_and_a_total_block_at_the_end_split_like_the_whole_file(tenants, pipeline):
    """Issue 12: the parts start after the header the reader found, and the closing summary rows
    stay together in the last part, the only one that may skip them."""
    branch = "Sucursal {:02d} - Zona Metropolitana del Valle de Mexico, cartera vencida de noviembre"
    closing = (",,,,,,,,,,,,,,,,\n" + "".join(f'Subtotal,"{branch.format(i)}",1234.56,,,,,,,,,,,,,,\n' for i in range(11))
               + "TOTAL GENERAL,,13580.16,,,,,,,,,,,,,,\n")
    data = b"Cartera vencida al 30/11/2026\n" + portfolio(400, extra=closing)
    whole = pipeline("portfolios/whole/cartera.csv", data, chunk_bytes=None)
    # parts smaller than the closing block: cut by bytes alone, it would span two parts
    split = pipeline("portfolios/split/cartera.csv", data, chunk_bytes=1_500)
    assert len({part for phase, part in pipeline.log["tasks"] if phase == "chunk"}) >= 10
    assert (whole["rows_skipped_before_header"], whole["rows_skipped_summary"]) == (1, 12)
    assert whole["rows_total"] == 402 and whole["rows_total"] == whole["rows_accepted"] + whole["rows_rejected"]
    assert same(whole, split)
    rejects = list(csv.DictReader(io.StringIO(split["_rejects"])))
    assert [(r["row_number"], r["code"]) for r in rejects if r["severity"] == "error"] == [
        ("42", "not_a_number"), ("202", "duplicate_account_id")]
    assert comparable(stored("whole")) == comparable(stored("split"))


def test_a_merge_part_killed_at_its_time_limit_resumes_after_its_last_checkpoint(tenants, pipeline, monkeypatch):
    """Issue 12: a merge part writes its range in segments, each checkpointed; the redelivery of a
    part that timed out goes on after the last checkpoint instead of starting the range over."""
    from cobranza.accounts import store as accounts_repo
    from cobranza.portfolio import pipeline as ingest_pipeline
    from cobranza.portfolio import uploads as uploads_repo

    monkeypatch.setattr(ingest_pipeline, "SEGMENT", 40)
    data = portfolio(400)
    whole = pipeline("portfolios/whole/a.csv", data, chunk_bytes=None)
    put, flush, save = accounts_repo.BatchWriter.put, accounts_repo.BatchWriter.flush, uploads_repo.save_progress
    merge = ingest_pipeline.merge_accounts
    writes, checkpoints, killed, merged = [], [], [], []

    def counting_merge(job, entries, *args, **kwargs):
        entries = list(entries)
        merged.extend(entries)
        return merge(job, iter(entries), *args, **kwargs)

    def counting_put(self, item):
        writes.append(item["account_id"])
        put(self, item)

    def checkpoint(*args):
        save(*args)
        checkpoints.append(args)

    def flush_then_timeout(self):
        if len(checkpoints) == 1 and not killed and self._pending:  # the segment after the first checkpoint
            killed.append(len(writes))
            raise TimeoutError("Task timed out after 900.00 seconds")
        flush(self)

    monkeypatch.setattr(ingest_pipeline, "merge_accounts", counting_merge)
    monkeypatch.setattr(accounts_repo.BatchWriter, "put", counting_put)
    monkeypatch.setattr(accounts_repo.BatchWriter, "flush", flush_then_timeout)
    monkeypatch.setattr(uploads_repo, "save_progress", checkpoint)
    split = pipeline("portfolios/split/a.csv", data, chunk_bytes=30_000)
    assert killed and pipeline.log["redelivered"] == 1
    merges = [part for phase, part in pipeline.log["tasks"] if phase == "merge"]
    assert len(merges) >= 2 and 400 / len(merges) > 2 * 40, "a range must span several segments"
    # the retry merged again only the killed segment's rows (401 accepted rows, one a duplicate),
    # not its range's first segment, and wrote again only what that segment had buffered
    assert 401 < len(merged) <= 401 + 40
    assert 400 < len(writes) <= 400 + 40
    assert same(whole, split) and split["accounts_created"] == 400
    assert comparable(stored("whole")) == comparable(stored("split"))


def test_a_merge_part_short_of_time_hands_the_rest_of_its_range_to_a_new_message(tenants, pipeline, monkeypatch):
    """A part with less than RESERVE_SECONDS left takes no new segment: it queues itself again
    from its checkpoint and ends, long before the function's limit."""
    from cobranza.portfolio import pipeline as ingest_pipeline

    monkeypatch.setattr(ingest_pipeline, "SEGMENT", 40)
    data = portfolio(400)
    whole = pipeline("portfolios/whole/a.csv", data, chunk_bytes=None)

    def one_segment_of_time(self):  # each invocation has time for one segment, then 60 s left
        self.calls = getattr(self, "calls", 0) + 1
        return 900_000 if self.calls == 1 else 60_000

    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", one_segment_of_time)
    split = pipeline("portfolios/split/a.csv", data, chunk_bytes=30_000)
    merges = [part for phase, part in pipeline.log["tasks"] if phase == "merge"]
    assert len(merges) > len(set(merges)) + 4, "each range went on in several messages"
    assert pipeline.log["redelivered"] == 0
    assert same(whole, split) and split["accounts_created"] == 400
    assert comparable(stored("whole")) == comparable(stored("split"))


def test_a_csv_with_more_rows_than_a_part_is_split_although_small_in_bytes(tenants, pipeline, monkeypatch):
    """Parts are sized by rows as well as bytes: a narrow file with many rows is split too."""
    data = portfolio(600)
    whole = pipeline("portfolios/whole/a.csv", data, chunk_bytes=None)
    monkeypatch.setenv("INGEST_PART_ROWS", "100")
    split = pipeline("portfolios/split/a.csv", data, chunk_bytes=64 * 1024 * 1024)
    assert len({part for phase, part in pipeline.log["tasks"] if phase == "chunk"}) >= 6
    assert same(whole, split)
    assert comparable(stored("whole")) == comparable(stored("split"))


@pytest.mark.parametrize("fmt", ["csv.gz", "xlsx"])
def test_a_gzip_or_excel_file_with_more_rows_than_a_part_merges_in_parallel_parts(tenants, pipeline, monkeypatch, fmt):
    """A gzip or XLSX file cannot be cut by bytes: it is validated in one invocation and its
    merges, the slow step, go to the pipeline in ranges of about INGEST_PART_ROWS accounts."""
    out = io.BytesIO()
    write_portfolio(out, 500, seed=11, as_of=date(2026, 11, 23), fmt=fmt)
    whole = pipeline(f"portfolios/whole/cartera.{fmt}", out.getvalue(), chunk_bytes=None)
    monkeypatch.setenv("INGEST_PART_ROWS", "120")
    split = pipeline(f"portfolios/split/cartera.{fmt}", out.getvalue(), chunk_bytes=64 * 1024 * 1024)
    tasks = pipeline.log["tasks"]
    assert not [t for t in tasks if t[0] == "chunk"] and len({p for phase, p in tasks if phase == "merge"}) >= 4
    assert whole["status"] == "succeeded" and whole["accounts_created"] == 500
    assert same(whole, split)
    assert comparable(stored("whole")) == comparable(stored("split"))
