"""SQS helpers shared by the queue consumers."""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Iterable, Sequence

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from . import aws
from .observability import logger
from .settings import get_settings


def queue_url_for_arn(arn: str) -> str:
    """The URL of one of the platform's queues from its ARN (the settings know every URL)."""
    name = arn.rsplit(":", 1)[-1]
    settings = get_settings()
    for url in (settings.email_queue_url, settings.sms_queue_url, settings.whatsapp_queue_url,
                settings.ingest_queue_url or ""):
        if url.rstrip("/").rsplit("/", 1)[-1] == name:
            return url
    queue_url: str = aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return queue_url


#: Entries SendMessageBatch takes in one request, and the tries for entries SQS did not take.
SEND_BATCH = 10
SEND_TRIES = 5


def send_messages(queue_url: str, bodies: Sequence[Any]) -> int:
    """Queues every body (JSON-encoded), ten per SendMessageBatch, retrying the entries SQS did not
    take; returns how many were queued. Raises RuntimeError when some are still refused."""
    sqs = aws.bulk_client("sqs")  # entries built here, by code
    queued = 0
    for start in range(0, len(bodies), SEND_BATCH):
        entries = [{"Id": str(i), "MessageBody": json.dumps(body, separators=(",", ":"))}
                   for i, body in enumerate(bodies[start:start + SEND_BATCH])]
        for _ in range(SEND_TRIES):
            failed = {f["Id"] for f in sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])}
            queued += len(entries) - len(failed)
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"SQS refused {len(entries)} of the messages")
    return queued


def set_visibility(messages: Iterable[tuple[str, str, int]]) -> None:
    """Makes each (queue ARN, receipt handle, seconds) message visible again after ``seconds``,
    ten per request."""
    by_queue: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for arn, receipt, seconds in messages:
        by_queue[arn].append((receipt, seconds))
    sqs = aws.client("sqs")
    for arn, entries in by_queue.items():
        url = queue_url_for_arn(arn)
        for start in range(0, len(entries), 10):
            chunk = entries[start:start + 10]
            response = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
                for i, (receipt, seconds) in enumerate(chunk)])
            if response.get("Failed"):
                logger.warning("could not delay some messages; they return after the queue's timeout",
                               extra={"failed": len(response["Failed"])})


class DelayingBatchProcessor(BatchProcessor):
    """A batch of SQS messages (partial failures reported) in which a message that failed may
    ask to be seen again after a delay of its own (``delay``): when the batch ends, every such
    message gets its visibility set, in one ChangeMessageVisibilityBatch per ten. The delays
    belong to the batch: each one starts with none."""

    def __init__(self) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._delays: list[tuple[str, str, int]] = []

    def delay(self, record: SQSRecord, seconds: int) -> None:
        self._delays.append((record.event_source_arn, record.receipt_handle, seconds))

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]  # Powertools leaves these two unannotated
        self._delays = []

    def _clean(self) -> None:
        set_visibility(self._delays)
        super()._clean()  # type: ignore[no-untyped-call]  # Powertools leaves these two unannotated
