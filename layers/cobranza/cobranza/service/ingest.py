"""Portfolio ingestion (SPEC §3): an S3 object under portfolios/ becomes accounts.

1. parse + validate + segment every row as it streams from S3; rejected rows and warnings go
   to a problems file, accepted accounts to sorted runs on local disk (constant memory);
2. merge the runs (in account_id order) with the tenant's stored accounts (same order):
   duplicates in the file are rejected, new and changed accounts written in batches of 25,
   unchanged ones skipped, and for a full snapshot the absent ones withdrawn (unless that
   would withdraw too much of the portfolio: then they are held back and an alarm raised);
3. write summary.json and rejects.csv under reports/<tenant>/uploads/<upload_id>/.

The same event twice is a no-op (the upload record is final); the same file again writes
nothing (every account unchanged). A file that cannot be read fails as a whole, before any
account is written.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from .. import aws
from ..domain import segmentation
from ..domain.policy import effective_policy
from ..domain.portfolio import AccountRow, Header, HeaderError, Problem, RowValidator, parse_header
from ..files.readers import FileRejected, open_portfolio
from ..files.reports import ProblemLog, report_prefix, summary_json
from ..files.runs import SortedRuns
from ..observability import logger, metrics
from ..storage import accounts as accounts_repo
from .accounts import refresh_derived
from ..storage import tenants as tenants_repo
from ..storage import uploads as uploads_repo

#: Fields that come from the lender's file (an update replaces all of them).
FILE_FIELDS = (
    "debtor_name", "balance", "currency", "due_date", "timezone", "phone", "email", "address", "city",
    "state", "postal_code", "lat", "lon", "product", "original_amount", "given_risk_score",
    "whatsapp_opt_in", "payment_reference", "attributes",
)
#: Statuses still being worked: a full snapshot withdraws these when the account is absent.
WITHDRAWABLE = frozenset({"active", "promised", "payment_reported", "disputed", "legal"})
PROGRESS_EVERY_ROWS = 100_000
PROGRESS_EVERY_SECONDS = 10.0


class NotAPortfolioKey(ValueError):
    pass


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int = 0
    etag: str = ""
    sequencer: str = ""
    version_id: str = ""


@dataclass(frozen=True)
class PortfolioKey:
    tenant_id: str
    mode: str  # snapshot | delta
    name: str


def parse_portfolio_key(key: str) -> PortfolioKey:
    """``portfolios/<tenant>/<name>`` is a snapshot, ``portfolios/<tenant>/delta/<name>`` a delta."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != "portfolios" or not parts[1] or not parts[-1]:
        raise NotAPortfolioKey(key)
    mode = "delta" if len(parts) >= 4 and parts[2] == "delta" else "snapshot"
    return PortfolioKey(parts[1], mode, parts[-1])


def upload_id_for(obj: S3Object) -> str:
    """Deterministic per object version: a redelivered event maps to the same upload."""
    seed = f"{obj.bucket}/{obj.key}|{obj.etag}|{obj.version_id}|{obj.sequencer}"
    return "up_" + hashlib.sha256(seed.encode()).hexdigest()[:20]


