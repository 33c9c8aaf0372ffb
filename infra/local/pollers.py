"""Event source pollers: SQS event source mappings and S3 notifications delivered through SQS.

`SqsEventSource` does what Lambda's SQS poller does: receive a batch, invoke synchronously,
delete what succeeded (honouring `ReportBatchItemFailures`), leave the rest to come back after
the visibility timeout and, past `maxReceiveCount`, to be moved to the dead-letter queue (moto
does the move on receive, as SQS does). Local difference: failed messages come back after
`retry_visibility` seconds (default 1) instead of the queue's VisibilityTimeout, unless the handler
changed their visibility itself.

`S3EventSource` drains the hidden queue that receives a bucket's notifications and hands each
record, rebuilt into AWS's full shape, to the asynchronous invoker (S3 invokes Lambda
asynchronously, one record per event). Which events moto sends, one per upload as in AWS, is
settled in `infra.local.moto_server`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from infra.local.activity import Wakeup
from infra.local.events import failed_item_ids, s3_record, sqs_record
from infra.local.moto_state import sqs_visible_at
from infra.local.runtime import InvokeResult

log = logging.getLogger("infra.local")

IDLE_WAIT_S = 0.1
#: An idle poller's pause doubles up to this while nothing wakes it (`activity.Wakeup`).
IDLE_WAIT_MAX_S = 1.0


class Poller(threading.Thread):
    """A thread that calls `poll_once` until stopped, pausing when there was nothing to do.

    Short polls (WaitTimeSeconds=0) plus a local pause keep `stop()` instant. The pause starts at
    `idle_wait` and doubles up to IDLE_WAIT_MAX_S while the source stays empty; it ends as soon
    as the stack's `Wakeup` says the source (`wake_key`: the queue's name) got work.
    """

    idle_wait = IDLE_WAIT_S

    def __init__(self, name: str, sqs: Any, queue_url: str | None, wakeup: Wakeup | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.sqs = sqs
        self.queue_url = queue_url
        self._stop_event = threading.Event()
        self._wakeup = wakeup or Wakeup()

    @property
    def wake_key(self) -> str:
        return str(self.queue_url or "").rsplit("/", 1)[-1]

    @property
    def source_name(self) -> str:
        """What `wait_idle` names when this source is still busy."""
        return (self.queue_url or self.name).rsplit("/", 1)[-1]

    def backlog(self) -> int:
        """Work waiting at the source (messages queued, in flight or delayed), for `wait_idle`."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def stop(self) -> None:
        self._stop_event.set()
        self._wakeup.notify(self.wake_key)

    def run(self) -> None:
        pause = self.idle_wait
        while not self._stop_event.is_set():
            seen = self._wakeup.generation(self.wake_key)  # before looking: work added meanwhile ends the pause
            try:
                busy = self.poll_once()
            except Exception:  # keep polling; report why
                if self._stop_event.is_set():
                    return
                log.exception("%s: polling failed", self.name)
                busy = False
                self._stop_event.wait(1.0)
            if busy:
                pause = self.idle_wait
            elif self._wakeup.wait(self.wake_key, seen, pause, self._stop_event) or self.retrying():
                pause = self.idle_wait
            else:
                pause = min(pause * 2, IDLE_WAIT_MAX_S)

    def retrying(self) -> bool:
        """Whether work the source still holds waits to be tried again (the pause then stays short)."""
        return False

    def poll_once(self) -> bool:
        raise NotImplementedError

    def receive(self, count: int) -> list[dict]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def delete(self, messages: list[dict]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )


