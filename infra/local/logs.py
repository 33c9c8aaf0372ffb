"""Function logs in serve mode: every worker writes `.local/logs/<LogicalId>.log`; this echoes the
lines worth a glance (progress reports, warnings, errors) to the console, one compact line each.

Lines are Powertools JSON (`{"level": ..., "message": ...}`) or the Lambda runtime's plain
`[LEVEL] ...` format; tracebacks are left in the file (their `[ERROR]` headline is echoed).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import BinaryIO, TextIO

ECHO_LEVELS = ("WARNING", "WARN", "ERROR", "CRITICAL", "FATAL")
_SKIPPED_KEYS = {
    "level", "message", "timestamp", "location", "service", "xray_trace_id", "cold_start",
    "function_name", "function_memory_size", "function_arn", "function_request_id", "sampling_rate",
}
MAX_LINE = 240
#: INFO messages worth echoing besides progress reports: where an upload stands.
ECHO_MESSAGES = ("upload finished", "ingest split into parts")


def echo_line(function_id: str, line: str) -> str | None:
    """The compact console form of a log line, or None when it is not worth echoing."""
    text = line.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if isinstance(record, dict):
            level = str(record.get("level", "")).upper()
            if level not in ECHO_LEVELS and "progress" not in text and record.get("message") not in ECHO_MESSAGES:
                return None
            extras = " ".join(
                f"{k}={json.dumps(v, default=str, ensure_ascii=False)}" for k, v in record.items()
                if k not in _SKIPPED_KEYS
            )
            return _clip(f"{function_id} {level or 'INFO'} {record.get('message', '')} {extras}".rstrip())
    if "progress" in text or any(text.startswith(f"[{level}]") for level in ECHO_LEVELS):
        return _clip(f"{function_id} {text}")
    return None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


class LogEcho(threading.Thread):
    """Follows every function `*.log` in `log_dir` (truncated at stack start) and echoes what
    `echo_line` keeps."""

    def __init__(self, log_dir: Path, out: TextIO | None = None, interval: float = 0.2) -> None:
        super().__init__(name="log-echo", daemon=True)
        self._dir = log_dir
        self._out = out or sys.stderr
        self._interval = interval
        self._files: dict[Path, BinaryIO] = {}
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2)
        self._drain()
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            self._drain()

    def _drain(self) -> None:
        for path in sorted(self._dir.glob("*.log")):
            if path.name == STACK_LOG:
                continue
            handle = self._files.get(path)
            if handle is None:
                handle = self._files[path] = open(path, "rb")  # kept open to follow it
            while True:
                line = handle.readline()
                if not line.endswith(b"\n"):
                    handle.seek(-len(line), 1)  # a line still being written: read it next time
                    break
                shown = echo_line(path.stem, line.decode("utf-8", errors="replace"))
                if shown:
                    print(time.strftime("%H:%M:%S"), shown, file=self._out, flush=True)


STACK_LOG = "stack.log"


def console_logging(level: int = logging.INFO) -> logging.Handler:
    """Compact console output of the stack's own log (`infra.local` logger) for serve mode."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    handler.setLevel(level)
    logger = logging.getLogger("infra.local")
    logger.addHandler(handler)
    logger.setLevel(min(logger.level or level, level))
    return handler
