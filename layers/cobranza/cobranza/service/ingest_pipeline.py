"""The parallel ingest pipeline: a CSV larger than ``INGEST_CHUNK_BYTES``, in parts.

``start`` (in the S3-triggered invocation) reads the file once to cut it into byte ranges on
record boundaries and the account-id space into as many ranges (``files.splitting``), stores
the plan under ``work/<tenant>/<upload>/plan.json`` and queues one task per chunk on the ingest
queue. The worker function then runs three phases, each part an SQS message:

- ``chunk`` i: reads its byte range, validates its rows (step 1 of ``ingest``), and writes its
  accepted rows, sorted and cut by account-id range, to ``runs/r<range>/c<chunk>.jsonl.gz``
  and its problems to ``problems/c<chunk>.csv``;
- ``merge`` r: merges every chunk's run for range r with the stored accounts of that range
  (step 2), writing changes; duplicates go to ``problems/r<range>.csv``, absent accounts to
  ``absent/r<range>.jsonl.gz``;
- ``withdraw`` r (only when the whole snapshot may withdraw, step 3): withdraws them.

Each part records its result in the upload record; the part that completes a phase starts the
next one, and the last one writes the reports (``ingest.complete``). Every part is idempotent:
a retried part rewrites the same objects and result, and the merge recounts accounts this
upload already wrote as its own, so a failed part is retried without losing or doubling rows.
"""
from __future__ import annotations

import csv
import gzip
import heapq
import io
import json
import tempfile
from dataclasses import asdict
from functools import lru_cache
from typing import Any, Iterable, Iterator

from .. import aws
from ..config import get_settings
from ..domain.portfolio import Header, Problem, parse_header
from ..files.readers import PortfolioFile, binary_stream
from ..files.reports import ProblemLog, assemble_rejects, problem_rows_in_order
from ..files.runs import SortedRuns
from ..files.splitting import chunk_records, plan_split, range_bounds, range_of
from ..observability import logger
from ..storage import accounts as accounts_repo
from ..storage import uploads as uploads_repo
from .ingest import Job, Tally, complete, merge_accounts, validate_rows, withdraw, withdrawals_allowed

PHASES = ("chunk", "merge", "withdraw")


def work_prefix(tenant_id: str, upload_id: str) -> str:
    """Intermediate objects of a split upload (expired by the bucket's lifecycle rule)."""
    return f"work/{tenant_id}/{upload_id}/"


# ---------------------------------------------------------------- start (S3-triggered)
def start(job: Job, portfolio: PortfolioFile, header: Header, file_info: dict[str, Any]) -> dict[str, Any]:
    s3 = aws.client("s3")
    settings = get_settings()
    body = s3.get_object(Bucket=job.bucket, Key=job.key, **_version(job))["Body"]
    try:
        plan = plan_split(binary_stream(body, 1024 * 1024), portfolio.encoding or "utf-8", portfolio.delimiter or ",",
                          header.fields.index("account_id"), settings.ingest_chunk_bytes)
    finally:
        body.close()
    document = {
        "job": job.to_dict(),
        "file": file_info,
        "header": plan.header,
        "chunks": [asdict(chunk) for chunk in plan.chunks],
        "boundaries": plan.boundaries,
    }
    s3.put_object(Bucket=job.bucket, Key=work_prefix(job.tenant_id, job.upload_id) + "plan.json",
                  Body=json.dumps(document).encode(), ContentType="application/json")
    uploads_repo.begin_pipeline(job.tenant_id, job.upload_id, len(plan.chunks), plan.ranges, job.started_at)
    _send(job, "chunk", range(len(plan.chunks)))
    logger.info("ingest split into parts", extra={"chunks": len(plan.chunks), "ranges": plan.ranges, "records": plan.records})
    return {"upload_id": job.upload_id, "tenant_id": job.tenant_id, "key": job.key, "mode": job.mode,
            "status": "processing", "chunks": len(plan.chunks), "ranges": plan.ranges}


def _version(job: Job) -> dict[str, str]:
    return {"VersionId": job.version_id} if job.version_id else {}


