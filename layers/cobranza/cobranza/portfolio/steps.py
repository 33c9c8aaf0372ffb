"""The three steps of every upload, shared by the whole-file path (``ingest``) and the parallel
pipeline (``pipeline``): validate the rows, merge them with the stored accounts, withdraw the
absent ones and report. A retried step recounts what it already wrote as its own.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import IO, Any, Callable, Iterable, Iterator, Mapping

from ..accounts import alarms as alarms_repo
from ..accounts import segmentation
from ..accounts import status as account_status
from ..accounts.money import money_of
from ..accounts.service import refresh_derived
from ..accounts.store import placement
from ..core import clock
from ..core.instants import utc_stamp
from ..core.observability import logger, metrics
from ..kpis import store as kpis_repo
from ..tenants import store as tenants_repo
from . import files
from . import uploads as uploads_repo
from .readers import FileRejected
from .reports import ProblemLog
from .rows import AccountRow, Header, Problem, RowValidator, TrailingSummary

#: Fields that come from the lender's file (an update replaces all of them).
FILE_FIELDS = (  # "attributes" last: facts_hash sorts it
    "debtor_name", "balance", "currency", "due_date", "timezone", "phone", "email", "address", "city",
    "state", "postal_code", "lat", "lon", "product", "original_amount", "given_risk_score",
    "whatsapp_opt_in", "payment_reference", "attributes",
)
#: Statuses still being worked: a full snapshot withdraws these when the account is absent.
PROGRESS_EVERY_ROWS = 100_000
PROGRESS_EVERY_SECONDS = 10.0


@dataclass
class Job:
    """What every step of one upload needs to know (serialized into the pipeline's plan)."""

    tenant_id: str
    upload_id: str
    bucket: str
    key: str
    version_id: str
    mode: str
    tenant_timezone: str
    policy: dict[str, Any]
    today: str        # the tenant's date when the upload started
    started_at: str   # ISO UTC; also the stamp on every account written
    as_of: str = ""   # a full snapshot's as-of date (portfolio.snapshots); "" for a delta
    as_of_source: str = ""
    #: The tenant had no account when the upload started: its first attempt reads none back.
    tenant_had_no_accounts: bool = False

    @property
    def day(self) -> date:
        return date.fromisoformat(self.today)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Tally:
    """Counts of one upload, or of one part of it (parts add up)."""

    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_skipped_summary: int = 0  # a trailing TOTAL block: neither accepted nor rejected
    warnings: int = 0
    accounts_created: int = 0
    accounts_updated: int = 0
    accounts_unchanged: int = 0
    accounts_withdrawn: int = 0
    accounts_absent: int = 0     # stored, still worked, missing from a snapshot
    active_before: int = 0       # stored and still worked before this upload
    payments_applied: int = 0    # a payments file (mode ``payments``): payments recorded
    payments_reversed: int = 0   # reversals recorded
    payments_duplicate: int = 0  # sent before with the same content: nothing changed
    amount_applied_cents: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)
    by_aging_bucket: Counter[str] = field(default_factory=Counter)
    by_segment: Counter[str] = field(default_factory=Counter)

    def add(self, other: "Tally") -> None:
        for name, value in vars(other).items():
            if isinstance(value, Counter):
                getattr(self, name).update(value)
            else:
                setattr(self, name, getattr(self, name) + value)

    def to_dict(self) -> dict[str, Any]:
        return {k: dict(v) if isinstance(v, Counter) else v for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Tally":
        tally = cls()
        for name, value in data.items():
            if hasattr(tally, name):
                setattr(tally, name, Counter(value) if isinstance(value, dict) else int(value))
        return tally


# ---------------------------------------------------------------- step 1: validate
def validator_for(job: Job, header: Header, date_epoch: date | None = None) -> RowValidator:
    return RowValidator(header, phone_region=job.policy["phone_region"], currency=job.policy["currency"],
                        timezone=job.tenant_timezone, date_epoch=date_epoch)


def validate_rows(
    job: Job,
    header: Header,
    records: Iterable[tuple[int, Any]],
    accept: Callable[[tuple[Any, ...], Any], None],
    tally: Tally,
    problems: ProblemLog,
    *,
    date_epoch: date | None = None,
    ends_file: bool = True,
) -> None:
    """Validates every record; accepted rows go to ``accept((placement, row_number), (row_hash, facts))``
    (``placement``: the account's position in the order the tenant's accounts are stored).

    When the records run to the end of the file (``ends_file``; for a split file only the last
    part does), a trailing block of summary rows (TOTAL, ...) is skipped and counted in
    ``rows_skipped_summary``; it is neither accepted nor rejected. ``date_epoch``: a workbook's
    day 0 of serial dates."""
    validator = validator_for(job, header, date_epoch)
    progress = Progress(tally)
    validate = validator.validate
    trailing = TrailingSummary(records, validator.is_summary_row) if ends_file else None
    for row_number, values in trailing if trailing is not None else records:
        tally.rows_total += 1
        row, row_problems = validate(row_number, values)
        if row_problems:
            problems.add(row_problems)
        if row is None:
            tally.rows_rejected += 1
        else:
            tally.warnings += len(row_problems)
            facts = account_facts(job.tenant_id, row)
            accept((placement(row.account_id), row_number), (facts_hash(facts), facts))
        if not tally.rows_total % 1000:
            progress.tick()
    if trailing is not None:
        tally.rows_skipped_summary += trailing.skipped
    progress.done()


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
    """A fingerprint of the file's facts for one account: equal means nothing to write.

    ``repr`` of normalized values is stable (amounts and coordinates are quantized Decimals,
    dates ISO strings) and extra columns are sorted, so column order does not matter."""
    values: list[Any] = [facts.get(k) for k in FILE_FIELDS]
    if values[-1]:
        values[-1] = sorted(values[-1].items())
    return hashlib.blake2b(repr(values).encode(), digest_size=16).hexdigest()


# ---------------------------------------------------------------- step 2: merge
def merge_accounts(
    job: Job,
    incoming: Iterator[tuple[Any, ...]],
    stored: Iterator[dict[str, Any]],
    writer: Any,
    tally: Tally,
    add_problem: Callable[[Problem], None],
    add_absent: Callable[[dict[str, Any]], None],
    drain: bool = True,
    level: kpis_repo.Batch | None = None,
) -> None:
    """Merges the file's accounts (sorted by placement, row_number) with the stored ones (in
    placement order: accounts.store.iter_tenant_accounts); writes the new ones through ``writer.put`` and the changed ones
    through ``writer.update`` (only what the file changed, derived again if another writer wrote
    the account meanwhile: accounts.store).

    Stored accounts still being worked that the file lacks go to ``add_absent`` (snapshots only).
    ``drain=False`` merges one segment of a range: the stored accounts after the file's last
    one are left for the next segment (which reads them again from there). ``level`` gathers
    how the portfolio's level changes (accounts and owed amount by segment and bucket, the KPIs'
    denominators); the caller writes it once the accounts are.
    """
    policy, today, upload_id, stamp = job.policy, job.day, job.upload_id, job.started_at
    current = next(stored, None)
    current_place = placement(current["account_id"]) if current is not None else None
    last_place = None

    def absent(account: dict[str, Any]) -> None:
        if _worked(account, upload_id):
            tally.active_before += 1
            if job.mode == "snapshot":
                tally.accounts_absent += 1
                add_absent(account)

    def advance() -> None:
        nonlocal current, current_place
        current = next(stored, None)
        current_place = placement(current["account_id"]) if current is not None else None

    for place, row_number, (row_hash, facts) in incoming:
        if place == last_place:
            account_id = facts["account_id"]
            tally.rows_rejected += 1
            add_problem(Problem(row_number, "error", account_id, "account_id", "duplicate_account_id",
                                "account_id repeated in this file; the first row was kept", account_id))
            continue
        last_place = place
        tally.rows_accepted += 1
        while current is not None and current_place is not None and current_place < place:
            absent(current)
            advance()
        existing = None
        if current is not None and current_place == place:
            existing = current
            tally.active_before += _worked(current, upload_id)
            advance()
        item, outcome = _upsert(existing, facts, row_hash, upload_id, policy, today, stamp)
        _count(tally, item, outcome)
        _write(writer, existing, item, _redo_upsert(facts, row_hash, job), level)
    while drain and current is not None:
        absent(current)
        advance()


def _write(writer: Any, existing: dict[str, Any] | None, item: dict[str, Any],
           redo: Callable[[dict[str, Any]], dict[str, Any] | None], level: kpis_repo.Batch | None) -> None:
    """A new account is put; a changed one updated (``redo`` if it changed meanwhile)."""
    if existing is None:
        writer.put(item)
    elif item is not existing:
        writer.update(existing, item, redo)
        _move_level(level, existing, -1)
    else:
        return
    _move_level(level, item, 1)


def _move_level(level: kpis_repo.Batch | None, account: Mapping[str, Any], sign: int) -> None:
    """The account in (+1) or out (-1) of the portfolio's level; a withdrawn account is out already."""
    if level is not None and account.get("status") != "withdrawn":
        level.move_level(account.get("segment"), account.get("aging_bucket"), sign, sign * money_of(account).balance)


def _count(tally: Tally, item: dict[str, Any], outcome: str) -> None:
    tally.by_stage[item["stage"]] += 1
    tally.by_aging_bucket[item["aging_bucket"]] += 1
    tally.by_segment[item["segment"]] += 1
    setattr(tally, outcome, getattr(tally, outcome) + 1)


def _redo_upsert(facts: dict[str, Any], row_hash: str, job: Job) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """The row applied again to the account as stored now (None: nothing left to change)."""
    def redo(fresh: dict[str, Any]) -> dict[str, Any] | None:
        item, _ = _upsert(fresh, facts, row_hash, job.upload_id, job.policy, job.day, job.started_at)
        return None if item is fresh else item
    return redo


def _worked(account: dict[str, Any], upload_id: str) -> bool:
    """Still worked before this upload (an account this upload already withdrew counts too)."""
    current = account_status.of(account)
    return current in account_status.WORKED or (current == "withdrawn" and account.get("withdrawn_by") == upload_id)


def _upsert(
    existing: dict[str, Any] | None,
    facts: dict[str, Any],
    row_hash: str,
    upload_id: str,
    policy: dict[str, Any],
    today: date,
    stamp: str,
) -> tuple[dict[str, Any], str]:
    """The item to store for a row (``existing`` itself when nothing changed) and its tally field.

    An item this same upload already wrote (a retried step) counts as it did the first time.
    """
    settled = facts["balance"] == 0
    if existing is None:
        item = dict(facts, status=account_status.after_file(None, settled), row_hash=row_hash,
                    source_upload_id=upload_id, created_by=upload_id, created_at=stamp, updated_at=stamp)
        outcome = "accounts_created"
    else:
        if existing.get("source_upload_id") == upload_id and existing.get("row_hash") == row_hash:
            refresh_derived(existing, policy, today)
            return existing, "accounts_created" if existing.get("created_by") == upload_id else "accounts_updated"
        current = account_status.of(existing)
        new_status = account_status.after_file(current, settled)
        if current == "paid" and not settled and facts["balance"] != existing.get("balance"):
            new_status = account_status.DEFAULT  # a new balance owed after the payments that cleared it
        if existing.get("row_hash") == row_hash and new_status == current:
            refresh_derived(existing, policy, today)
            return existing, "accounts_unchanged"
        item = {k: v for k, v in existing.items() if k not in FILE_FIELDS and k != "withdrawn_by"}
        if facts.get("lat") is None and existing.get("geo_source") == "visit":
            facts = dict(facts, lat=existing.get("lat"), lon=existing.get("lon"))
        item.update(facts, status=new_status, row_hash=row_hash, source_upload_id=upload_id, updated_at=stamp)
        if facts["balance"] != existing.get("balance") and existing.get("paid_total"):
            # the lender's new balance takes in the payments recorded so far (payments.rules.money_of)
            item["paid_seen"] = existing["paid_total"]
        outcome = "accounts_updated"
    if item.get("lat") is not None and not item.get("geo_source"):
        item["geo_source"] = "file"
    return refresh_derived(item, policy, today), outcome


# ---------------------------------------------------------------- step 3: withdraw and report
def withdrawals_allowed(job: Job, tally: Tally) -> bool:
    """A snapshot may withdraw at most the policy's share of the worked portfolio."""
    if not tally.accounts_absent:
        return False
    share = job.policy["alarms"]["snapshot_max_withdraw_share"]
    return not (tally.active_before and tally.accounts_absent > share * tally.active_before)


def withdraw(job: Job, absent: Iterable[dict[str, Any]], writer: Any, tally: Tally,
             level: kpis_repo.Batch | None = None) -> None:
    for account in absent:
        tally.accounts_withdrawn += 1
        item = _withdrawn(account, job)
        if item is not None:
            writer.update(account, item, lambda fresh: _withdrawn(fresh, job) if _worked(fresh, job.upload_id) else None)
            _move_level(level, account, -1)  # out of the portfolio


def _withdrawn(account: dict[str, Any], job: Job) -> dict[str, Any] | None:
    """The account withdrawn by this snapshot (None: it already is)."""
    if account.get("status") == "withdrawn":
        return None
    return dict(account, status="withdrawn", withdrawn_by=job.upload_id, updated_at=job.started_at,
                next_action_on=None, due_shard=None)


def complete(job: Job, tally: Tally, rejects: IO[bytes], file_info: dict[str, Any],
             error: FileRejected | None) -> dict[str, Any]:
    """Writes summary.json and rejects.csv, raises the upload's alarms, finishes the record."""
    if error is not None:
        logger.warning("portfolio file failed", extra={"code": error.code})
        # nothing was applied: every row read counts as rejected, no account changed
        tally = Tally(rows_total=tally.rows_total, rows_rejected=tally.rows_total,
                      rows_skipped_summary=tally.rows_skipped_summary)
    info = dict(file_info)
    skipped_before_header = info.pop("rows_skipped_before_header", 0)
    held_back = tally.accounts_absent if tally.accounts_absent and not tally.accounts_withdrawn else 0
    summary: dict[str, Any] = {
        "upload_id": job.upload_id,
        "tenant_id": job.tenant_id,
        "key": job.key,
        "mode": job.mode,
        "status": "failed" if error else "succeeded",
        **info,
        "rows_total": tally.rows_total,
        "rows_accepted": tally.rows_accepted,
        "rows_rejected": tally.rows_rejected,
        "rows_skipped_before_header": skipped_before_header,
        "rows_skipped_summary": tally.rows_skipped_summary,
        "warnings": tally.warnings,
        **(_payment_counts(tally) if job.mode == "payments" else _account_counts(tally, held_back)),
        "started_at": job.started_at,
        "finished_at": utc_stamp(clock.utcnow()),
    }
    if job.as_of:
        summary["as_of"], summary["as_of_source"] = job.as_of, job.as_of_source
    if error is not None:
        summary["error"] = {"code": error.code, "message": error.message}
    elif job.as_of:
        tenants_repo.record_snapshot_as_of(job.tenant_id, job.as_of)
    alarms = [] if error else upload_alarms(job, tally, held_back)
    if alarms:
        summary["alarms"] = alarms
    files.put_rejects(job.bucket, job.tenant_id, job.upload_id, rejects)
    files.put_summary(job.bucket, job.tenant_id, job.upload_id, summary)
    for alarm in alarms:
        alarms_repo.raise_alarm(job.tenant_id, alarm["code"], f"upload#{job.upload_id}", alarm["message"],
                                summary["finished_at"], {"upload_id": job.upload_id})
    uploads_repo.finish_upload(job.tenant_id, job.upload_id, job.key, summary, summary["finished_at"])
    metrics.add_metric(name="RowsIngested", unit="Count", value=tally.rows_total)
    metrics.add_metric(name="RowsRejected", unit="Count", value=tally.rows_rejected)
    metrics.add_metric(name="UploadsFailed" if error else "UploadsSucceeded", unit="Count", value=1)
    if held_back:
        metrics.add_metric(name="SnapshotWithdrawalsHeldBack", unit="Count", value=1)
        logger.warning("snapshot withdrawals held back", extra={"absent": held_back, "active": tally.active_before})
    logger.info("upload finished", extra={k: summary[k] for k in ("status", "rows_total", "rows_accepted", "rows_rejected")})
    return summary


def _account_counts(tally: Tally, held_back: int) -> dict[str, Any]:
    return {
        "accounts_created": tally.accounts_created,
        "accounts_updated": tally.accounts_updated,
        "accounts_unchanged": tally.accounts_unchanged,
        "accounts_withdrawn": tally.accounts_withdrawn,
        "withdrawals_held_back": held_back,
        "by_stage": dict(sorted(tally.by_stage.items())),
        "by_aging_bucket": {b: tally.by_aging_bucket[b] for b in segmentation.AGING_BUCKETS if tally.by_aging_bucket[b]},
        "by_segment": dict(sorted(tally.by_segment.items())),
    }


def _payment_counts(tally: Tally) -> dict[str, Any]:
    return {"payments_applied": tally.payments_applied, "payments_reversed": tally.payments_reversed,
            "payments_duplicate": tally.payments_duplicate, "amount_applied": f"{tally.amount_applied_cents / 100:.2f}"}


def upload_alarms(job: Job, tally: Tally, held_back: int) -> list[dict[str, str]]:
    """SPEC §8 upload alarms: too many rejected rows; a snapshot's withdrawals held back."""
    alarms = []
    if held_back:
        alarms.append({
            "code": "snapshot_withdrawal_held_back",
            "message": f"{held_back} of {tally.active_before} accounts being worked are absent from this snapshot, "
                       "more than the policy allows, so none were withdrawn. Check the export and upload it again.",
        })
    reject_share = job.policy["alarms"]["upload_reject_share"]
    if tally.rows_total and tally.rows_rejected > reject_share * tally.rows_total:
        alarms.append({
            "code": "upload_rejects_high",
            "message": f"{tally.rows_rejected} of {tally.rows_total} rows were rejected "
                       f"(more than {reject_share:.0%}); see rejects.csv.",
        })
    return alarms


class Progress:
    """Logs rows, rejects and rate every PROGRESS_EVERY_ROWS rows or PROGRESS_EVERY_SECONDS."""

    def __init__(self, tally: Tally, label: str = "ingest progress"):
        self.tally = tally
        self.label = label
        self.started = self.last = time.monotonic()
        self.last_rows = 0

    def tick(self) -> None:
        now = time.monotonic()
        rows = self.tally.rows_total
        if rows - self.last_rows >= PROGRESS_EVERY_ROWS or now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last, self.last_rows = now, rows
            self._log(self.label)

    def done(self) -> None:
        self._log(self.label + ": rows validated")

    def _log(self, message: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        logger.info(message, extra={"progress": {
            "rows": self.tally.rows_total,
            "rejected": self.tally.rows_rejected,
            "rows_per_s": round(self.tally.rows_total / elapsed),
        }})
