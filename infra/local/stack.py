"""The local stack: moto server + resources from the template + the template's events (and pipes),
dispatched to the handlers running in warm worker processes. No Docker.

    with LocalStack(root) as stack:                  # or stack.start() / stack.stop()
        s3 = stack.client("s3")
        s3.put_object(Bucket=stack.bucket, Key="portfolios/t1/a.csv", Body=b"...")
        stack.wait_idle()                            # ingestion (and whatever it triggered) is done
        stack.fire_schedule("CampaignFunction", datetime(2026, 3, 1, 8, tzinfo=UTC))

moto keeps its state per process, so one process runs at most one LocalStack at a time.

Starting is decided by readiness, not by time. Both ports are taken first (a busy one fails at once,
naming it); moto then answers, the resources are created, the workers are spawned and `start()`
waits until each has imported its handler (at most `ready_timeout`, 300 s, an error naming the
functions that were not ready); then the state file is written and the API port opens, last. So
when the API port answers, everything behind it exists, and so does `.local/stack.json`. A start
that fails stops what it started (ports, workers, threads) before it raises. `stop()` closes the
API port first, then removes the state file, then ends the rest.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from infra.local.activity import Activity, Wakeup
from infra.local.api import ApiServer, RouteTable
from infra.local.async_invoke import AsyncInvoker, Destinations
from infra.local.clock import Clock, ScheduleTarget, schedule_targets
from infra.local.heap import HeapSettler
from infra.local.logs import STACK_LOG, LogEcho
from infra.local.moto_server import MotoServer
from infra.local.net import bind_socket
from infra.local.pipes import PipePoller, pipe_specs
from infra.local.pollers import Poller, S3EventSource, SqsEventSource
from infra.local.resources import client_factory, create_resources, declared_notifications
from infra.local.runtime import CREDENTIALS, INIT_TIMEOUT_S, FunctionPool, InitTimeout, InvokeResult, worker_config
from infra.local.state import remove_state, write_state
from infra.local.template import FunctionSpec, LocalTemplate
from infra.local.whatsapp import WhatsAppRecorder

log = logging.getLogger("infra.local")

HOST = "127.0.0.1"
# How long `start()` waits for the workers to import their handlers: a bound, not a duration.
READY_TIMEOUT_S = INIT_TIMEOUT_S
MOTO_DATA_TIMEOUT_S = 300.0  # `moto_data()`: a bound for a request to our own server, not a duration
# Cognito ids derived from the pool/client definition instead of random: the same ids on every
# start, so a mobile app configured against the local pool keeps working across restarts.
_MOTO_ENV = {
    "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH",
    "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY": "HASH",
}
_active_lock = threading.Lock()
_active: LocalStack | None = None


def _reset_moto() -> None:
    """Empty every moto backend (moto's state is per process and outlives a stack): what
    `POST /moto-api/reset` does, called directly so that there is no request to time out."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


class LocalStack:
    """The whole template, running locally. See the module docstring."""

    def __init__(
        self,
        root: Path | str,
        aws_port: int = 4566,
        api_port: int = 3000,
        log_dir: Path | str | None = None,
        *,
        template: Path | str | None = None,
        parameters: dict[str, Any] | None = None,
        clock: bool = False,
        echo_logs: bool = False,
        write_state_file: bool = False,
        api_workers: int = 2,
        retry_delay: float = 0.2,
        retry_visibility: int = 1,
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> None:
        """Ports may be 0 (pick free ones: tests). `clock` fires schedules on the wall clock and
        `echo_logs` echoes notable function log lines to stderr (both for serve mode);
        `write_state_file` publishes `.local/stack.json` for other commands; `ready_timeout` bounds
        the wait for the workers' init in `start()`."""
        self.root = Path(root).resolve()
        self.template_path = Path(template).resolve() if template else self.root / "template.yaml"
        self.log_dir = Path(log_dir) if log_dir else self.root / ".local" / "logs"
        self._aws_port = aws_port
        self._api_port = api_port
        self._parameters = parameters
        self._use_clock = clock
        self._echo_logs = echo_logs
        self._write_state_file = write_state_file
        self.api_workers = api_workers
        self._retry_delay = retry_delay
        self._retry_visibility = retry_visibility
        self._ready_timeout = ready_timeout

        self._template: LocalTemplate | None = None
        self._moto: MotoServer | None = None
        self._clients: Callable[[str], Any] | None = None
        self._created: dict[str, str] = {}
        self._pools: dict[str, FunctionPool] = {}
        self._pools_lock = threading.Lock()
        self._pollers: list[Poller] = []
        self._api: ApiServer | None = None
        self._api_socket: socket.socket | None = None  # the API port, bound until the ApiServer takes it
        self._async: AsyncInvoker | None = None
        self._clock: Clock | None = None
        self._echo: LogEcho | None = None
        self._heap: HeapSettler | None = None
        self._whatsapp: WhatsAppRecorder | None = None
        self._log_handler: logging.Handler | None = None
        self._saved_env: dict[str, str | None] = {}
        self._activity = Activity()
        self._wakeup = Wakeup()
        self._running = False

    # ------------------------------------------------------------------ accessors

    @property
    def running(self) -> bool:
        return self._running

    @property
    def template(self) -> LocalTemplate:
        if self._template is None:
            raise RuntimeError("the local stack is not started")
        return self._template

    @property
    def aws_endpoint(self) -> str:
        if self._moto is None or not self._moto.listening:
            raise RuntimeError("the local stack is not started")
        return f"http://{HOST}:{self._moto.port}"

    @property
    def api_endpoint(self) -> str | None:
        """Base URL of the local API (no stage prefix needed), or None when the template has no Api events."""
        return f"http://{HOST}:{self._api.port}" if self._api else None

    @property
    def names(self) -> dict[str, str]:
        """`{logical_id: physical name or URL}` of created resources and functions."""
        return dict(self._created)

    @property
    def bucket(self) -> str | None:
        """The (first) bucket of the template."""
        buckets = list(self.template.buckets)
        return self.template.physical_name(buckets[0]) if buckets else None

    @property
    def clock(self) -> Clock | None:
        return self._clock

    def client(self, service: str) -> Any:
        """A boto3 client pointed at the local stack."""
        if self._clients is None:
            raise RuntimeError("the local stack is not started")
        return self._clients(service)

    def worker_pids(self) -> list[int]:
        """Process ids of the running function workers (warm containers)."""
        with self._pools_lock:
            return [pid for pool in self._pools.values() for pid in pool.pids]

    def state(self) -> dict[str, Any]:
        """What `serve` publishes in `.local/stack.json`."""
        return {
            "aws_endpoint": self.aws_endpoint,
            "api_endpoint": self.api_endpoint,
            "stack_name": self.template.stack_name,
            "region": self.template.region,
            "account_id": self.template.account_id,
            "bucket": self.bucket,
            "resources": self.names,
            "parameters": self.template.parameters,
            "pid": os.getpid(),
        }

    def moto_data(self) -> dict:
        """moto's view of everything (e.g. sent SES mail under `ses`), from `/moto-api/data.json`.

        moto builds it from every object it holds (thousands of items after a demo), which takes
        a while on a loaded machine: the bound is generous, and its error says what timed out."""
        url = f"{self.aws_endpoint}/moto-api/data.json"
        try:
            with urllib.request.urlopen(url, timeout=MOTO_DATA_TIMEOUT_S) as response:  # nosec B310  # the local moto server
                return json.load(response)
        except TimeoutError:
            raise TimeoutError(f"moto did not answer {url} within {MOTO_DATA_TIMEOUT_S:.0f} s") from None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, prepare: Callable[[LocalStack], Any] | None = None) -> LocalStack:
        """Start and return once ready (see the module docstring). `prepare(stack)` runs when
        everything is up but before the state file is written and the API port opens (`serve`
        creates its demo tenant there). On any failure, everything started is stopped again
        before the exception propagates."""
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeError("a LocalStack is already running in this process (moto state is per process)")
            _active = self
        started = time.perf_counter()
        self._running = True
        try:
            self._start(prepare)
        except BaseException:
            self.stop()
            raise
        log.info("local stack up in %.1f s: AWS %s, API %s", time.perf_counter() - started,
                 self.aws_endpoint, self.api_endpoint or "-")
        return self

    def _start(self, prepare: Callable[[LocalStack], Any] | None) -> None:
        self._prepare_logs()
        self._apply_moto_env()
        # Both ports first, so that a busy one fails the start before anything else has begun. The
        # API port is only bound (connections are refused) until everything behind it is ready.
        self._moto = MotoServer(HOST, self._aws_port, wakeup=self._wakeup)
        self._api_socket = bind_socket(HOST, self._api_port, "local API")
        self._api_port = self._api_socket.getsockname()[1]
        _reset_moto()  # before anyone can connect
        self._moto.start()
        template = self._template = LocalTemplate(
            self.template_path, parameters=self._local_parameters(), aws_endpoint=self.aws_endpoint
        )
        session = boto3.Session(region_name=template.region, aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        self._clients = client_factory(session, endpoint_url=self.aws_endpoint, region=template.region)
        self._created = create_resources(template, self._clients)
        self._created.update({lid: f.name for lid, f in template.functions.items()})

        # Workers boot (in parallel) while the event sources are wired.
        eager = [f for f in template.functions.values() if f.events]
        api_functions = RouteTable.from_template(template).routes
        spawned = time.monotonic()
        self._spawn_workers(eager, api_ids={route.function_id for route in api_functions})

        self._async = AsyncInvoker(
            self._invoke, Destinations(template, self._clients, self.invoke_async), self._activity,
            retry_delay=self._retry_delay,
        )
        self._wire_s3_events()
        self._wire_sqs_events()
        self._wire_pipes()
        api_socket, self._api_socket = self._api_socket, None
        if api_functions:
            self._api = ApiServer(template, self._invoke, host=HOST, port=self._api_port, sock=api_socket)
        else:
            api_socket.close()
        targets = schedule_targets(template)
        if targets:  # the thread runs in clock mode only; `clock.tick(minute)` works either way
            self._clock = Clock(targets, self._fire_async)
        if self._echo_logs:
            self._echo = LogEcho(self.log_dir)
            self._echo.start()

        self._wait_for_workers(spawned + self._ready_timeout)
        self._heap = HeapSettler(self._activity)
        self._heap.start()
        self._go_live(prepare)

    def _apply_moto_env(self) -> None:
        """moto's settings into the environment (values already set win); `stop` restores it."""
        for key, value in _MOTO_ENV.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ.setdefault(key, value)

    def _spawn_workers(self, eager: list[FunctionSpec], *, api_ids: set[str]) -> None:
        """A pool per function with events, booting in the background: `api_workers` workers for
        the API's functions, one for the others."""
        for function in eager:
            size = self.api_workers if function.logical_id in api_ids else 1
            self._pools[function.logical_id] = self._new_pool(function, size)
            self._pools[function.logical_id].spawn()

    def _go_live(self, prepare: Callable[[LocalStack], Any] | None) -> None:
        """Once the workers are ready: the pollers and the clock start, `prepare` runs, the state
        file is written, and the API port opens last."""
        for poller in self._pollers:
            poller.start()
        if self._clock and self._use_clock:
            self._clock.start()
        if prepare is not None:
            prepare(self)
        if self._write_state_file:  # before the API port opens: whoever finds it open finds the file
            write_state(self.root, self.state())
        if self._api:
            self._api.start()  # last

    def _wait_for_workers(self, deadline: float) -> None:
        """Until every eager worker has imported its handler. An init *error* is only logged (its
        function answers with it, as in Lambda); a worker still importing at `deadline` fails the start."""
        late = []
        for lid, pool in self._pools.items():
            try:
                error = pool.wait_ready(deadline - time.monotonic(), strict=True)
            except InitTimeout:
                late.append(lid)
                continue
            if error:
                log.warning("%s failed to initialise: %s: %s", lid, error.get("errorType"), error.get("errorMessage"))
        if late:
            raise TimeoutError(
                f"not ready after {self._ready_timeout:.0f} s: the workers of {', '.join(late)} had not finished "
                f"importing their handlers (see {self.log_dir}/<LogicalId>.log; a slow machine may need a "
                "longer ready timeout)"
            )

    def _local_parameters(self) -> dict[str, Any]:
        """Parameters the local stack fills in when the template declares them (explicit
        `parameters` win): the public API URL for the debtors' links, the WhatsApp recorder's URL,
        and the event clock, so that replayed nights behave the same at any hour."""
        declared = set(LocalTemplate(self.template_path).data.get("Parameters") or {})
        local: dict[str, Any] = {}
        if "PublicBaseUrl" in declared:
            local["PublicBaseUrl"] = f"http://{HOST}:{self._api_port}"  # bound already, even when asked for 0
        if "WhatsAppApiUrl" in declared:
            self._whatsapp = WhatsAppRecorder(HOST, 0, self.log_dir.parent / "whatsapp" / "messages.jsonl").start()
            local["WhatsAppApiUrl"] = self._whatsapp.url
        if "ClockMode" in declared:
            local["ClockMode"] = "event"
        return {**local, **(self._parameters or {})}

    @property
    def whatsapp(self) -> "WhatsAppRecorder | None":
        return self._whatsapp

    def stop(self) -> None:
        """Stop everything started, in reverse order; safe to call twice or after a failed start."""
        global _active
        if not self._running:
            return
        self._running = False
        self._close_api()
        self._stop_event_sources()
        self._stop_workers()
        self._stop_servers()
        if self._heap is not None:
            self._heap.stop()
            self._heap = None
        self._restore_env()
        self._remove_log_handler()
        self._pools.clear()
        self._pollers.clear()
        self._api = self._async = self._clock = self._echo = self._moto = self._log_handler = None
        with _active_lock:
            if _active is self:
                _active = None

    def _close_api(self) -> None:
        # The API port closes first, and only then goes the state file: it exists whenever the port answers.
        if self._api is not None:
            self._api.stop()
        if self._api_socket is not None:
            self._api_socket.close()
            self._api_socket = None
        if self._write_state_file:
            remove_state(self.root, os.getpid())

    def _stop_event_sources(self) -> None:
        """The clock, the pollers and the async invoker are told to stop (they are joined later)."""
        if self._clock is not None:
            self._clock.stop()
        for poller in self._pollers:
            poller.stop()
        if self._async is not None:
            self._async.stop()

    def _stop_workers(self) -> None:
        # Workers go before the pollers are joined: a poller waiting on a long handler returns then.
        with self._pools_lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.request_stop()
        for pool in pools:
            pool.stop()
        for poller in self._pollers:
            if poller.is_alive():
                poller.join(timeout=5)
        if self._clock is not None and self._clock.is_alive():
            self._clock.join(timeout=2)

    def _stop_servers(self) -> None:
        """The log echo, the WhatsApp recorder and moto."""
        if self._echo is not None:
            self._echo.stop()
        if self._whatsapp is not None:
            self._whatsapp.stop()
            self._whatsapp = None
        if self._moto is not None:
            self._moto.stop()
            try:
                _reset_moto()  # frees the memory now (the next start resets anyway)
            except Exception as exc:  # e.g. a request of an outside client still running: stop goes on
                log.warning("could not reset moto on stop: %s: %s", type(exc).__name__, exc)

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _remove_log_handler(self) -> None:
        if self._log_handler is not None:
            logging.getLogger("infra.local").removeHandler(self._log_handler)
            self._log_handler.close()

    # ------------------------------------------------------------------ invoking

    def invoke(self, logical_id: str, event: Any = None) -> Any:
        """Invoke a function synchronously (like `sam local invoke`); returns its result, or the
        Lambda error payload `{"errorMessage", "errorType", "stackTrace", ...}` if it raised."""
        return self.invoke_result(logical_id, event).payload

    def invoke_result(self, logical_id: str, event: Any = None) -> InvokeResult:
        """Like `invoke`, with the request id, duration and whether it was a function error."""
        return self._invoke(logical_id, {} if event is None else event)

    def invoke_async(self, logical_id: str, event: Any) -> Future:
        """Invoke as S3 or EventBridge would: retries and destinations from EventInvokeConfig."""
        if self._async is None:
            raise RuntimeError("the local stack is not started")
        return self._async.submit(self.template.functions[logical_id], event)

    def fire_schedule(self, logical_id: str, time: datetime | None = None, *, event_name: str | None = None) -> Any:
        """Deliver a schedule's "Scheduled Event" for `time` (default now) and return the result."""
        target = self._schedule_target(logical_id, event_name)
        moment = time or datetime.now(UTC).replace(microsecond=0)
        return self.invoke(logical_id, target.event(moment, account_id=self.template.account_id,
                                                     region=self.template.region))

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Return once every polled queue (hidden S3 ones included) is empty, nothing is in flight
        and no invocation (or async retry) is pending. Raises TimeoutError saying what is busy."""
        deadline = time.monotonic() + timeout
        # Idle must hold, with nothing starting or ending, for longer than a kept message stays
        # invisible (retry_visibility): CI runs saw a single look find the queues empty while a
        # message kept for retry was due back a moment later.
        settle = self._retry_visibility + 0.2
        quiet_since: tuple[float, int] | None = None
        while True:
            busy, generation = self._activity.snapshot()
            backlog = self._queue_backlog() if busy == 0 else {}
            if busy == 0 and not backlog and self._activity.snapshot() == (0, generation):
                if quiet_since is None or quiet_since[1] != generation:
                    quiet_since = (time.monotonic(), generation)
                elif time.monotonic() - quiet_since[0] >= settle:
                    return
            else:
                quiet_since = None
            if time.monotonic() > deadline:
                detail = ", ".join(f"{name}: {count}" for name, count in backlog.items()) or "none"
                raise TimeoutError(
                    f"local stack still busy after {timeout:.0f} s: {busy} invocation(s) running; "
                    f"queued or in-flight messages: {detail}"
                )
            time.sleep(0.05)

    def _invoke(self, logical_id: str, event: Any, request_id: str | None = None) -> InvokeResult:
        """Every invocation path (API, pollers, async, `invoke`) goes through here: activity-tracked."""
        with self._activity.track():
            return self._pool(logical_id).invoke(event, request_id)

    def _pool(self, logical_id: str) -> FunctionPool:
        """The function's workers; functions without events get theirs on first use."""
        with self._pools_lock:
            pool = self._pools.get(logical_id)
            if pool is None:
                if not self._running:
                    raise RuntimeError("the local stack is not started")
                function = self.template.functions.get(logical_id)
                if function is None:
                    raise KeyError(f"no function {logical_id} in {self.template_path.name}")
                pool = self._pools[logical_id] = self._new_pool(function, 1)
                pool.spawn()
                pool.wait_ready()
            return pool

    def _new_pool(self, function: FunctionSpec, size: int) -> FunctionPool:
        log_path = self.log_dir / f"{function.logical_id}.log"
        return FunctionPool(worker_config(self.template, function, self.aws_endpoint, log_path), size)

    def _schedule_target(self, logical_id: str, event_name: str | None) -> ScheduleTarget:
        targets = [t for t in schedule_targets(self.template) if t.function_id == logical_id]
        if event_name:
            targets = [t for t in targets if t.event_name == event_name]
        if len(targets) != 1:
            names = ", ".join(t.event_name for t in targets) or "none"
            raise ValueError(f"{logical_id}: expected one schedule event (event_name=...), found {names}")
        return targets[0]

    def _fire_async(self, target: ScheduleTarget, minute: datetime) -> None:
        event = target.event(minute, account_id=self.template.account_id, region=self.template.region)
        self.invoke_async(target.function_id, event)

    # ------------------------------------------------------------------ wiring

    def _wire_s3_events(self) -> None:
        """A hidden queue per S3 event, subscribed through the bucket's notification configuration."""
        template = self.template
        sqs, s3 = self.client("sqs"), self.client("s3")
        per_bucket: dict[str, list[dict]] = {}
        for function in template.functions.values():
            for name, event in function.events_of_type("S3").items():
                props = event.properties
                queue_name = f"{template.stack_name}-{function.logical_id}-{name}-s3events"[:80]
                sqs.create_queue(QueueName=queue_name)
                queue_url = template.queue_url(queue_name)
                configuration: dict[str, Any] = {
                    "Id": f"{function.logical_id}-{name}",
                    "QueueArn": f"arn:aws:sqs:{template.region}:{template.account_id}:{queue_name}",
                    "Events": props["Events"] if isinstance(props["Events"], list) else [props["Events"]],
                }
                rules = ((props.get("Filter") or {}).get("S3Key") or {}).get("Rules")
                if rules:
                    configuration["Filter"] = {"Key": {"FilterRules": rules}}
                per_bucket.setdefault(props["Bucket"], []).append(configuration)
                self._pollers.append(S3EventSource(
                    function_id=function.logical_id, sqs=sqs, queue_url=queue_url,
                    invoke_async=lambda ev, f=function.logical_id: self.invoke_async(f, ev),
                    wakeup=self._wakeup,
                ))
        for bucket, configurations in per_bucket.items():
            declared = self._declared_notifications(bucket)
            declared.setdefault("QueueConfigurations", []).extend(configurations)
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=declared)

    def _declared_notifications(self, bucket: str) -> dict:
        for lid, resource in self.template.buckets.items():
            if self.template.physical_name(lid) == bucket:
                properties = self.template.resolve(resource.properties)
                return declared_notifications(properties.get("NotificationConfiguration") or {})
        return {}

    def _wire_sqs_events(self) -> None:
        template = self.template
        for function in template.functions.values():
            for event in function.events_of_type("SQS").values():
                props = event.properties
                if props.get("Enabled") is False:
                    continue
                queue_arn = props["Queue"]
                self._pollers.append(SqsEventSource(
                    function_id=function.logical_id,
                    sqs=self.client("sqs"),
                    queue_url=template.queue_url_from_arn(queue_arn),
                    queue_arn=queue_arn,
                    batch_size=int(props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    invoke=self._invoke,
                    account_id=template.account_id,
                    region=template.region,
                    retry_visibility=self._retry_visibility,
                    wakeup=self._wakeup,
                ))

    def _wire_pipes(self) -> None:
        """A poller per DynamoDB stream -> SQS pipe, its iterators taken now (StartingPosition)."""
        for pipe in pipe_specs(self.template):
            poller = PipePoller(pipe, streams=self.client("dynamodbstreams"), sqs=self.client("sqs"),
                                activity=self._activity, wakeup=self._wakeup)
            poller.prime()
            self._pollers.append(poller)

    def _queue_backlog(self) -> dict[str, int]:
        backlog = {}
        for poller in self._pollers:
            count = poller.backlog()
            if count:
                backlog[poller.source_name] = count
        return backlog

    # ------------------------------------------------------------------ helpers

    def _prepare_logs(self) -> None:
        """Fresh log files per start, and the stack's own log in `stack.log`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for path in self.log_dir.glob("*.log"):
            path.write_text("")
        handler = logging.FileHandler(self.log_dir / STACK_LOG, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
        logger = logging.getLogger("infra.local")
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        self._log_handler = handler
