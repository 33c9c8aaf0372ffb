"""One part of a tenant's night: NightQueue (SQS, one message per part) -> the shard planned.

A part that fails is retried through the queue (maxReceiveCount 3, then NightDLQ); planning is
idempotent, so a retried part plans nothing twice (campaign/nights.py).
"""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.campaign.nights import run_part
from cobranza.core import bulk_gc
from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings

get_settings()  # fail the cold start on a bad environment
bulk_gc.tune()  # once the modules are loaded: they are never scanned again
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    return run_part(json.loads(record.body))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
