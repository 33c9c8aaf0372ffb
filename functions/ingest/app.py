"""Ingest: S3 ObjectCreated under portfolios/ -> validated, segmented accounts (SPEC §3)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.core import bulk_gc
from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings
from cobranza.payments.files import PaymentsFile
from cobranza.portfolio.ingest import S3Object, ingest_object

#: The other kinds of file under portfolios/<tenant_id>/ by folder (SPEC §6b).
OTHER_FILES = {"payments": PaymentsFile()}

get_settings()  # fail the cold start on a bad environment
bulk_gc.tune()  # once the modules are loaded: they are never scanned again


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    results = []
    for record in event.records:
        obj = record.s3.get_object
        results.append(
            ingest_object(
                S3Object(
                    bucket=record.s3.bucket.name,
                    key=unquote_plus(obj.key),  # S3 sends keys URL-encoded
                    size=obj.size or 0,
                    etag=obj.etag or "",
                    sequencer=obj.sequencer or "",
                    version_id=obj.version_id or "",
                ),
                holding=timedelta(milliseconds=context.get_remaining_time_in_millis()),
                others=OTHER_FILES,
            )
        )
    return {"uploads": [{k: r.get(k) for k in ("upload_id", "status", "rows_total", "rows_rejected")} for r in results]}
