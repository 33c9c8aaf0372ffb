"""Tells the local stack's pollers, in the moment, that their source got work (`activity.Wakeup`).

moto adds every SQS message through `Queue.add_message` (a SendMessage, a batch entry, an S3
notification, a message moved to a dead-letter queue) and every stream record through
`StreamShard.add`. While the stack runs, both also notify the stack's `Wakeup`, by the queue's
and the table's name, so an idle poller looks again at once instead of on its next timeout.
`install()` hooks moto once and makes `wakeup` the one told (a later stack's replaces an earlier
one's); `uninstall()` restores moto's code.
"""

from __future__ import annotations

import functools
from typing import Any

from infra.local.activity import Wakeup

_ORIGINAL: dict[str, Any] = {}
#: The running stack's Wakeup.
_told: list[Wakeup] = []


def install(wakeup: Wakeup) -> None:
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue

    _told[:] = [wakeup]
    if _ORIGINAL:
        return
    add_message, add_record = _ORIGINAL["add_message"], _ORIGINAL["add_record"] = Queue.add_message, StreamShard.add

    @functools.wraps(add_message)
    def added_message(self: Any, message: Any) -> None:
        add_message(self, message)
        for told in _told:
            told.notify(self.name)

    @functools.wraps(add_record)
    def added_record(self: Any, old: Any, new: Any) -> None:
        add_record(self, old, new)
        for told in _told:
            told.notify(self.table.name)

    Queue.add_message = added_message  # type: ignore[method-assign]
    StreamShard.add = added_record  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue

    _told.clear()
    if not _ORIGINAL:
        return
    Queue.add_message = _ORIGINAL.pop("add_message")  # type: ignore[method-assign]
    StreamShard.add = _ORIGINAL.pop("add_record")  # type: ignore[method-assign]
