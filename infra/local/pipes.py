"""EventBridge Pipes, DynamoDB stream -> SQS queue (`AWS::Pipes::Pipe`), run locally.

What AWS does, on the moto server's `dynamodbstreams` API: read each shard of the source stream
(iterators of the declared `StartingPosition` taken when the stack starts; shards that appear
later from their start), `BatchSize` records at a time; keep the records that pass the
`FilterCriteria` (any pattern, see `infra.local.patterns`); send each one, as the JSON record
Pipes delivers, to the target queue with `SendMessage`. A batch whose sending fails is retried
(the shard waits, records stay in order) and after `MaximumRetryAttempts` its description goes
to the `DeadLetterConfig` queue and the shard moves on. Local differences: polled every 0.25 s,
retries 0.25 s apart, `MaximumBatchingWindowInSeconds` is not waited for, no enrichment or
`InputTemplate`.

The same code runs inside moto's in-process `mock_aws()`, one poll at a time:

    pipe = pipe_specs(template)[0]
    streams = streams_client()                     # see there: a plain client misses mock_aws
    state = {}                                     # kept between calls
    forward_once(streams, boto3.client("sqs"), pipe, state)   # -> records sent to the target
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.activity import Activity, Wakeup
from infra.local.events import dynamodb_stream_record, iso_millis
from infra.local.moto_state import forget_shard_iterator
from infra.local.patterns import filter_patterns, matches_any
from infra.local.pollers import Poller
from infra.local.template import LocalTemplate

log = logging.getLogger("infra.local")

PIPE_TYPE = "AWS::Pipes::Pipe"
POLL_INTERVAL_S = 0.25
MAX_BATCHES_PER_POLL = 100


@dataclass(frozen=True)
class PipeSpec:
    """One pipe, resolved from the template."""

    logical_id: str
    name: str
    arn: str
    source_arn: str  # the DynamoDB stream
    target_arn: str  # the SQS queue
    target_url: str
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 100
    maximum_retry_attempts: int = -1  # -1: until the record leaves the stream, as in AWS
    dead_letter_arn: str | None = None
    dead_letter_url: str | None = None
    patterns: tuple[dict, ...] = ()
    message_group_id: str | None = None  # FIFO targets (TargetParameters.SqsQueueParameters)

    @property
    def region(self) -> str:
        return self.source_arn.split(":")[3]


@dataclass
class _Shard:
    iterator: str | None  # None once the shard is closed and read to its end
    attempts: int = 0  # failed deliveries of the batch at `iterator`
    last_error: str = field(default="", repr=False)


def streams_client(session: boto3.Session | None = None, **client_kwargs: Any) -> Any:
    """A `dynamodbstreams` client moto's `mock_aws()` answers. botocore sends the calls that name
    a stream ARN to the account endpoint (`<account>.streams-ddb.<region>.amazonaws.com`), which
    moto does not route ("404 Not yet implemented"); account endpoints are turned off here.
    (Clients with an `endpoint_url`, as the local stack's, are not affected.)"""
    config = Config(account_id_endpoint_mode="disabled")
    if "config" in client_kwargs:
        config = client_kwargs.pop("config").merge(config)
    return (session or boto3.Session()).client("dynamodbstreams", config=config, **client_kwargs)


def pipe_specs(template: LocalTemplate) -> list[PipeSpec]:
    """The template's pipes this module can run (DynamoDB stream to SQS); others are logged and
    skipped. Resolve after `create_resources`, so `!GetAtt Table.StreamArn` is the real ARN."""
    specs = []
    for logical_id, resource in template.of_type(PIPE_TYPE).items():
        props = template.resolve(resource.properties) or {}
        source, target = str(props.get("Source", "")), str(props.get("Target", ""))
        if str(props.get("DesiredState", "RUNNING")).upper() == "STOPPED":
            log.info("%s: DesiredState STOPPED, not started", logical_id)
            continue
        if ":dynamodb:" not in source or "/stream/" not in source or ":sqs:" not in target:
            log.warning("%s: only DynamoDB stream -> SQS pipes run locally (%s -> %s); skipped",
                        logical_id, source, target)
            continue
        target_parameters = props.get("TargetParameters") or {}
        if props.get("Enrichment") or target_parameters.get("InputTemplate"):
            log.warning("%s: Enrichment and InputTemplate are not emulated locally; records are sent as they are",
                        logical_id)
        source_parameters = props.get("SourceParameters") or {}
        stream = source_parameters.get("DynamoDBStreamParameters") or {}
        dead_letter_arn = (stream.get("DeadLetterConfig") or {}).get("Arn")
        sqs_parameters = target_parameters.get("SqsQueueParameters") or {}
        specs.append(PipeSpec(
            logical_id=logical_id,
            name=template.physical_name(logical_id),
            arn=template.arn(logical_id),
            source_arn=source,
            target_arn=target,
            target_url=template.queue_url_from_arn(target),
            starting_position=str(stream.get("StartingPosition", "TRIM_HORIZON")),
            batch_size=int(stream.get("BatchSize", 100)),
            maximum_retry_attempts=int(stream.get("MaximumRetryAttempts", -1)),
            dead_letter_arn=dead_letter_arn,
            dead_letter_url=template.queue_url_from_arn(dead_letter_arn) if dead_letter_arn else None,
            patterns=tuple(filter_patterns(source_parameters.get("FilterCriteria"))),
            message_group_id=sqs_parameters.get("MessageGroupId"),
        ))
    return specs


def forward_once(streams_client: Any, sqs_client: Any, pipe: PipeSpec, state: dict) -> int:
    """One poll of `pipe`: every record now in its stream is filtered and sent to the target.

    `state` is a dict owned by this function (shard iterators and retry counts), empty on the
    first call, which takes the iterators at `StartingPosition` (so with LATEST, call once
    before writing). Returns the number of records sent to the target queue. A batch that
    cannot be sent stays where it is until a later call; past `MaximumRetryAttempts` failed
    calls, its description goes to the dead-letter queue (or, without one, it is dropped).
    """
    _open_shards(streams_client, pipe, state)
    sent = 0
    for shard_id, shard in state.items():
        for _ in range(MAX_BATCHES_PER_POLL):
            if shard.iterator is None:
                break
            response = streams_client.get_records(ShardIterator=shard.iterator, Limit=pipe.batch_size)
            next_iterator = response.get("NextShardIterator")
            records = [dynamodb_stream_record(r, stream_arn=pipe.source_arn, region=pipe.region)
                       for r in response.get("Records", [])]
            passing = [record for record in records if matches_any(pipe.patterns, record)]
            error = _send(sqs_client, pipe, passing) if passing else None
            if error is None:
                sent += len(passing)
            else:
                shard.attempts += 1
                if pipe.maximum_retry_attempts < 0 or shard.attempts <= pipe.maximum_retry_attempts:
                    if error != shard.last_error:
                        log.warning("%s: sending to %s failed (%s); retrying", pipe.logical_id,
                                    pipe.target_arn.rsplit(":", 1)[-1], error)
                    shard.last_error = error
                    forget_shard_iterator(next_iterator)  # the same batch is read again next time
                    break
                _dead_letter(sqs_client, pipe, shard_id, records, shard.attempts, error)
            shard.attempts, shard.last_error = 0, ""
            forget_shard_iterator(shard.iterator)
            shard.iterator = next_iterator
            if not records:
                break
    return sent


def pending_records(streams_client: Any, pipe: PipeSpec, state: dict) -> int:
    """Whether records wait in the open shards (0 or a small count): a peek, nothing moves."""
    waiting = 0
    for shard in state.values():
        if shard.iterator is None:
            continue
        response = streams_client.get_records(ShardIterator=shard.iterator, Limit=1)
        forget_shard_iterator(response.get("NextShardIterator"))
        waiting += len(response.get("Records", []))
    return waiting


def _open_shards(streams_client: Any, pipe: PipeSpec, state: dict) -> None:
    """Iterators for shards not seen yet: StartingPosition on the first call, their start later."""
    position = pipe.starting_position if not state else "TRIM_HORIZON"
    description = streams_client.describe_stream(StreamArn=pipe.source_arn)["StreamDescription"]
    for shard in description.get("Shards", []):
        shard_id = shard["ShardId"]
        if shard_id not in state:
            iterator = streams_client.get_shard_iterator(
                StreamArn=pipe.source_arn, ShardId=shard_id, ShardIteratorType=position
            )["ShardIterator"]
            state[shard_id] = _Shard(iterator)


def _send(sqs_client: Any, pipe: PipeSpec, records: list[dict]) -> str | None:
    """Send each record as a message; the error text of the first failure, None on success."""
    extra = {"MessageGroupId": pipe.message_group_id} if pipe.message_group_id else {}
    try:
        for record in records:
            if pipe.message_group_id:
                extra["MessageDeduplicationId"] = record["eventID"]
            sqs_client.send_message(QueueUrl=pipe.target_url, MessageBody=json.dumps(record), **extra)
    except (ClientError, BotoCoreError) as exc:
        return str(exc)
    return None


def _dead_letter(sqs_client: Any, pipe: PipeSpec, shard_id: str, records: list[dict], attempts: int,
                 error: str) -> None:
    """Describe the failed batch in the dead-letter queue: for stream sources AWS sends the batch's
    position in the stream (the records stay readable there for 24 h), not the records."""
    if not pipe.dead_letter_url:
        log.error("%s: batch dropped after %d attempts, no dead-letter queue: %s", pipe.logical_id, attempts, error)
        return
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    body = {
        "version": "1.0",
        "timestamp": iso_millis(datetime.now(UTC)),
        "context": {
            "pipeArn": pipe.arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
            "errorMessage": error,
        },
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
            "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
            "batchSize": len(records),
            "streamArn": pipe.source_arn,
        },
    }
    try:
        sqs_client.send_message(QueueUrl=pipe.dead_letter_url, MessageBody=json.dumps(body))
        log.warning("%s: batch of %d record(s) sent to the dead-letter queue after %d attempts: %s",
                    pipe.logical_id, len(records), attempts, error)
    except (ClientError, BotoCoreError) as exc:
        log.error("%s: batch dropped, the dead-letter queue failed too: %s", pipe.logical_id, exc)