class SqsEventSource(Poller):
    """One `Type: SQS` event of a function."""

    def __init__(
        self,
        *,
        function_id: str,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        report_batch_item_failures: bool,
        invoke: Callable[[str, Any], InvokeResult],
        account_id: str,
        region: str,
        retry_visibility: int = 1,
        wakeup: Wakeup | None = None,
    ) -> None:
        super().__init__(f"sqs:{queue_arn.rsplit(':', 1)[-1]}->{function_id}", sqs, queue_url, wakeup)
        self.function_id = function_id
        self.queue_arn = queue_arn
        self.queue_name = queue_arn.rsplit(":", 1)[-1]
        self.batch_size = max(1, batch_size)
        self.report_batch_item_failures = report_batch_item_failures
        self._invoke = invoke
        self._account_id = account_id
        self._region = region
        self._retry_visibility = retry_visibility

    def poll_once(self) -> bool:
        messages = self._receive_batch()
        if not messages:
            return False
        visible_at = {m["ReceiptHandle"]: self._visible_at(m) for m in messages}
        event = {"Records": [sqs_record(m, queue_arn=self.queue_arn, region=self._region) for m in messages]}
        result = self._invoke(self.function_id, event)
        kept_ids = self._kept_ids(result, [m["MessageId"] for m in messages])
        self.delete([m for m in messages if m["MessageId"] not in kept_ids])
        kept = [m for m in messages if m["MessageId"] in kept_ids]
        for message in kept:
            self._retry_soon(message, visible_at[message["ReceiptHandle"]])
        level = logging.WARNING if kept else logging.INFO
        log.log(level, "%s <- %s: %d message(s), %d kept for retry", self.function_id, self.queue_name,
                len(messages), len(kept))
        return True

    def _receive_batch(self) -> list[dict]:
        """Up to BatchSize messages. (MaximumBatchingWindowInSeconds is not waited for locally.)"""
        messages: list[dict] = []
        while len(messages) < self.batch_size:
            got = self.receive(min(10, self.batch_size - len(messages)))
            if not got:
                break
            messages.extend(got)
        return messages

    def _kept_ids(self, result: InvokeResult, message_ids: list[str]) -> set[str]:
        if not result.ok:
            error = result.payload if isinstance(result.payload, dict) else {}
            log.warning("%s failed on a batch from %s: %s: %s", self.function_id, self.queue_name,
                        error.get("errorType"), error.get("errorMessage"))
            return set(message_ids)
        if not self.report_batch_item_failures:
            return set()
        failed = failed_item_ids(result.payload, message_ids)
        if failed is None:
            log.warning("%s returned an invalid batchItemFailures; the whole batch is kept", self.function_id)
            return set(message_ids)
        return failed

    def _visible_at(self, message: dict) -> float | None:
        return sqs_visible_at(self._account_id, self._region, self.queue_name, message["ReceiptHandle"])

    def _retry_soon(self, message: dict, visible_at_on_receive: float | None) -> None:
        """Shorten the visibility of a kept message, unless the handler changed it itself."""
        now = self._visible_at(message)
        if now is not None and visible_at_on_receive is not None and now != visible_at_on_receive:
            return
        with contextlib.suppress(ClientError):  # the handler may have deleted it meanwhile
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=self._retry_visibility,
            )


class S3EventSource(Poller):
    """The hidden queue of one `Type: S3` event: each notification becomes an async invocation.

    moto sends one message per event and destination, already carrying what AWS's record has
    beyond moto's own (`versionId`, `sequencer`: see `infra.local.moto_server`); `s3_record` adds
    the identity and request fields."""

    def __init__(
        self,
        *,
        function_id: str,
        sqs: Any,
        queue_url: str,
        invoke_async: Callable[[dict], Any],
        wakeup: Wakeup | None = None,
    ) -> None:
        super().__init__(f"s3->{function_id}", sqs, queue_url, wakeup)
        self.function_id = function_id
        self._invoke_async = invoke_async

    def poll_once(self) -> bool:
        messages = self.receive(10)
        for message in messages:
            body = json.loads(message.get("Body") or "{}")
            for record in body.get("Records", []):  # s3:TestEvent messages have none
                rebuilt = s3_record(record)
                log.info("%s <- s3 %s s3://%s/%s", self.function_id, rebuilt["eventName"],
                         rebuilt["s3"]["bucket"]["name"], rebuilt["s3"]["object"]["key"])
                self._invoke_async({"Records": [rebuilt]})
            self.delete([message])
        return bool(messages)
