"""The parallel ingest pipeline: a CSV larger than ``INGEST_CHUNK_BYTES``, in parts.

``start`` (in the S3-triggered invocation) reads the file once to cut it into byte ranges on
record boundaries and the accounts' placement order (``accounts.store.placement``: shard, then
id; the order the tenant's accounts are stored in) into as many ranges (``portfolio.splitting``), stores
the plan in the upload's work files (``portfolio.files``, which has their keys) and queues one
task per chunk on the ingest queue. The worker function then runs three phases, each part an SQS
message:

- ``chunk`` i: reads its byte range, validates its rows (step 1 of ``ingest``), and writes its
  accepted rows, sorted and cut by placement range, as one run per range, and its problems;
- ``merge`` r: merges every chunk's run for range r with the stored accounts of that range
  (step 2), writing changes; each segment's duplicates and absent accounts go to work files;
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
import math
import tempfile
from dataclasses import asdict
from datetime import timedelta
from functools import lru_cache, partial
from typing import IO, Any, Callable, Iterable, Iterator

import orjson

from ..accounts import store as accounts_repo
from ..core import clock, queues
from ..core.instants import utc_stamp
from ..core.observability import logger
from ..core.settings import get_settings
from ..kpis import store as kpis_repo
from . import files
from . import uploads as uploads_repo
from .readers import PortfolioFile, binary_stream
from .reports import ProblemLog, assemble_rejects, problem_rows_in_order
from .rows import MAX_SUMMARY_ROWS, Header, Problem, parse_header
from .runs import SortedRuns
from .splitting import chunk_records, plan_split, range_bounds, range_of
from .steps import Job, Tally, complete, merge_accounts, validate_rows, withdraw, withdrawals_allowed

PHASES = ("chunk", "merge", "withdraw")
#: Accounts a merge part writes between two checkpoints.
SEGMENT = 2_000
#: A merge part takes no new segment with less time than this left: it hands the rest of its
#: range on (a segment takes seconds; this leaves a wide margin on a slow machine).
RESERVE_SECONDS = 120.0
#: How long the pipeline holds its upload from the moment a part starts (or is queued): the
#: longest a part can take before SQS gives up on it, IngestQueue's VisibilityTimeout (5,400 s)
#: times its maxReceiveCount (3). A part that ends in the DLQ leaves the upload to the watchdog.
PART_LEASE = timedelta(seconds=5400 * 3)


def hold(job: Job) -> None:
    """The pipeline is at work on the upload: its lease runs PART_LEASE from now."""
    uploads_repo.extend_lease(job.tenant_id, job.upload_id, utc_stamp(clock.utcnow() + PART_LEASE))


# ---------------------------------------------------------------- start (S3-triggered)
def start(job: Job, portfolio: PortfolioFile, header: Header, file_info: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    body = files.open_upload(job.bucket, job.key, job.version_id)
    try:
        plan = plan_split(binary_stream(body, 1024 * 1024), portfolio.encoding or "utf-8", portfolio.delimiter or ",",
                          header.fields.index("account_id"), settings.ingest_chunk_bytes, order=accounts_repo.placement,
                          header_row=portfolio.header_row, last_chunk_rows=MAX_SUMMARY_ROWS + 1,
                          chunk_rows=settings.ingest_part_rows)
    finally:
        body.close()
    document = {
        "job": job.to_dict(),
        "file": file_info,
        "header": plan.header,
        "chunks": [asdict(chunk) for chunk in plan.chunks],
        "boundaries": plan.boundaries,
    }
    files.put_plan(job.bucket, job.tenant_id, job.upload_id, document)
    uploads_repo.begin_pipeline(job.tenant_id, job.upload_id, len(plan.chunks), plan.ranges, job.started_at)
    hold(job)
    _send(job, "chunk", range(len(plan.chunks)))
    logger.info("ingest split into parts", extra={"chunks": len(plan.chunks), "ranges": plan.ranges, "records": plan.records})
    return {"upload_id": job.upload_id, "tenant_id": job.tenant_id, "key": job.key, "mode": job.mode,
            "status": "processing", "chunks": len(plan.chunks), "ranges": plan.ranges}


def start_merges(job: Job, entries: Iterator[tuple[Any, ...]], tally: Tally, problems: ProblemLog,
                 file_info: dict[str, Any]) -> dict[str, Any]:
    """A file validated whole (gzip, XLSX: no byte ranges to split) with more accepted rows than
    one invocation merges: its rows, already sorted by account id, are cut into ranges of about
    ``ingest_part_rows`` accounts, which merge in parallel as a split CSV's do (it is chunk 0)."""
    accepted = tally.rows_total - tally.rows_rejected  # validated rows (duplicates are found by the merges)
    ranges = max(1, -(-accepted // get_settings().ingest_part_rows))
    boundaries = _write_ranges(job, entries, -(-accepted // ranges))
    with problems.rows() as rows:
        files.put_chunk_problems(job.bucket, job.tenant_id, job.upload_id, 0, rows)
    document = {"job": job.to_dict(), "file": file_info, "header": [], "chunks": [], "boundaries": boundaries}
    files.put_plan(job.bucket, job.tenant_id, job.upload_id, document)
    uploads_repo.begin_pipeline(job.tenant_id, job.upload_id, 1, len(boundaries) + 1, job.started_at)
    uploads_repo.record_part(job.tenant_id, job.upload_id, "chunk", 0, tally.to_dict())
    hold(job)
    _send(job, "merge", range(len(boundaries) + 1))
    logger.info("ingest merges split into parts", extra={"ranges": len(boundaries) + 1, "rows": accepted})
    return {"upload_id": job.upload_id, "tenant_id": job.tenant_id, "key": job.key, "mode": job.mode,
            "status": "processing", "chunks": 1, "ranges": len(boundaries) + 1}


def _write_ranges(job: Job, entries: Iterator[tuple[Any, ...]], per_range: int) -> list[str]:
    """Writes sorted rows as chunk 0's run of each range, a range about every ``per_range`` rows
    (a range never splits one account's rows); returns the range boundaries (placements)."""
    boundaries: list[str] = []
    out, count, last_place = _JsonLines(), 0, None
    for place, row_number, (row_hash, facts) in entries:
        if count >= per_range * (len(boundaries) + 1) and place != last_place:
            out.upload(partial(files.put_run, job.bucket, job.tenant_id, job.upload_id, len(boundaries), 0))
            boundaries.append(place)
            out = _JsonLines()
        out.add([place, row_number, row_hash, accounts_repo.to_wire(facts)])
        count, last_place = count + 1, place
    out.upload(partial(files.put_run, job.bucket, job.tenant_id, job.upload_id, len(boundaries), 0))
    return boundaries


def _send(job: Job, phase: str, parts: Iterable[int]) -> None:
    """Queues one task per part, ten per request, retrying entries SQS did not take."""
    url = get_settings().ingest_queue_url
    if not url:
        raise RuntimeError("INGEST_QUEUE_URL is not set: the parallel pipeline has no queue")
    queues.send_messages(url,
                         [{"phase": phase, "tenant_id": job.tenant_id, "upload_id": job.upload_id, "part": part} for part in parts])


# ---------------------------------------------------------------- worker
def handle_task(task: dict[str, Any], time_left: Callable[[], float] = lambda: math.inf) -> str:
    """Runs one part; returns what happened (for the worker's log). ``time_left``: seconds this
    invocation has left (the Lambda context's), so a long part hands on before its limit."""
    phase, tenant_id, upload_id, part = task["phase"], task["tenant_id"], task["upload_id"], int(task["part"])
    if phase not in PHASES:
        raise ValueError(f"unknown ingest phase {phase!r}")
    logger.append_keys(tenant_id=tenant_id, upload_id=upload_id, phase=phase, part=part)
    if uploads_repo.is_final(tenant_id, upload_id):
        logger.info("upload already final; task dropped")
        return "dropped"
    plan = _plan(get_settings().data_bucket, tenant_id, upload_id)
    job = Job(**plan["job"])
    hold(job)
    if phase == "merge":
        _merge(job, plan, part, time_left)
    else:
        {"chunk": _chunk, "withdraw": _withdraw}[phase](job, plan, part)
    return "done"


def forget_plans() -> None:
    """Drops the plans this process read (a warm worker keeps the last few)."""
    _plan.cache_clear()


@lru_cache(maxsize=8)
def _plan(bucket: str, tenant_id: str, upload_id: str) -> dict[str, Any]:
    return files.read_plan(bucket, tenant_id, upload_id)


def _chunk(job: Job, plan: dict[str, Any], index: int) -> None:
    chunk = plan["chunks"][index]
    info = plan["file"]
    header = parse_header(plan["header"])
    tally, problems = Tally(), ProblemLog()
    body = files.open_upload(job.bucket, job.key, job.version_id, (chunk["start"], chunk["end"]))
    try:
        with SortedRuns() as runs:
            records = chunk_records(binary_stream(body, 1024 * 1024), info["encoding"], info["delimiter"], chunk["first_row"])
            # only the last part ends the file, so only it can end in a summary block (TOTAL rows);
            # the plan keeps the last MAX_SUMMARY_ROWS + 1 rows together in it
            validate_rows(job, header, records, runs.add, tally, problems, ends_file=index == len(plan["chunks"]) - 1)
            _write_runs(job, plan, index, runs.merged())
    finally:
        body.close()
    with problems.rows() as rows:
        files.put_chunk_problems(job.bucket, job.tenant_id, job.upload_id, index, rows)
    if uploads_repo.record_part(job.tenant_id, job.upload_id, "chunk", index, tally.to_dict()) is not None:
        _send(job, "merge", range(len(plan["boundaries"]) + 1))


def _write_runs(job: Job, plan: dict[str, Any], chunk: int, entries: Iterator[tuple[Any, ...]]) -> None:
    """Writes a chunk's sorted accepted rows as one object per placement range."""
    boundaries = plan["boundaries"]
    current, out = -1, None
    for place, row_number, (row_hash, facts) in entries:
        part = range_of(place, boundaries)
        if part != current:
            if out is not None:
                out.upload(partial(files.put_run, job.bucket, job.tenant_id, job.upload_id, current, chunk))
            current, out = part, _JsonLines()
        assert out is not None  # nosec B101  # type narrowing: ranges start at 0, current at -1: the first entry opened one
        out.add([place, row_number, row_hash, accounts_repo.to_wire(facts)])
    if out is not None:
        out.upload(partial(files.put_run, job.bucket, job.tenant_id, job.upload_id, current, chunk))


class _JsonLines:
    """Gzipped JSON lines spooled to local disk, then stored (memory stays flat)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._gzip = gzip.GzipFile(fileobj=self._file, mode="wb", compresslevel=3)
        self.count = 0

    def add(self, value: Any) -> None:
        self._gzip.write(_json_line(value))
        self.count += 1

    def upload(self, put: Callable[[IO[bytes]], None]) -> None:
        """Hands the finished file to ``put`` (a ``files`` function that stores it), then drops it."""
        self._gzip.close()
        self._file.seek(0)
        with self._file:
            put(self._file)


def _json_line(value: Any) -> bytes:
    """``value`` as one line of JSON: by orjson (non-ASCII characters as UTF-8, where
    ``json.dumps`` escapes them: the same JSON, in half the time: 7.3 against 15.1 us for a row of
    a run). What orjson refuses (a lone surrogate, a whole number over 64 bits) is written by
    ``json.dumps``, as before, after a space that tells ``_read_line`` to read it by ``json``
    too (orjson would read such a number as a float). A run holds strings, whole numbers and
    wire forms, no float (orjson would write a NaN as null)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return b" " + json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _adds_wire(spool: _JsonLines) -> Callable[[dict[str, Any]], None]:
    """Adds each account it is given to ``spool``, as DynamoDB attribute values."""
    return lambda account: spool.add(accounts_repo.to_wire(account))


def _read_lines(key: str, bucket: str) -> Iterator[Any]:
    body = files.open_work_file(bucket, key)
    with gzip.GzipFile(fileobj=body) as lines:
        for line in lines:
            yield _read_line(line)


def _read_line(line: bytes) -> Any:
    """A line written by ``_json_line`` (or by ``json.dumps``, before it): by orjson (7.1 against
    12.8 us for a row of a run), or by ``json.loads`` when ``_json_line`` wrote it so (it starts
    with a space) or orjson refuses it (an escaped lone surrogate)."""
    if line[:1] == b" ":
        return json.loads(line)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def _read_run(key: str, bucket: str) -> Iterator[tuple[Any, ...]]:
    for place, row_number, row_hash, wire in _read_lines(key, bucket):
        yield place, row_number, (row_hash, accounts_repo.from_wire(wire))


def _merge(job: Job, plan: dict[str, Any], index: int, time_left: Callable[[], float]) -> None:
    """Merges range ``index`` in segments of SEGMENT accounts, each written and checkpointed
    before the next: a part that times out resumes after its last checkpoint, and one that is
    running out of time hands the rest of its range on to a new message instead of timing out."""
    segment, after, tally, reads_stored = _resume(job, index)
    runs = [_read_run(key, job.bucket) for key in files.run_keys(job.bucket, job.tenant_id, job.upload_id, index)]
    incoming = _Peekable(heapq.merge(*runs, key=lambda entry: (entry[0], entry[1])))
    if after is not None:
        incoming.skip_through(after)
    low, high = range_bounds(plan["boundaries"], index)
    while True:
        if time_left() < RESERVE_SECONDS:
            _send(job, "merge", [index])  # the same part, from its last checkpoint
            logger.info("merge part handed on", extra={"segment": segment})
            return
        entries = incoming.take_accounts(SEGMENT)
        final = incoming.exhausted()
        stored = _stored_after(job.tenant_id, after, low, high) if reads_stored else iter(())
        duplicates: list[Problem] = []
        absent = _JsonLines()
        level = kpis_repo.Batch(job.tenant_id)
        with accounts_repo.BatchWriter() as writer:
            merge_accounts(job, iter(entries), stored, writer, tally, duplicates.append,
                           _adds_wire(absent), drain=final, level=level)
        level.flush()  # once the segment's accounts are written
        if duplicates:
            rows = io.StringIO()
            csv.writer(rows, lineterminator="\r\n").writerows(problem_rows_in_order(duplicates))
            files.put_segment_problems(job.bucket, job.tenant_id, job.upload_id, index, segment, rows.getvalue().encode())
        if absent.count:
            absent.upload(partial(files.put_absent, job.bucket, job.tenant_id, job.upload_id, index, segment))
        if final:
            break
        segment, after = segment + 1, entries[-1][0]
        uploads_repo.save_progress(job.tenant_id, job.upload_id, "merge", index,
                                   {"segment": segment, "after": after, "tally": tally.to_dict()})
    _merged(job, plan, index, tally)


def _resume(job: Job, index: int) -> tuple[int, str | None, Tally, bool]:
    """Where merge part ``index`` starts: its segment, the placement it ends after, its tally so
    far, and whether it reads the stored accounts. A tenant's first upload reads none back, on
    its part's first attempt only: the checkpoint saved first makes any retry read what the
    attempt wrote (and what others wrote since)."""
    progress = uploads_repo.progress_of(job.tenant_id, job.upload_id, "merge", index)
    reads_stored = progress is not None or not job.tenant_had_no_accounts
    if progress is None:
        progress = {"segment": 0, "after": None}
        if not reads_stored:  # a copy of this part delivered at the same moment reads
            reads_stored = not uploads_repo.start_progress(job.tenant_id, job.upload_id, "merge", index, progress)
    tally = Tally.from_dict(progress["tally"]) if "tally" in progress else Tally()
    return int(progress["segment"]), progress["after"], tally, reads_stored


def _merged(job: Job, plan: dict[str, Any], index: int, tally: Tally) -> None:
    """Records merge part ``index``; the last part to end starts the withdrawals, or finishes."""
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


def _stored_after(tenant_id: str, after: str | None, low: str | None, high: str | None) -> Iterator[dict[str, Any]]:
    """The range's stored accounts placed after ``after`` (from its start when None)."""
    for account in accounts_repo.iter_tenant_accounts(tenant_id, after if after is not None else low, high):
        if after is None or accounts_repo.placement(account["account_id"]) > after:
            yield account


class _Peekable:
    """The merged incoming rows, taken one segment (a number of accounts) at a time."""

    def __init__(self, entries: Iterator[tuple[Any, ...]]):
        self._entries = entries
        self._next: tuple[Any, ...] | None = next(entries, None)

    def exhausted(self) -> bool:
        return self._next is None

    def skip_through(self, place: str) -> None:
        while self._next is not None and self._next[0] <= place:
            self._next = next(self._entries, None)

    def take_accounts(self, accounts: int) -> list[tuple[Any, ...]]:
        """The rows of the next ``accounts`` accounts (every row of an account: duplicates too)."""
        taken: list[tuple[Any, ...]] = []
        seen = 0
        while self._next is not None:
            if not taken or self._next[0] != taken[-1][0]:
                if seen == accounts:
                    break
                seen += 1
            taken.append(self._next)
            self._next = next(self._entries, None)
        return taken


def _withdraw(job: Job, plan: dict[str, Any], index: int) -> None:
    tally = Tally()
    absent = (accounts_repo.from_wire(item) for key in files.absent_keys(job.bucket, job.tenant_id, job.upload_id, index)
              for item in _read_lines(key, job.bucket))
    level = kpis_repo.Batch(job.tenant_id)
    with accounts_repo.BatchWriter() as writer:
        withdraw(job, absent, writer, tally, level)
    level.flush()
    if uploads_repo.record_part(job.tenant_id, job.upload_id, "withdraw", index, tally.to_dict()) is not None:
        _finish(job, plan)


def _finish(job: Job, plan: dict[str, Any]) -> None:
    """Adds up every part and writes the upload's reports."""
    results = uploads_repo.part_results(job.tenant_id, job.upload_id)
    tally = Tally()
    for phase in PHASES:
        for result in results.get(phase, {}).values():
            tally.add(Tally.from_dict(result))
    chunk_keys, segment_keys = files.problem_keys(job.bucket, job.tenant_id, job.upload_id)
    chunk_rows = _concat(chunk_keys, job.bucket)
    range_rows = [_csv_rows(k, job.bucket) for k in segment_keys]
    with assemble_rejects([chunk_rows, *range_rows]) as rejects:
        complete(job, tally, rejects, plan["file"], None)


def _csv_rows(key: str, bucket: str) -> Iterator[list[str]]:
    body = files.open_work_file(bucket, key)
    yield from csv.reader(io.TextIOWrapper(binary_stream(body), encoding="utf-8", newline=""))


def _concat(keys: Iterable[str], bucket: str) -> Iterator[list[str]]:
    """Chunk problem files, in chunk order: together they are in row order."""
    for key in keys:
        yield from _csv_rows(key, bucket)