@dataclass
class Tally:
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    warnings: int = 0
    accounts_created: int = 0
    accounts_updated: int = 0
    accounts_unchanged: int = 0
    accounts_withdrawn: int = 0
    withdrawals_held_back: int = 0
    by_stage: Counter = field(default_factory=Counter)
    by_aging_bucket: Counter = field(default_factory=Counter)
    by_segment: Counter = field(default_factory=Counter)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def ingest_object(obj: S3Object, now: datetime | None = None) -> dict[str, Any]:
    """Processes one portfolio object and returns its summary (also written to S3)."""
    now = now or datetime.now(timezone.utc)
    try:
        pkey = parse_portfolio_key(obj.key)
    except NotAPortfolioKey:
        logger.warning("ignored object outside portfolios/<tenant>/", extra={"key_prefix": obj.key.split("/")[0]})
        return {"status": "ignored", "key": obj.key}
    s3 = aws.client("s3")
    try:
        s3_object = s3.get_object(Bucket=obj.bucket, Key=obj.key, **({"VersionId": obj.version_id} if obj.version_id else {}))
    except s3.exceptions.NoSuchKey:
        logger.warning("object vanished before ingestion", extra={"tenant_id": pkey.tenant_id})
        return {"status": "ignored", "key": obj.key}
    meta_upload_id = (s3_object.get("Metadata") or {}).get("upload-id", "")
    upload_id = meta_upload_id if meta_upload_id.startswith("up_") else upload_id_for(obj)
    logger.append_keys(tenant_id=pkey.tenant_id, upload_id=upload_id)

    started = _iso(now)
    if not uploads_repo.claim_upload(pkey.tenant_id, upload_id, obj.key, started):
        s3_object["Body"].close()
        logger.info("upload already processed; event ignored")
        existing = uploads_repo.get_upload(pkey.tenant_id, upload_id)
        return existing.summary if existing and existing.summary else {"status": "duplicate", "upload_id": upload_id}

    summary: dict[str, Any] = {
        "upload_id": upload_id,
        "tenant_id": pkey.tenant_id,
        "key": obj.key,
        "mode": pkey.mode,
        "status": "failed",
        "started_at": started,
    }
    tally = Tally()
    problems = ProblemLog()
    try:
        tenant = tenants_repo.get_tenant(pkey.tenant_id)
        if tenant is None:
            raise FileRejected("unknown_tenant", f"no tenant '{pkey.tenant_id}': create it first (infra.admin tenant create)")
        policy = effective_policy(tenant.policy)
        today = now.astimezone(ZoneInfo(tenant.timezone)).date()
        portfolio = open_portfolio(s3_object["Body"], obj.key)
        try:
            header = parse_header(portfolio.header)
        except HeaderError as exc:
            raise FileRejected("missing_columns", str(exc)) from None
        summary.update(format=portfolio.format, encoding=portfolio.encoding, delimiter=portfolio.delimiter)
        _run(pkey, upload_id, header, portfolio.records, policy, tenant.timezone, today, now, tally, problems)
        if tally.rows_total == 0:
            raise FileRejected("no_rows", "the file has a header but no data rows")
        summary["status"] = "succeeded"
    except FileRejected as exc:
        summary["error"] = {"code": exc.code, "message": exc.message}
        logger.warning("portfolio file failed", extra={"code": exc.code})
    finally:
        s3_object["Body"].close()

    if summary["status"] == "failed":
        # nothing was applied: every row read counts as rejected, no account changed
        tally = Tally(rows_total=tally.rows_total, rows_rejected=tally.rows_total)
    summary.update(
        rows_total=tally.rows_total,
        rows_accepted=tally.rows_accepted,
        rows_rejected=tally.rows_rejected,
        warnings=tally.warnings,
        accounts_created=tally.accounts_created,
        accounts_updated=tally.accounts_updated,
        accounts_unchanged=tally.accounts_unchanged,
        accounts_withdrawn=tally.accounts_withdrawn,
        withdrawals_held_back=tally.withdrawals_held_back,
        by_stage=dict(sorted(tally.by_stage.items())),
        by_aging_bucket={b: tally.by_aging_bucket[b] for b in segmentation.AGING_BUCKETS if tally.by_aging_bucket[b]},
        by_segment=dict(sorted(tally.by_segment.items())),
        finished_at=_iso(datetime.now(timezone.utc)),
    )
    if tally.withdrawals_held_back:
        summary["alarm"] = {
            "code": "snapshot_withdrawal_held_back",
            "message": f"{tally.withdrawals_held_back} active accounts are absent from this snapshot; "
            "more than the policy allows, so none were withdrawn. Check the export and upload it again.",
        }
    _write_reports(obj.bucket, pkey.tenant_id, upload_id, summary, problems)
    uploads_repo.finish_upload(pkey.tenant_id, upload_id, obj.key, summary, summary["finished_at"])
    metrics.add_metric(name="RowsIngested", unit="Count", value=tally.rows_total)
    metrics.add_metric(name="RowsRejected", unit="Count", value=tally.rows_rejected)
    metrics.add_metric(name="UploadsFailed" if summary["status"] == "failed" else "UploadsSucceeded", unit="Count", value=1)
    logger.info("upload finished", extra={k: summary[k] for k in ("status", "rows_total", "rows_accepted", "rows_rejected")})
    return summary


