"""Portfolio ingestion (SPEC §3): an S3 object under portfolios/ becomes accounts.

Every upload goes through the same three steps, whether one invocation does all of them (files
up to ``INGEST_CHUNK_BYTES``) or the parallel ``pipeline`` spreads them over workers:

1. **validate**: parse, validate and normalize every row as it streams; rejected rows and
   warnings go to a problems file, accepted accounts to sorted runs (constant memory);
2. **merge**: the runs, in placement order (shard, then id), against the tenant's stored accounts:
   a repeated account_id is rejected, new and changed accounts are segmented and written in
   batches of 25, unchanged ones skipped, and (for a full snapshot) the absent ones collected;
3. **withdraw and report**: the absent accounts are withdrawn unless that would withdraw too
   much of the portfolio (then they are held back and an alarm raised); summary.json and
   rejects.csv go to reports/<tenant>/uploads/<upload_id>/.

The same event twice is a no-op (the upload record is final); the same file again writes
nothing (every account unchanged); a retried step recounts what it already wrote as its own.
A file that cannot be read fails as a whole, before any account is written.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, Iterable, Mapping, Protocol

from ..accounts import store as accounts_repo
from ..core import clock
from ..core.instants import local_date, utc_stamp
from ..core.observability import logger
from ..core.settings import get_settings
from ..core.tables import TenantModel
from ..kpis import store as kpis_repo
from ..tenants import store as tenants_repo
from ..tenants.policy import effective_policy
from . import files, pipeline, snapshots
from . import uploads as uploads_repo
from .readers import FileRejected, PortfolioFile, open_portfolio
from .reports import ProblemLog
from .rows import PORTFOLIO, Columns, Header, HeaderError, is_header_row, parse_header
from .runs import ItemSpool, SortedRuns
from .splitting import splittable
from .steps import (
    Job,
    Tally,
    complete,
    merge_accounts,
    validate_rows,
    withdraw,
    withdrawals_allowed,
)


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int = 0
    etag: str = ""
    sequencer: str = ""
    version_id: str = ""


def upload_id_for(obj: S3Object) -> str:
    """One upload per object version, whatever events arrive for it: the id derives from the
    object's identity (bucket, key, version id, ETag, size), never from the event, so a
    redelivery, a retry, or two events for one object (S3's Put and CompleteMultipartUpload
    seen by a local stack) all map to the same upload."""
    seed = f"{obj.bucket}/{obj.key}|{obj.version_id}|{obj.etag.strip(chr(34))}|{obj.size}"
    return "up_" + hashlib.sha256(seed.encode()).hexdigest()[:20]


# ---------------------------------------------------------------- entry point
class OtherFile(Protocol):
    """Another kind of file under ``portfolios/<tenant>/<mode>/`` (payments): read like a
    portfolio (formats, header search, row numbers, reports), its rows applied by its own use case."""

    columns: Columns

    def apply(self, job: Job, header: Header, records: Iterable[tuple[int, Any]], tally: Tally,
              problems: ProblemLog, date_epoch: date | None) -> None: ...


def ingest_object(obj: S3Object, now: datetime | None = None, holding: timedelta = timedelta(minutes=15),
                  others: Mapping[str, OtherFile] | None = None) -> dict[str, Any]:
    """Processes one portfolio object and returns its summary (also written to S3); a large CSV
    is handed to the parallel pipeline and ``{"status": "processing"}`` returned.

    ``holding``: how long this invocation may work on it (its time left): the upload's lease, so
    a duplicate event meanwhile is a no-op, and a retry after a timeout may take over.
    ``others``: the other kinds of file by mode (the function composes them: payments)."""
    now = now or clock.utcnow()
    try:
        pkey = files.parse_portfolio_key(obj.key)
    except files.NotAPortfolioKey:
        logger.warning("ignored object outside portfolios/<tenant>/", extra={"key_prefix": obj.key.split("/")[0]})
        return {"status": "ignored", "key": obj.key}
    incoming = files.fetch_upload(obj.bucket, obj.key, obj.version_id)
    if incoming is None:
        logger.warning("object vanished before ingestion", extra={"tenant_id": pkey.tenant_id})
        return {"status": "ignored", "key": obj.key}
    tagged = incoming.tagged_upload_id
    upload_id = tagged if tagged.startswith("up_") else upload_id_for(obj)
    logger.append_keys(tenant_id=pkey.tenant_id, upload_id=upload_id)
    size = obj.size or incoming.size

    started = utc_stamp(now)
    if not uploads_repo.claim_upload(pkey.tenant_id, upload_id, obj.key, started, utc_stamp(now + holding)):
        incoming.body.close()
        return _claimed_elsewhere(pkey.tenant_id, upload_id)

    job = Job(pkey.tenant_id, upload_id, obj.bucket, obj.key, obj.version_id, pkey.mode,
              "America/Mexico_City", {}, now.date().isoformat(), started)
    tally, problems = Tally(), ProblemLog()
    file_info: dict[str, Any] = {}
    try:
        handed_off = _read_and_apply(job, incoming, obj, pkey.name, size, now, others or {}, tally, problems, file_info)
        if handed_off is not None:
            return handed_off
        error = None
    except FileRejected as exc:
        error = exc
    except BaseException:
        # a crash, not a verdict on the file: give the upload back so the retry takes over at once
        uploads_repo.extend_lease(pkey.tenant_id, upload_id, utc_stamp(clock.utcnow() - timedelta(seconds=1)))
        raise
    finally:
        incoming.body.close()
    with problems.rejects_csv() as rejects:
        return complete(job, tally, rejects, file_info, error)


def _read_and_apply(job: Job, incoming: files.IncomingFile, obj: S3Object, name: str, size: int, now: datetime,
                    others: Mapping[str, OtherFile], tally: Tally, problems: ProblemLog,
                    file_info: dict[str, Any]) -> dict[str, Any] | None:
    """Reads the file (its kind by mode) and applies its rows: in this invocation, or hands a
    large portfolio to the pipeline (returns its ``processing`` answer then). Fills ``file_info``."""
    tenant = _tenant_of(job, now)
    other = others.get(job.mode)
    columns = other.columns if other is not None else PORTFOLIO
    portfolio = open_portfolio(incoming.body, obj.key, partial(is_header_row, columns=columns))
    header = header_of(portfolio, columns)
    file_info.update({"format": portfolio.format, "encoding": portfolio.encoding, "delimiter": portfolio.delimiter,
                      "rows_skipped_before_header": portfolio.rows_skipped_before_header})
    if other is not None:
        other.apply(job, header, portfolio.records, tally, problems, portfolio.date_epoch)
        if tally.rows_total == 0:
            raise FileRejected("no_rows", "the file has a header but no data rows")
        return None
    if job.mode == "snapshot":
        _check_snapshot_order(job, tenant, portfolio, header, name, incoming.last_modified or now)
    if _worth_splitting(portfolio, size):
        incoming.body.close()
        return pipeline.start(job, portfolio, header, file_info)
    return _ingest_whole(job, header, portfolio.records, tally, problems, portfolio.date_epoch, file_info)


def _claimed_elsewhere(tenant_id: str, upload_id: str) -> dict[str, Any]:
    """The answer to an event for an upload another invocation claimed: its stored summary
    when it is done, else its status."""
    logger.info("upload already processed or being processed; event ignored")
    existing = uploads_repo.get_upload(tenant_id, upload_id)
    if existing and existing.summary:
        summary: dict[str, Any] = existing.summary  # a JSONAttribute: the summary stored as a JSON object
        return summary
    return {"status": existing.status if existing else "duplicate", "upload_id": upload_id}


def _tenant_of(job: Job, now: datetime) -> TenantModel:
    """The job's tenant (an unknown one rejects the file); sets the job's policy, timezone and
    local date from it."""
    tenant = tenants_repo.get_tenant(job.tenant_id)
    if tenant is None:
        raise FileRejected("unknown_tenant", f"no tenant '{job.tenant_id}': create it first (infra.admin tenant create)")
    job.policy = effective_policy(tenant.policy)
    job.tenant_timezone = tenant.timezone
    job.today = local_date(now, tenant.timezone).isoformat()
    if tenant.no_accounts_yet:  # taken before any account is written: a retry reads them back
        job.tenant_had_no_accounts = tenants_repo.claim_first_upload(job.tenant_id)
    return tenant


def _check_snapshot_order(job: Job, tenant: Any, portfolio: PortfolioFile, header: Header, name: str,
                          stored_at: datetime) -> None:
    """Sets the snapshot's as-of date; a snapshot older than the newest applied one is refused
    (``stale_snapshot``) before any row is read, so it changes nothing."""
    column = snapshots.as_of_column(header.attribute_names)
    value = None
    if column is not None:
        first = next(portfolio.records, None)
        if first is not None:
            portfolio.records = itertools.chain([first], portfolio.records)
            value = first[1][column] if column < len(first[1]) else None
    as_of, source = snapshots.snapshot_as_of(value, name, stored_at, job.tenant_timezone, portfolio.date_epoch)
    job.as_of, job.as_of_source = as_of.isoformat(), source
    if snapshots.is_stale(as_of, tenant.snapshot_as_of):
        raise FileRejected("stale_snapshot", f"this snapshot is as of {as_of.isoformat()} ({source.replace('_', ' ')}); "
                                             f"a newer one, as of {tenant.snapshot_as_of}, was already applied")


def header_of(portfolio: PortfolioFile, columns: Columns = PORTFOLIO) -> Header:
    try:
        return parse_header(portfolio.header, columns)
    except HeaderError as exc:
        raise FileRejected("missing_columns", str(exc)) from None


def _worth_splitting(portfolio: PortfolioFile, size: int) -> bool:
    """A CSV goes to the parallel pipeline when it is larger than a chunk, or holds more rows than
    one invocation may handle (estimated from the bytes per line of its first 64 KB)."""
    settings = get_settings()
    return (
        bool(settings.ingest_queue_url)
        and portfolio.format == "csv"
        and (size > settings.ingest_chunk_bytes or estimated_rows(portfolio.head, size) > settings.ingest_part_rows)
        and splittable(portfolio.encoding or "", portfolio.head)
    )


def estimated_rows(head: bytes, size: int) -> int:
    """Rows in a file of ``size`` bytes whose first bytes are ``head`` (lines of the same mean length)."""
    lines = head.count(b"\n")
    if not lines:
        return 1
    return int(size * lines / len(head))


def _ingest_whole(job: Job, header: Header, records: Iterable[tuple[int, Any]], tally: Tally, problems: ProblemLog,
                  date_epoch: date | None = None, file_info: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The three steps in this invocation (CSV files within one part, and every gzip/XLSX). A
    gzip or XLSX file with more accepted rows than one invocation merges is validated here and
    its merges handed to the pipeline: returns its ``processing`` answer then, else None."""
    with SortedRuns() as runs:
        validate_rows(job, header, records, runs.add, tally, problems, date_epoch=date_epoch)
        if tally.rows_total == 0:
            raise FileRejected("no_rows", "the file has a header but no data rows")
        settings = get_settings()
        if settings.ingest_queue_url and tally.rows_total - tally.rows_rejected > settings.ingest_part_rows:
            return pipeline.start_merges(job, runs.merged(), tally, problems, file_info or {})
        level = kpis_repo.Batch(job.tenant_id)
        with ItemSpool() as absent, accounts_repo.BatchWriter() as writer:
            stored = iter(()) if job.tenant_had_no_accounts else accounts_repo.iter_tenant_accounts(job.tenant_id)
            merge_accounts(job, runs.merged(), stored, writer, tally, problems.add_late, absent.add, level=level)
            if withdrawals_allowed(job, tally):
                withdraw(job, absent, writer, tally, level)
        level.flush()  # once the accounts are written
    return None
