"""Reminder sender: one SQS batch from a channel's queue -> one delivery per message.

Partial batch failures are reported (ReportBatchItemFailures). A message that must wait (the
debtor's contact window is closed) or be retried (the provider did not take it) is reported as
failed after its visibility timeout was set to the wait, in one ChangeMessageVisibilityBatch
per batch: SQS shows it again exactly when it is due. Anything else that fails is retried after
the queue's visibility timeout and ends in the channel's DLQ after maxReceiveCount.
"""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.campaign import sender as dispatch
from cobranza.core.observability import logger, metrics
from cobranza.core.queues import DelayingBatchProcessor
from cobranza.core.settings import get_settings

get_settings()  # fail the cold start on a bad environment
processor = DelayingBatchProcessor()


def record_handler(record: SQSRecord) -> dict[str, Any]:
    try:
        return dispatch.deliver(json.loads(record.body), receive_count=int(record.attributes.approximate_receive_count))
    except (dispatch.Hold, dispatch.RetryLater) as wait:
        processor.delay(record, wait.seconds)
        raise


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    finally:
        dispatch.flush_counts()  # the batch's KPI counters, one request per tenant, day and segment