def _write_reports(bucket: str, tenant_id: str, upload_id: str, summary: dict[str, Any], problems: ProblemLog) -> None:
    s3 = aws.client("s3")
    prefix = report_prefix(tenant_id, upload_id)
    with problems.rejects_csv() as rejects:
        s3.upload_fileobj(rejects, bucket, prefix + "rejects.csv", ExtraArgs={"ContentType": "text/csv; charset=utf-8"})
    s3.put_object(Bucket=bucket, Key=prefix + "summary.json", Body=summary_json(summary), ContentType="application/json")


def account_facts(tenant_id: str, row: AccountRow) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "account_id": row.account_id,
        "debtor_name": row.debtor_name,
        "balance": row.balance,
        "currency": row.currency,
        "due_date": row.due_date.isoformat(),
        "timezone": row.timezone,
        "phone": row.phone,
        "email": row.email,
        "address": row.address,
        "city": row.city,
        "state": row.state,
        "postal_code": row.postal_code,
        "lat": row.lat,
        "lon": row.lon,
        "product": row.product,
        "original_amount": row.original_amount,
        "given_risk_score": row.risk_score,
        "whatsapp_opt_in": row.whatsapp_opt_in,
        "payment_reference": row.payment_reference,
        "attributes": row.attributes or None,
    }


