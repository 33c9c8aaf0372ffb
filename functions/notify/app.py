"""Notify: each stored visit result (a visits-table stream record that VisitResultsPipe put on
NotificationsQueue) -> one email to the tenant's notification addresses (SPEC §6); each new
alarm (an alarms-table stream record from AlarmsPipe) -> its timeline entry and, if urgent, one
email (SPEC §8).

Partial batch failures are reported (ReportBatchItemFailures): a failed email is retried after
the queue's visibility timeout and ends in NotificationsDLQ after maxReceiveCount.
"""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.alarms import notices
from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings
from cobranza.visits import notify

get_settings()  # fail the cold start on a bad environment
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> str:
    stream_record = json.loads(record.body)
    if notices.is_alarm_record(stream_record):
        return notices.handle_alarm_record(stream_record)
    return notify.handle_message(stream_record)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