def _iso(epoch_seconds: Any) -> str | None:
    if not isinstance(epoch_seconds, (int, float)):
        return None
    return iso_millis(datetime.fromtimestamp(epoch_seconds, UTC))


class PipePoller(Poller):
    """A pipe in the running stack: `forward_once` as soon as its table's stream gets records, or
    after an idle pause of 0.25 s doubling up to 1 s (`Poller`). `backlog()` tells `wait_idle`
    whether records still wait in the stream; a poll that sent something moves the activity
    generation, so `wait_idle` looks again at the queues it filled."""

    idle_wait = POLL_INTERVAL_S

    def __init__(self, pipe: PipeSpec, *, streams: Any, sqs: Any, activity: Activity,
                 wakeup: Wakeup | None = None) -> None:
        super().__init__(f"pipe:{pipe.logical_id}", sqs, None, wakeup)
        self.pipe = pipe
        self._streams = streams
        self._activity = activity
        self._state: dict = {}
        self._lock = threading.Lock()
        self._last_error = ""

    @property
    def wake_key(self) -> str:
        """The source table's name (``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>``)."""
        return self.pipe.source_arn.split(":", 5)[-1].split("/")[1]

    def prime(self) -> None:
        """Take the shard iterators now (at stack start), as the pipe's creation does in AWS."""
        with self._lock:
            _open_shards(self._streams, self.pipe, self._state)

    def poll_once(self) -> bool:
        with self._lock:
            try:
                sent = forward_once(self._streams, self.sqs, self.pipe, self._state)
            except (ClientError, BotoCoreError) as exc:  # e.g. the table was deleted: say it once
                if str(exc) != self._last_error:
                    log.warning("%s: cannot read %s: %s", self.pipe.logical_id, self.pipe.source_arn, exc)
                self._last_error = str(exc)
                return False
            self._last_error = ""
            if sent:
                self._activity.begin()
                self._activity.end()
                log.info("%s: %d record(s) -> %s", self.pipe.logical_id, sent, self.pipe.target_arn.rsplit(":", 1)[-1])
        return sent > 0

    def retrying(self) -> bool:
        with self._lock:
            return any(shard.attempts for shard in self._state.values())

    def backlog(self) -> int:
        with self._lock:
            try:
                return pending_records(self._streams, self.pipe, self._state)
            except (ClientError, BotoCoreError):
                return 0
