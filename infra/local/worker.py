"""The inside of a local Lambda "container": one process that imports a handler once and serves invokes.

Started by `runtime.Worker` as `python -m infra.local.worker <fd>` with the function's environment,
its code directory as working directory and stdout/stderr going to the function's log. A fresh
interpreter (rather than a multiprocessing child) means nothing leaks from the parent: no moto
server, no fixtures, no other function's modules, and no re-run of the parent's `__main__` script.
This module must stay import-light (stdlib only).

Protocol over the inherited socket (a multiprocessing Connection; only builtins are sent):
  parent -> worker  config dict (WorkerConfig fields)
  worker -> parent  ("ready", init_ms) | ("init_error", error_dict)
  parent -> worker  (request_id, event_json, deadline_epoch_ms) | None to exit
  worker -> parent  ("ok", result_json) | ("error", error_dict)
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs; built by the parent from the template."""

    logical_id: str
    function_name: str
    function_arn: str
    code_dir: str
    handler: str
    layer_dirs: tuple[str, ...]
    project_root: str
    environment: dict[str, str]
    memory_size: int
    timeout: int
    log_path: str | None  # None: output goes to stderr (one-shot `invoke` keeps stdout for the result)
    bootstrap_paths: tuple[str, ...] = ()  # only there to import this module


class LambdaContext:
    """The subset of Lambda's context object handlers and Powertools use."""

    def __init__(self, config: WorkerConfig, request_id: str, deadline_ms: int) -> None:
        self.function_name = config.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = config.function_arn
        self.memory_limit_in_mb = config.memory_size
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{config.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]local"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def lambda_error(exc: BaseException, request_id: str = "", error_type: str | None = None) -> dict:
    """An exception as the Python runtime reports it: errorMessage, errorType, requestId, stackTrace."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(_user_frames(exc)),
    }


def _log_error(error: dict) -> None:
    """Log an error as the Lambda runtime does: an `[ERROR]` headline, then the user's traceback."""
    trace = "".join(error["stackTrace"])
    print(f"[ERROR] {error['errorType']}: {error['errorMessage']}\nTraceback (most recent call last):\n{trace}",
          file=sys.stderr, end="", flush=True)


def _user_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The traceback without this module's frames on top (Lambda's runtime hides its own too)."""
    frames = traceback.extract_tb(exc.__traceback__)
    while frames and frames[0].filename == __file__:
        frames = frames[1:]
    return frames


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def main(conn: Any) -> None:
    """Serve one function until the parent says stop or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    config = WorkerConfig(**conn.recv())
    _set_sys_path(config)
    _watch_parent()
    request_filter = _install_lambda_log_handler()
    started = time.perf_counter()
    try:
        handler = _load_handler(config)
    except Exception as exc:  # reported to the parent, like Lambda's init error
        error = lambda_error(exc, error_type=_init_error_type(exc))
        if isinstance(exc, (ImportError, SyntaxError)):
            error["errorMessage"] = f"Unable to import module '{config.handler.rpartition('.')[0]}': {exc}"
        _log_error(error)
        conn.send(("init_error", error))
        return
    init_ms = (time.perf_counter() - started) * 1000
    conn.send(("ready", init_ms))
    first = True
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        request_id, event_json, deadline_ms = message
        request_filter.request_id = request_id
        conn.send(_invoke(handler, config, request_id, event_json, deadline_ms, init_ms if first else None))
        first = False


def _invoke(handler: Any, config: WorkerConfig, request_id: str, event_json: str, deadline_ms: int,
            init_ms: float | None) -> tuple[str, Any]:
    print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
    started = time.perf_counter()
    try:
        result = handler(json.loads(event_json), LambdaContext(config, request_id, deadline_ms))
        try:
            reply: tuple[str, Any] = ("ok", json.dumps(result))
        except (TypeError, ValueError) as exc:
            reply = ("error", lambda_error(exc, request_id, "Runtime.MarshalError"))
    except Exception as exc:  # a handler error is a result, the worker keeps running
        reply = ("error", lambda_error(exc, request_id))
        _log_error(reply[1])
    duration = (time.perf_counter() - started) * 1000
    sys.stdout.flush()
    sys.stderr.flush()
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
        f"Billed Duration: {int(duration) + 1} ms\tMemory Size: {config.memory_size} MB\t"
        f"Max Memory Used: {_max_rss_mb()} MB"
    )
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms:.2f} ms"
    print(f"END RequestId: {request_id}\n{report}", flush=True)
    return reply


def _set_sys_path(config: WorkerConfig) -> None:
    """Code directory, layers, project root first, as in Lambda (`/var/task`, `/opt/python`).

    The interpreter started with PYTHONPATH; this only drops the entry that located this module
    when it is not part of the function's path (tests run projects outside the repo).
    """
    ours = [config.code_dir, *config.layer_dirs, config.project_root]
    rest = [p for p in sys.path if p not in ours and p not in config.bootstrap_paths and p not in ("", ".")]
    sys.path[:] = ours + rest


def _watch_parent() -> None:
    """Exit when the parent dies, even in the middle of a long handler (no orphan workers)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _install_lambda_log_handler() -> _RequestIdFilter:
    """The root logger handler the Lambda Python runtime installs (plain `logging` calls show up)."""
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                          "%Y-%m-%dT%H:%M:%S")
    )
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _load_handler(config: WorkerConfig) -> Any:
    module_name, _, attribute = config.handler.rpartition(".")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise _HandlerNotFound(f"Handler '{attribute}' missing on module '{module_name}'") from None


class _HandlerNotFound(Exception):
    pass


def _init_error_type(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return "Runtime.UserCodeSyntaxError"
    if isinstance(exc, ImportError):
        return "Runtime.ImportModuleError"
    if isinstance(exc, _HandlerNotFound):
        return "Runtime.HandlerNotFound"
    return type(exc).__name__


def _max_rss_mb() -> int:
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    except (ImportError, OSError):
        return 0


if __name__ == "__main__":
    from multiprocessing.connection import Connection

    main(Connection(int(sys.argv[1])))
