"""Lambda's asynchronous invocation (S3 notifications, EventBridge rules): retries, then destinations.

Like Lambda, an event that fails is retried `MaximumRetryAttempts` times (default 2) with the same
request id, then sent to the `OnFailure` destination as a destination record; success goes to
`OnSuccess` when one is configured. Lambda waits about a minute, then two, between attempts;
locally the wait is `retry_delay` seconds so failures surface quickly.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from infra.local.activity import Activity
from infra.local.events import destination_record
from infra.local.runtime import InvokeResult
from infra.local.template import FunctionSpec, LocalTemplate

log = logging.getLogger("infra.local")

SyncInvoke = Callable[[str, Any, str], InvokeResult]  # (logical_id, event, request_id)
DEFAULT_MAX_RETRIES = 2


class Destinations:
    """Deliver a destination record to an SQS queue, SNS topic, Lambda function or event bus."""

    def __init__(self, template: LocalTemplate, client: Callable[[str], Any],
                 invoke_async: Callable[[str, Any], Any]) -> None:
        self._template = template
        self._client = client
        self._invoke_async = invoke_async

    def send(self, arn: str, record: dict) -> None:
        service = arn.split(":")[2]
        body = json.dumps(record)
        if service == "sqs":
            self._client("sqs").send_message(QueueUrl=self._template.queue_url_from_arn(arn), MessageBody=body)
        elif service == "sns":
            self._client("sns").publish(TopicArn=arn, Message=body)
        elif service == "lambda":
            function_name = arn.split(":")[6]
            target = next((f for f in self._template.functions.values() if f.name == function_name), None)
            if target is None:
                raise ValueError(f"destination function {function_name} is not in the template")
            self._invoke_async(target.logical_id, record)
        elif service == "events":
            condition = record["requestContext"]["condition"]
            outcome = "Success" if condition == "Success" else "Failure"
            self._client("events").put_events(Entries=[{
                "Source": "lambda",
                "DetailType": f"Lambda Function Invocation Result - {outcome}",
                "Detail": body,
                "EventBusName": arn,
            }])
        else:
            raise ValueError(f"unsupported destination {arn}")


class AsyncInvoker:
    def __init__(self, invoke: SyncInvoke, destinations: Destinations, activity: Activity,
                 *, retry_delay: float = 0.2, max_workers: int = 8) -> None:
        self._invoke = invoke
        self._destinations = destinations
        self._activity = activity
        self._retry_delay = retry_delay
        self._stopping = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lambda-async")

    def submit(self, function: FunctionSpec, event: Any) -> Future:
        """Queue an asynchronous invocation; counts as activity until retries and destinations are done."""
        self._activity.begin()
        try:
            future = self._executor.submit(self._run, function, event)
        except RuntimeError:  # shut down: the stack is stopping
            self._activity.end()
            raise
        future.add_done_callback(lambda _: self._activity.end())
        return future

    def stop(self) -> None:
        self._stopping.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, function: FunctionSpec, event: Any) -> InvokeResult | None:
        config = function.event_invoke_config or {}
        max_retries = int(config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES))
        max_age = config.get("MaximumEventAgeInSeconds")
        destinations = (config.get("DestinationConfig") or {})
        request_id = str(uuid.uuid4())
        queued_at = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            result = self._invoke(function.logical_id, event, request_id)
            if result.ok:
                self._deliver(function, destinations.get("OnSuccess"), event, result, "Success", attempts)
                return result
            error = result.payload if isinstance(result.payload, dict) else {}
            log.warning(
                "%s async attempt %d/%d failed: %s: %s", function.logical_id, attempts, max_retries + 1,
                error.get("errorType"), error.get("errorMessage"),
            )
            if attempts > max_retries:
                condition = "RetriesExhausted"
                break
            if max_age is not None and time.monotonic() - queued_at > float(max_age):
                condition = "EventAgeExceeded"
                break
            if self._stopping.wait(self._retry_delay):
                return None
        if not self._deliver(function, destinations.get("OnFailure"), event, result, condition, attempts):
            log.error("%s: event dropped after %d attempts (no OnFailure destination)", function.logical_id, attempts)
        return result

    def _deliver(self, function: FunctionSpec, destination: dict | None, event: Any, result: InvokeResult,
                 condition: str, attempts: int) -> bool:
        if not destination or not destination.get("Destination"):
            return False
        record = destination_record(
            function_arn=function.arn,
            request_id=result.request_id,
            request_payload=event,
            response_payload=result.payload,
            condition=condition,
            approximate_invoke_count=attempts,
            function_error=result.function_error,
        )
        try:
            self._destinations.send(destination["Destination"], record)
        except Exception:  # a broken destination must not kill the dispatcher
            log.exception("%s: could not deliver to %s", function.logical_id, destination["Destination"])
            return False
        if condition != "Success":
            log.warning("%s: event sent to %s (%s)", function.logical_id, destination["Destination"], condition)
        return True
