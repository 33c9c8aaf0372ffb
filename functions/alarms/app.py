"""The hourly alarms job (SPEC §8): the EventBridge tick queues one message per tenant on
AlarmsQueue; the same function, fed by that queue, runs each tenant's hour (alarms/hourly.py).

A tenant that fails is retried through the queue (maxReceiveCount 3, then AlarmsDLQ); its hour is
idempotent (each alarm once per cause, the digest once a day). Replay an hour with
`python -m infra.local invoke AlarmsFunction --event FILE` (a scheduled event with its ``time``).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.alarms.hourly import run_tenant, start_hour
from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings

get_settings()  # fail the cold start on a bad environment
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    return run_tenant(json.loads(record.body))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:  # AlarmsQueue: one tenant's hour per message
        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    tick = EventBridgeEvent(event)  # the hourly schedule
    return start_hour(datetime.fromisoformat(tick.time.replace("Z", "+00:00")))
