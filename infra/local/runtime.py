"""Parent side of the local Lambda runtime: worker processes, pools, timeouts and crashes.

A `Worker` is one warm "container" (see `worker.py`). A `FunctionPool` holds a fixed number of
them for one function and hands each invoke to a free one, so a function never runs two events in
the same process at once, as in Lambda. A handler that exceeds its `Timeout` or kills its process
gets the error Lambda reports, and the pool starts a fresh worker (a cold start) for the next call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess  # nosec B404  # starts the function workers, see Popen below
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from multiprocessing import Pipe
from pathlib import Path
from typing import Any

from infra.local.template import FunctionSpec, LocalTemplate
from infra.local.worker import WorkerConfig

log = logging.getLogger("infra.local")

# How long a worker may take to import its handler (init) before it counts as failed. A bound for a
# stuck init, not an expected duration: on a loaded machine a dozen workers importing boto3 and
# Powertools at once take tens of seconds, and a slow init must not look like a broken one.
INIT_TIMEOUT_S = 300.0
# Where `infra` lives, so `python -m infra.local.worker` imports even for projects elsewhere (tests).
_INFRA_ROOT = str(Path(__file__).resolve().parents[2])
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # nosec B105  # moto's dummy credentials


@dataclass(frozen=True)
class InvokeResult:
    """The outcome of one invocation; `function_error` is "Unhandled" when the payload is an error."""

    request_id: str
    payload: Any
    function_error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.function_error is None


def lambda_environment(
    template: LocalTemplate, function: FunctionSpec, aws_endpoint: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The process environment of a local Lambda: template variables plus what Lambda itself sets.

    Inherits the developer's environment (PATH, HOME, locale) minus every `AWS_*` variable, so a
    profile, session token or endpoint of a real account can never reach the handler code.
    """
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith("AWS_") and k not in ("PYTHONPATH", "TZ")}
    env.update(template.function_environment(function.logical_id))
    env.update(
        {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_DEFAULT_REGION": template.region,
            "AWS_REGION": template.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "LAMBDA_TASK_ROOT": str(function.code_dir),
            "_HANDLER": function.handler,
            "TZ": "UTC",
            "PYTHONPATH": os.pathsep.join(
                [str(function.code_dir), *map(str, function.layer_dirs), str(template.root), _INFRA_ROOT]
            ),
            "PYTHONUNBUFFERED": "1",  # log lines reach the file (and the console echo) at once
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
            "COBRANZA_LOCAL": "1",
        }
    )
    return env


def worker_config(
    template: LocalTemplate, function: FunctionSpec, aws_endpoint: str, log_path: Path | None
) -> WorkerConfig:
    if not function.code_dir.is_dir():
        raise FileNotFoundError(f"{function.logical_id}: CodeUri {function.code_dir} does not exist")
    return WorkerConfig(
        logical_id=function.logical_id,
        function_name=function.name,
        function_arn=function.arn,
        code_dir=str(function.code_dir),
        handler=function.handler,
        layer_dirs=tuple(str(p) for p in function.layer_dirs),
        project_root=str(template.root),
        environment=lambda_environment(template, function, aws_endpoint),
        memory_size=function.memory_size,
        timeout=function.timeout,
        log_path=str(log_path) if log_path else None,
        bootstrap_paths=(_INFRA_ROOT,) if str(template.root) != _INFRA_ROOT else (),
    )


class InitTimeout(TimeoutError):
    """Workers of a function had not finished their init in time (`FunctionPool.wait_ready(strict=True)`)."""

    def __init__(self, logical_id: str, timeout: float) -> None:
        super().__init__(f"{logical_id}: init not finished after {timeout:.0f} s")
        self.logical_id = logical_id


