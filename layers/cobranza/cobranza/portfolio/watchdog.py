"""No upload without an ending (SPEC §3): the uploads whose processing stopped end `failed`.

An upload being processed holds a lease (``portfolio.uploads``): the whole-file invocation for its
time limit, a split upload's pipeline for the next part's. A holder that crashes gives its lease
back so a retry may take over at once; one that times out keeps it until it runs out. Every 15
minutes (IngestWorkerFunction's StaleUploads schedule) this finds the processing uploads whose
lease ran out long enough ago that no retry is coming, and ends each one `failed` with reason
`processing_stopped`, its summary.json (with what the parts that finished had applied) and an
alarm, so the lender always gets an answer. The accounts already written stay: uploading the
same file again finishes the job, and the rows already applied are `unchanged` the second time.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..accounts import alarms as alarms_repo
from ..core import clock
from ..core.instants import utc_stamp
from ..core.observability import logger, metrics
from ..core.settings import get_settings
from . import files
from . import uploads as uploads_repo
from .reports import REJECTS_HEADER

#: How long after its lease ran out an upload may still be taken over by a retry (Lambda's
#: asynchronous retries come within minutes of a failure; an SQS redelivery within the queue's
#: visibility timeout, which the pipeline's lease already covers).
GRACE = timedelta(minutes=10)
CODE = "processing_stopped"

_COUNTS = ("rows_total", "rows_accepted", "rows_rejected", "warnings", "accounts_created", "accounts_updated",
           "accounts_unchanged", "accounts_withdrawn")


def end_stale_uploads(now: datetime | None = None) -> list[str]:
    """Ends every upload whose lease ran out more than GRACE ago; returns their ids."""
    now = now or clock.utcnow()
    ended = []
    for record in uploads_repo.stale_uploads(utc_stamp(now - GRACE)):
        if _end(record, now):
            ended.append(record["upload_id"])
    if ended:
        metrics.add_metric(name="UploadsStopped", unit="Count", value=len(ended))
    return ended


def _end(record: dict[str, Any], now: datetime) -> bool:
    tenant_id, upload_id, key = record["tenant_id"], record["upload_id"], record.get("key", "")
    applied = _applied(tenant_id, upload_id)
    stamp = utc_stamp(now)
    message = (f"processing stopped and did not resume (lease ran out at {record.get('lease_until')}); "
               "the accounts counted here were written and stay: upload the file again to finish it")
    summary: dict[str, Any] = {"upload_id": upload_id, "tenant_id": tenant_id, "key": key,
                               "mode": files.upload_mode(key), "status": "failed",
                               **applied, "started_at": record.get("created_at"), "finished_at": stamp,
                               "error": {"code": CODE, "message": message},
                               "alarms": [{"code": "upload_stopped", "message": message}]}
    if not uploads_repo.fail_stale(tenant_id, upload_id, key, summary, stamp):
        return False  # its holder came back meanwhile
    bucket = get_settings().data_bucket
    files.put_summary(bucket, tenant_id, upload_id, summary)
    files.put_rejects_if_missing(bucket, tenant_id, upload_id, (",".join(REJECTS_HEADER) + "\r\n").encode())
    alarms_repo.raise_alarm(tenant_id, "upload_stopped", f"upload#{upload_id}", message, stamp,
                            {"upload_id": upload_id})
    logger.warning("stale upload ended", extra={"tenant_id": tenant_id, "upload_id": upload_id})
    return True


def _applied(tenant_id: str, upload_id: str) -> dict[str, int]:
    """What the parts that finished had counted (all zero for an upload processed whole)."""
    totals = dict.fromkeys(_COUNTS, 0)
    for results in uploads_repo.part_results(tenant_id, upload_id).values():
        for result in results.values():
            for name in _COUNTS:
                totals[name] += int(result.get(name) or 0)
    return totals