def _send(job: Job, phase: str, parts: Iterable[int]) -> None:
    """Queues one task per part, ten per request, retrying entries SQS did not take."""
    sqs = aws.client("sqs")
    url = get_settings().ingest_queue_url
    entries = [{"Id": str(part), "MessageBody": json.dumps(
        {"phase": phase, "tenant_id": job.tenant_id, "upload_id": job.upload_id, "part": part})} for part in parts]
    for i in range(0, len(entries), 10):
        batch = entries[i:i + 10]
        for _ in range(5):
            failed = {f["Id"] for f in sqs.send_message_batch(QueueUrl=url, Entries=batch).get("Failed", [])}
            batch = [e for e in batch if e["Id"] in failed]
            if not batch:
                break
        if batch:
            raise RuntimeError(f"SQS refused {len(batch)} {phase} tasks")


# ---------------------------------------------------------------- worker
def handle_task(task: dict[str, Any]) -> str:
    """Runs one part; returns what happened (for the worker's log)."""
    phase, tenant_id, upload_id, part = task["phase"], task["tenant_id"], task["upload_id"], int(task["part"])
    if phase not in PHASES:
        raise ValueError(f"unknown ingest phase {phase!r}")
    logger.append_keys(tenant_id=tenant_id, upload_id=upload_id, phase=phase, part=part)
    if uploads_repo.is_final(tenant_id, upload_id):
        logger.info("upload already final; task dropped")
        return "dropped"
    plan = _plan(get_settings().data_bucket, tenant_id, upload_id)
    job = Job(**plan["job"])
    {"chunk": _chunk, "merge": _merge, "withdraw": _withdraw}[phase](job, plan, part)
    return "done"


@lru_cache(maxsize=8)
def _plan(bucket: str, tenant_id: str, upload_id: str) -> dict[str, Any]:
    body = aws.client("s3").get_object(Bucket=bucket, Key=work_prefix(tenant_id, upload_id) + "plan.json")["Body"]
    return json.loads(body.read())


def _chunk(job: Job, plan: dict[str, Any], index: int) -> None:
    s3 = aws.client("s3")
    chunk = plan["chunks"][index]
    info = plan["file"]
    header = parse_header(plan["header"])
    tally, problems = Tally(), ProblemLog()
    prefix = work_prefix(job.tenant_id, job.upload_id)
    body = s3.get_object(Bucket=job.bucket, Key=job.key, Range=f"bytes={chunk['start']}-{chunk['end'] - 1}", **_version(job))["Body"]
    try:
        with SortedRuns() as runs:
            records = chunk_records(binary_stream(body, 1024 * 1024), info["encoding"], info["delimiter"], chunk["first_row"])
            validate_rows(job, header, records, runs.add, tally, problems)
            _write_runs(job, plan, index, runs.merged())
    finally:
        body.close()
    with problems.rows() as rows:
        s3.upload_fileobj(rows, job.bucket, f"{prefix}problems/c{index:05d}.csv")
    if uploads_repo.record_part(job.tenant_id, job.upload_id, "chunk", index, tally.to_dict()) is not None:
        _send(job, "merge", range(len(plan["boundaries"]) + 1))


def _write_runs(job: Job, plan: dict[str, Any], chunk: int, entries: Iterator[tuple[Any, ...]]) -> None:
    """Writes a chunk's sorted accepted rows as one object per account-id range."""
    boundaries = plan["boundaries"]
    prefix = work_prefix(job.tenant_id, job.upload_id)
    current, out = -1, None
    for account_id, row_number, (row_hash, facts) in entries:
        part = range_of(account_id, boundaries)
        if part != current:
            if out is not None:
                out.upload(job.bucket, f"{prefix}runs/r{current:05d}/c{chunk:05d}.jsonl.gz")
            current, out = part, _JsonLines()
        out.add([account_id, row_number, row_hash, accounts_repo.to_wire(facts)])
    if out is not None:
        out.upload(job.bucket, f"{prefix}runs/r{current:05d}/c{chunk:05d}.jsonl.gz")