def facts_hash(facts: dict[str, Any]) -> str:
    canonical = json.dumps({k: facts.get(k) for k in FILE_FIELDS}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _run(
    pkey: PortfolioKey,
    upload_id: str,
    header: Header,
    records: Iterator[tuple[int, Any]],
    policy: dict[str, Any],
    tenant_tz: str,
    today: date,
    now: datetime,
    tally: Tally,
    problems: ProblemLog,
) -> None:
    validator = RowValidator(
        header, phone_region=policy["phone_region"], currency=policy["currency"], timezone=tenant_tz
    )
    progress = _Progress(tally)
    with SortedRuns() as runs:
        for row_number, values in records:
            tally.rows_total += 1
            row, row_problems = validator.validate(row_number, values)
            if row_problems:
                problems.add(row_problems)
            if row is None:
                tally.rows_rejected += 1
            else:
                tally.warnings += len(row_problems)
                runs.add((row.account_id, row_number), account_facts(pkey.tenant_id, row))
            progress.tick()
        if tally.rows_total:
            _merge(pkey, upload_id, runs.merged(), policy, today, _iso(now), tally, problems)
    progress.done()


def _merge(
    pkey: PortfolioKey,
    upload_id: str,
    incoming: Iterator[tuple[str, int, dict[str, Any]]],
    policy: dict[str, Any],
    today: date,
    stamp: str,
    tally: Tally,
    problems: ProblemLog,
) -> None:
    """Merges the file's accounts (sorted) with the stored ones (sorted) and writes changes."""
    stored = accounts_repo.iter_tenant_accounts(pkey.tenant_id)
    current = next(stored, None)
    withdrawals: list[dict[str, Any]] = []
    active_before = 0
    last_id = None

    def absent(account: dict[str, Any]) -> bool:
        """A stored account missing from the file: a snapshot withdraws it if still worked."""
        worked = account.get("status") in WITHDRAWABLE
        if worked and pkey.mode == "snapshot":
            withdrawals.append(account)
        return worked

    with accounts_repo.BatchWriter() as writer:
        for account_id, row_number, facts in incoming:
            if account_id == last_id:
                tally.rows_rejected += 1
                problems.add_late(Problem(row_number, "error", account_id, "account_id", "duplicate_account_id",
                                          "account_id repeated in this file; the first row was kept", account_id))
                continue
            last_id = account_id
            tally.rows_accepted += 1
            # stored accounts that sort before this one are absent from the file
            while current is not None and current["account_id"] < account_id:
                active_before += absent(current)
                current = next(stored, None)
            existing = None
            if current is not None and current["account_id"] == account_id:
                existing = current
                active_before += current.get("status") in WITHDRAWABLE
                current = next(stored, None)
            item = _upsert(existing, facts, upload_id, policy, today, stamp)
            tally.by_stage[item["stage"]] += 1
            tally.by_aging_bucket[item["aging_bucket"]] += 1
            tally.by_segment[item["segment"]] += 1
            if existing is None:
                tally.accounts_created += 1
                writer.put(item)
            elif item is existing:
                tally.accounts_unchanged += 1
            else:
                tally.accounts_updated += 1
                writer.put(item)
        while current is not None:
            active_before += absent(current)
            current = next(stored, None)
        if withdrawals:
            share = policy["alarms"]["snapshot_max_withdraw_share"]
            if active_before and len(withdrawals) > share * active_before:
                tally.withdrawals_held_back = len(withdrawals)
                logger.warning("snapshot withdrawals held back", extra={"absent": len(withdrawals), "active": active_before})
                metrics.add_metric(name="SnapshotWithdrawalsHeldBack", unit="Count", value=1)
            else:
                for existing in withdrawals:
                    withdrawn = dict(existing, status="withdrawn", updated_at=stamp, next_action_on=None, due_shard=None)
                    writer.put(withdrawn)
                    tally.accounts_withdrawn += 1


def _upsert(
    existing: dict[str, Any] | None,
    facts: dict[str, Any],
    upload_id: str,
    policy: dict[str, Any],
    today: date,
    stamp: str,
) -> dict[str, Any]:
    """The item to store for a row; ``existing`` itself when nothing changed."""
    row_hash = facts_hash(facts)
    settled = facts["balance"] == 0
    if existing is not None:
        status = existing.get("status", "active")
        new_status = "settled" if settled else ("active" if status in ("withdrawn", "settled") else status)
        if existing.get("row_hash") == row_hash and new_status == status:
            return existing
        item = {k: v for k, v in existing.items() if k not in FILE_FIELDS}
        if facts.get("lat") is None and existing.get("geo_source") == "visit":
            facts = dict(facts, lat=existing.get("lat"), lon=existing.get("lon"))
        item.update(facts, status=new_status, row_hash=row_hash, source_upload_id=upload_id, updated_at=stamp)
    else:
        item = dict(
            facts,
            status="settled" if settled else "active",
            row_hash=row_hash,
            source_upload_id=upload_id,
            created_at=stamp,
            updated_at=stamp,
        )
    if item.get("lat") is not None and not item.get("geo_source"):
        item["geo_source"] = "file"
    return refresh_derived(item, policy, today)


class _Progress:
    """Logs rows, rejects and rate every PROGRESS_EVERY_ROWS rows or seconds."""

    def __init__(self, tally: Tally):
        self.tally = tally
        self.started = self.last = time.monotonic()

    def tick(self) -> None:
        if self.tally.rows_total % 1000:
            return
        now = time.monotonic()
        if self.tally.rows_total % PROGRESS_EVERY_ROWS == 0 or now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            self._log("ingest progress")

    def done(self) -> None:
        self._log("ingest parsed and merged")

    def _log(self, message: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        logger.info(message, extra={"progress": {
            "rows": self.tally.rows_total,
            "rejected": self.tally.rows_rejected,
            "rows_per_s": round(self.tally.rows_total / elapsed),
        }})
