"""Peeks into the in-process moto server's state, for what the AWS API cannot tell (and one cleanup).

The local SQS poller shortens the visibility of messages a handler failed, so retries come back
in a second instead of after the queue's timeout. It must not undo a handler that deferred a
message itself with ChangeMessageVisibility, and no API reveals a message's current visibility.
This module reads it from moto's backend (the server runs in this process). Every access is
defensive: if moto's internals change, callers get None and fall back to public behaviour.
"""

from __future__ import annotations

from typing import Any


def sqs_visible_at(account_id: str, region: str, queue_name: str, receipt_handle: str) -> float | None:
    """When the message holding `receipt_handle` becomes visible again (moto's ms clock), or None."""
    try:
        from moto.sqs.models import sqs_backends

        queue: Any = sqs_backends[account_id][region].queues.get(queue_name)
        if queue is None:
            return None
        for message in list(queue._messages):  # see module docstring
            if message.had_receipt_handle(receipt_handle):
                return float(message.visible_at)
    except Exception:  # best effort by design
        return None
    return None


def forget_shard_iterator(iterator: str | None) -> None:
    """Drop a used DynamoDB stream iterator from moto, which otherwise keeps every one it hands
    out (about 2 KB each: a pipe polling a few times a second would grow by tens of MB an hour).
    moto's iterators look like `<stream arn>|1|<random>`; anything else is left alone."""
    if not iterator or "|" not in iterator:
        return
    try:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        _, _, _, region, account_id = iterator.split(":", 5)[:5]
        dynamodbstreams_backends[account_id][region].shard_iterators.pop(iterator, None)
    except Exception:  # best effort by design
        return
