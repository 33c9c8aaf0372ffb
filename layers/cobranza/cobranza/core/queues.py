"""Small SQS helpers shared by the queue consumers."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

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
