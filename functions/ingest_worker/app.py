"""Ingest worker: one part (chunk, merge or withdraw) of a large upload per SQS message; and,
every 15 minutes (the StaleUploads schedule), the end of the uploads whose processing stopped."""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.core import bulk_gc
from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings
from cobranza.portfolio import pipeline as ingest_pipeline
from cobranza.portfolio import watchdog as upload_watchdog

get_settings()  # fail the cold start on a bad environment
bulk_gc.tune()  # once the modules are loaded: they are never scanned again
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    return ingest_pipeline.handle_task(json.loads(record.body),
                                       lambda: lambda_context.get_remaining_time_in_millis() / 1000)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == "Scheduled Event":
        return {"stopped_uploads_ended": upload_watchdog.end_stale_uploads()}
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
