"""Command line of the local stack.

    python -m infra.local serve [--aws-port 4566] [--api-port 3000] [--no-clock] [--ready-timeout 300]
    python -m infra.local invoke <FunctionLogicalId> [--event FILE|-]
    python -m infra.local demo [--ready-timeout 300]

`serve` is ready when the API port answers: the resources exist, the workers have imported their
handlers, the demo tenant exists and `.local/stack.json` is written by then.

`invoke` behaves like `sam local invoke` against the running stack: a fresh process with the
function's environment (pointed at the stack found in `.local/stack.json`), the JSON result on
stdout, the function's logs on stderr, exit code 1 when the handler failed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra._venv import REPO_ROOT

log = logging.getLogger("infra.local")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=REPO_ROOT, help="project directory (holds template.yaml)")
    starting = argparse.ArgumentParser(add_help=False)
    starting.add_argument("--ready-timeout", type=float, default=None, metavar="SECONDS",
                          help="how long to wait for the functions' workers to start (default 300)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common, starting], help="run the local stack until Ctrl-C")
    serve.add_argument("--aws-port", type=int, default=4566)
    serve.add_argument("--api-port", type=int, default=3000)
    serve.add_argument("--no-clock", action="store_true", help="do not fire schedules on the wall clock")

    invoke = commands.add_parser("invoke", parents=[common], help="invoke one function once against the running stack")
    invoke.add_argument("function", metavar="FunctionLogicalId")
    invoke.add_argument("--event", "-e", help="JSON event file ('-' for stdin); default {} or a Scheduled Event")

    demo = commands.add_parser("demo", parents=[common, starting],
                               help="start a stack, run infra.local.demo.run(stack), stop")
    demo.add_argument("--aws-port", type=int, default=4566)
    demo.add_argument("--api-port", type=int, default=3000)

    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.command == "serve":
        return serve_command(root, args.aws_port, args.api_port, clock=not args.no_clock,
                             ready_timeout=args.ready_timeout)
    if args.command == "invoke":
        return invoke_command(root, args.function, args.event)
    return demo_command(root, args.aws_port, args.api_port, ready_timeout=args.ready_timeout)


def _stack_options(ready_timeout: float | None) -> dict[str, Any]:
    return {} if ready_timeout is None else {"ready_timeout": ready_timeout}


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


# --------------------------------------------------------------------------- serve


def serve_command(root: Path, aws_port: int, api_port: int, *, clock: bool, ready_timeout: float | None = None) -> int:
    from infra.local.logs import console_logging
    from infra.local.stack import LocalStack
    from infra.local.state import NoRunningStack, read_state

    try:
        running = read_state(root)
    except NoRunningStack:
        pass
    else:
        print(f"a local stack is already running (pid {running['pid']}, {running['aws_endpoint']})", file=sys.stderr)
        return 1
    console_logging(logging.INFO)
    started = time.perf_counter()
    stack = LocalStack(root, aws_port, api_port, clock=clock, echo_logs=True, write_state_file=True,
                       **_stack_options(ready_timeout))
    hook = _demo_attribute("on_serve")
    hook_output = io.StringIO()

    def prepare(running: Any) -> None:
        """The demo tenant exists before the API port opens; what the hook prints follows the banner."""
        if hook is not None:
            with contextlib.redirect_stdout(hook_output):
                hook(running)

    # Ctrl-C or SIGTERM while starting interrupts the start, which then stops what it started
    # (SIGINT explicitly too: a shell starts background commands with it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        stack.start(prepare)
    except OSError as exc:
        print(f"cannot start the local stack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted while starting; stopped", file=sys.stderr)
        return 130
    try:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        _print_banner(stack, time.perf_counter() - started, clock)
        print(hook_output.getvalue(), end="", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:  # arrived before the handlers above were in place
        pass
    finally:
        print("stopping...", file=sys.stderr)
        stack.stop()
    return 0


def _print_banner(stack: Any, seconds: float, clock: bool) -> None:
    names = stack.names
    width = max((len(k) for k in names), default=10)
    lines = [
        f"cobranza local stack up in {seconds:.1f} s (pid {stack.state()['pid']})",
        f"  AWS endpoint  {stack.aws_endpoint}   e.g. aws --endpoint-url {stack.aws_endpoint} s3 ls",
        f"  HTTP API      {stack.api_endpoint or '-'}",
        f"  bucket        {stack.bucket or '-'}",
        f"  schedules     {'fired by the clock' if clock else 'on demand only (--no-clock)'}",
        f"  logs          {stack.log_dir}",
        "  resources:",
        *(f"    {lid:<{width}}  {name}" for lid, name in names.items()),
        "Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def _demo_attribute(name: str) -> Any:
    """`infra.local.demo.<name>` if that module (owned by the lead) exists and defines it."""
    try:
        module = importlib.import_module("infra.local.demo")
    except ModuleNotFoundError as exc:
        if exc.name == "infra.local.demo":
            return None
        raise
    return getattr(module, name, None)


# --------------------------------------------------------------------------- invoke


def invoke_command(root: Path, function_id: str, event_path: str | None) -> int:
    from infra.local.clock import schedule_targets
    from infra.local.runtime import Worker, worker_config
    from infra.local.state import NoRunningStack, read_state
    from infra.local.template import LocalTemplate

    try:
        state = read_state(root)
    except NoRunningStack as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    template = LocalTemplate(root / "template.yaml", parameters=state.get("parameters"),
                             aws_endpoint=state["aws_endpoint"])
    for logical_id, ref in (state.get("resources") or {}).items():
        if logical_id in template.resources and logical_id not in template.functions:
            template.bind(logical_id, ref=ref)  # ids the running stack got at creation (Cognito)
    function = template.functions.get(function_id)
    if function is None:
        print(f"error: no function {function_id}; functions: {', '.join(template.functions)}", file=sys.stderr)
        return 2
    if event_path:
        event = json.loads(sys.stdin.read() if event_path == "-" else Path(event_path).read_text(encoding="utf-8"))
    else:
        targets = [t for t in schedule_targets(template) if t.function_id == function_id]
        now = datetime.now(UTC).replace(microsecond=0)
        event = targets[0].event(now, account_id=template.account_id, region=template.region) if targets else {}
    worker = Worker(worker_config(template, function, state["aws_endpoint"], log_path=None))
    worker.spawn()
    try:
        if not worker.wait_ready():
            result_payload, ok = worker.init_error, False
        else:
            result = worker.invoke(event, str(uuid.uuid4()))
            result_payload, ok = result.payload, result.ok
    finally:
        worker.stop()
    print(json.dumps(result_payload, indent=2, ensure_ascii=False), flush=True)
    return 0 if ok else 1


# --------------------------------------------------------------------------- demo


def demo_command(root: Path, aws_port: int, api_port: int, *, ready_timeout: float | None = None) -> int:
    from infra.local.logs import console_logging
    from infra.local.stack import LocalStack

    run = _demo_attribute("run")
    if run is None:
        print("error: infra/local/demo.py with a run(stack) function is missing", file=sys.stderr)
        return 2
    console_logging(logging.WARNING)
    stack = LocalStack(root, aws_port, api_port, echo_logs=True, write_state_file=True,
                       **_stack_options(ready_timeout))
    try:
        stack.start()
    except OSError as exc:
        print(f"cannot start the local stack: {exc}", file=sys.stderr)
        return 1
    try:
        outcome = run(stack)
    except OSError as exc:  # not a start failure: say what did fail
        print(f"the demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
    if outcome is None or outcome is True:
        return 0
    if outcome is False:
        return 1
    return int(outcome)