class Worker:
    """One worker process (a warm container)."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.init_error: dict | None = None
        self.ready = False  # its init finished (handler imported)
        self._conn: Any = None
        self._process: Any = None
        self._stop_lock = threading.Lock()

    def spawn(self) -> None:
        """Start the process; returns at once (use `wait_ready`), so many can start in parallel.

        Output goes to the config's log file, else to our stderr (fd 2).
        """
        parent_conn, child_conn = Pipe()
        # The child inherits its own copy of the log file; ours is closed once it has started.
        sink: Any = open(self.config.log_path, "ab") if self.config.log_path else 2
        try:
            self._process = subprocess.Popen(  # nosec B603  # sys.executable with fixed arguments, no shell
                [sys.executable, "-m", "infra.local.worker", str(child_conn.fileno())],
                pass_fds=[child_conn.fileno()],
                env=self.config.environment,
                cwd=self.config.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        finally:
            child_conn.close()
            if self.config.log_path:
                sink.close()
        self._conn = parent_conn
        with contextlib.suppress(OSError):  # a child that died at once is reported by wait_ready()
            parent_conn.send(asdict(self.config))

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process else None

    @property
    def alive(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None and self.init_error is None

    def poll_ready(self, timeout: float) -> bool | None:
        """Wait up to `timeout` for the handler import: True when done, False when it failed
        (`init_error` set, process stopped), None when the worker is still initialising."""
        if self.ready or self.init_error is not None:
            return self.ready
        try:
            conn = self._conn
            if conn is None:
                raise EOFError("the worker was stopped")
            if not conn.poll(max(0.0, timeout)):
                return None
            status, detail = conn.recv()
        except (EOFError, OSError) as exc:
            status, detail = "init_error", self._exit_error(f"Runtime exited during init ({str(exc) or 'no reply'})")
        if status == "init_error":
            self.init_error = detail
            self.stop()
            return False
        self.ready = True
        return True

    def wait_ready(self, timeout: float = INIT_TIMEOUT_S) -> bool:
        """Wait for the handler import; False (and `init_error` set) when it failed or was still
        running after `timeout` (then the process is stopped)."""
        ready = self.poll_ready(timeout)
        if ready is None:
            self.give_up_init(timeout)
            return False
        return ready

    def give_up_init(self, waited: float) -> None:
        """A worker whose init is still running after `waited` seconds counts as failed: stopped."""
        self.init_error = self._exit_error(f"{self.config.logical_id}: init not finished after {waited:.0f} s")
        self.stop(graceful=False)

    def _exit_error(self, message: str) -> dict:
        return {
            "errorMessage": f"{message}; see {self.config.log_path or 'the output above'}",
            "errorType": "Runtime.ExitError",
            "stackTrace": [],
        }

    def invoke(self, event: Any, request_id: str) -> InvokeResult:
        started = time.perf_counter()
        conn, process = self._conn, self._process
        deadline_ms = int(time.time() * 1000) + self.config.timeout * 1000

        def failure(error_type: str, message: str) -> InvokeResult:
            error = {"errorMessage": f"RequestId: {request_id} Error: {message}", "errorType": error_type}
            return InvokeResult(request_id, error, "Unhandled", (time.perf_counter() - started) * 1000)

        if conn is None or process is None:
            return failure("Runtime.ExitError", "Runtime exited (the worker was stopped)")
        try:
            conn.send((request_id, json.dumps(event), deadline_ms))
            if not conn.poll(self.config.timeout + 0.5):
                self.stop(graceful=False)
                return failure("Sandbox.Timedout", f"Task timed out after {self.config.timeout:.2f} seconds")
            status, detail = conn.recv()
        except (EOFError, OSError, ValueError):
            code = process.poll()
            self.stop(graceful=False)
            return failure("Runtime.ExitError", f"Runtime exited with error: exit status {code}")
        duration = (time.perf_counter() - started) * 1000
        if status == "ok":
            return InvokeResult(request_id, json.loads(detail), None, duration)
        return InvokeResult(request_id, detail, "Unhandled", duration)

    def request_stop(self) -> None:
        """Ask the worker to exit after its current invoke (first half of a parallel shutdown)."""
        try:
            if self._conn is not None:
                self._conn.send(None)
        except (OSError, BrokenPipeError):
            pass

    def stop(self, graceful: bool = True, timeout: float = 2.0) -> None:
        """End the process (gracefully first when asked); safe from several threads at once."""
        with self._stop_lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if process is None:
            return
        if graceful and self.ready:  # one still importing its handler would only read the request later
            try:
                conn.send(None)
                process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(1.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if conn is not None:  # None when the spawn itself was interrupted
            conn.close()


class FunctionPool:
    """`size` warm workers of one function; invocations beyond that wait for a free one."""

    def __init__(self, config: WorkerConfig, size: int = 1) -> None:
        self.config = config
        self.size = size
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def logical_id(self) -> str:
        return self.config.logical_id

    def spawn(self) -> None:
        for _ in range(self.size):
            worker = Worker(self.config)
            self._all.append(worker)  # first: `stop` ends it even if its spawn is interrupted
            worker.spawn()

    def wait_ready(self, timeout: float = INIT_TIMEOUT_S, *, strict: bool = False) -> dict | None:
        """Wait for every worker's init, at most `timeout` for all of them; returns an init error
        if any (a failed worker is replaced by the next invoke). A worker still initialising after
        `timeout` fails its init too, or, with `strict`, raises InitTimeout (left to `stop`)."""
        deadline = time.monotonic() + timeout
        error = None
        for worker in list(self._all):
            ready = worker.poll_ready(deadline - time.monotonic())
            if ready is None:
                if strict:
                    raise InitTimeout(self.logical_id, timeout)
                worker.give_up_init(timeout)
                ready = False
            if not ready:
                error = worker.init_error
            self._idle.put(worker)
        return error

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all if w.pid]

    def invoke(self, event: Any, request_id: str | None = None) -> InvokeResult:
        if self._closed:
            raise RuntimeError(f"{self.logical_id}: the local stack is stopped")
        request_id = request_id or str(uuid.uuid4())
        worker = self._idle.get()
        try:
            if self._closed:
                stopped = {"errorMessage": "the local stack is stopping", "errorType": "Runtime.ExitError"}
                return InvokeResult(request_id, stopped, "Unhandled")
            if not worker.alive:
                worker = self._replace(worker)
                if worker.init_error is not None:
                    error = dict(worker.init_error, requestId=request_id)
                    return InvokeResult(request_id, error, "Unhandled")
            return worker.invoke(event, request_id)
        finally:
            self._idle.put(worker)

    def _replace(self, old: Worker) -> Worker:
        """A cold start: a new process for a worker that timed out, crashed or failed its init."""
        old.stop(graceful=False)
        new = Worker(self.config)
        new.spawn()
        with self._lock:
            self._all = [new if w is old else w for w in self._all]
        if not new.wait_ready():
            log.warning("%s init failed: %s", self.logical_id, (new.init_error or {}).get("errorMessage"))
        return new

    def request_stop(self) -> None:
        """Ask every worker to exit (so several pools can wind down in parallel before `stop`)."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.request_stop()

    def stop(self) -> None:
        self.request_stop()
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.stop()