class _JsonLines:
    """Gzipped JSON lines spooled to local disk, then uploaded (memory stays flat)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._gzip = gzip.GzipFile(fileobj=self._file, mode="wb", compresslevel=3)
        self.count = 0

    def add(self, value: Any) -> None:
        self._gzip.write(json.dumps(value, separators=(",", ":")).encode() + b"\n")
        self.count += 1

    def upload(self, bucket: str, key: str) -> None:
        self._gzip.close()
        self._file.seek(0)
        with self._file:
            aws.client("s3").upload_fileobj(self._file, bucket, key)


def _read_lines(key: str, bucket: str) -> Iterator[Any]:
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    with gzip.GzipFile(fileobj=body) as lines:
        for line in lines:
            yield json.loads(line)


def _read_run(key: str, bucket: str) -> Iterator[tuple[Any, ...]]:
    for account_id, row_number, row_hash, wire in _read_lines(key, bucket):
        yield account_id, row_number, (row_hash, accounts_repo.from_wire(wire))


def _keys(bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(keys)


def _merge(job: Job, plan: dict[str, Any], index: int) -> None:
    s3 = aws.client("s3")
    prefix = work_prefix(job.tenant_id, job.upload_id)
    runs = [_read_run(key, job.bucket) for key in _keys(job.bucket, f"{prefix}runs/r{index:05d}/")]
    incoming = heapq.merge(*runs, key=lambda entry: (entry[0], entry[1]))
    low, high = range_bounds(plan["boundaries"], index)
    tally = Tally()
    duplicates: list[Problem] = []
    absent = _JsonLines()
    with accounts_repo.BatchWriter() as writer:
        merge_accounts(job, incoming, accounts_repo.iter_tenant_accounts(job.tenant_id, low, high),
                       writer, tally, duplicates.append, lambda account: absent.add(accounts_repo.to_wire(account)))
    if duplicates:
        rows = io.StringIO()
        csv.writer(rows, lineterminator="\r\n").writerows(problem_rows_in_order(duplicates))
        s3.put_object(Bucket=job.bucket, Key=f"{prefix}problems/r{index:05d}.csv", Body=rows.getvalue().encode())
    if absent.count:
        absent.upload(job.bucket, f"{prefix}absent/r{index:05d}.jsonl.gz")
    merged = uploads_repo.record_part(job.tenant_id, job.upload_id, "merge", index, tally.to_dict())
    if merged is None:
        return
    total = Tally()
    for result in merged.values():
        total.add(Tally.from_dict(result))
    if withdrawals_allowed(job, total):
        parts = sorted(int(name.rsplit("-", 1)[1]) for name, result in merged.items() if result["accounts_absent"])
        uploads_repo.set_parts_total(job.tenant_id, job.upload_id, "withdraw", len(parts))
        _send(job, "withdraw", parts)
    else:
        _finish(job, plan)


def _withdraw(job: Job, plan: dict[str, Any], index: int) -> None:
    prefix = work_prefix(job.tenant_id, job.upload_id)
    tally = Tally()
    absent = (accounts_repo.from_wire(item) for item in _read_lines(f"{prefix}absent/r{index:05d}.jsonl.gz", job.bucket))
    with accounts_repo.BatchWriter() as writer:
        withdraw(job, absent, writer, tally)
    if uploads_repo.record_part(job.tenant_id, job.upload_id, "withdraw", index, tally.to_dict()) is not None:
        _finish(job, plan)


def _finish(job: Job, plan: dict[str, Any]) -> None:
    """Adds up every part and writes the upload's reports."""
    results = uploads_repo.part_results(job.tenant_id, job.upload_id)
    tally = Tally()
    for phase in PHASES:
        for result in results.get(phase, {}).values():
            tally.add(Tally.from_dict(result))
    prefix = work_prefix(job.tenant_id, job.upload_id)
    keys = _keys(job.bucket, f"{prefix}problems/")
    chunk_rows = _concat((k for k in keys if "/problems/c" in k), job.bucket)
    range_rows = [_csv_rows(k, job.bucket) for k in keys if "/problems/r" in k]
    with assemble_rejects([chunk_rows, *range_rows]) as rejects:
        complete(job, tally, rejects, plan["file"], None)


def _csv_rows(key: str, bucket: str) -> Iterator[list[str]]:
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    yield from csv.reader(io.TextIOWrapper(binary_stream(body), encoding="utf-8", newline=""))


def _concat(keys: Iterable[str], bucket: str) -> Iterator[list[str]]:
    """Chunk problem files, in chunk order: together they are in row order."""
    for key in keys:
        yield from _csv_rows(key, bucket)
