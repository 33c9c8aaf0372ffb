"""Starting and stopping: no orphan processes, ports released, one stack per process, stack.json.

A stack is ready when its API port answers, starts again at once on the same ports, and a start
that fails leaves nothing behind. None of these tests waits a fixed time: they wait for events
(a port that answers, a thread that ends) or for a fact they can check at once.
"""

from __future__ import annotations

import json
import os
import socket
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from infra.local.net import HttpServer
from infra.local.stack import LocalStack
from infra.local.state import state_path

HOST = "127.0.0.1"
TIME_WAIT = "06"  # the state's code in /proc/net/tcp


def free_ports(count: int) -> list[int]:
    """`count` different ports nobody uses now, chosen once per test (never 4566/3000, which
    someone's `make serve` may hold)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def answers(port: int) -> bool:
    """Something accepts connections on the port (a bound socket that does not listen refuses them).

    The probe sets SO_REUSEADDR and ignores a connection to itself: Linux may give a connect to a
    free port that same port as its source, and such a socket must neither count nor block a bind."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(30)
        try:
            sock.connect((HOST, port))
        except ConnectionRefusedError:
            return False
        return sock.getsockname() != sock.getpeername()


def can_listen(port: int) -> bool:
    """A new server could listen on the port now, as a restarted stack does (`SO_REUSEADDR`)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            sock.listen()
        except OSError:
            return False
        return True


def request_closed_by_server(port: int, path: str) -> bytes:
    """An HTTP request after which the server closes first: we close only once we have read its
    end of the stream, so the server's side of the connection stays in TIME_WAIT on `port`."""
    with socket.create_connection((HOST, port), timeout=30) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    return response


def ports_in_time_wait() -> set[int] | None:
    """Local ports of IPv4 connections in TIME_WAIT, or None where /proc/net/tcp is missing."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    ports = set()
    for line in lines:
        fields = line.split()
        if fields[3] == TIME_WAIT:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def child_pids() -> set[int] | None:
    """Running children of this process (workers are), or None without /proc."""
    if not Path("/proc/self/stat").exists():
        return None
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == os.getpid() and state != "Z":
            children.add(int(entry.name))
    return children


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def test_stop_ends_every_worker_and_frees_the_ports_for_a_second_start(stack_project):
    first = LocalStack(stack_project, aws_port=0, api_port=0).start()
    try:
        aws_port, api_port = port_of(first.aws_endpoint), port_of(first.api_endpoint)
        pids = first.worker_pids()
        assert len(pids) == 3 + first.api_workers  # one per function with events, a pool for the API
        assert all(process_exists(pid) for pid in pids)
    finally:
        first.stop()
    assert not any(process_exists(pid) for pid in pids)
    assert not answers(aws_port) and not answers(api_port)
    assert can_listen(aws_port) and can_listen(api_port)

    with LocalStack(stack_project, aws_port=aws_port, api_port=api_port) as second:
        assert second.aws_endpoint == f"http://127.0.0.1:{aws_port}"
        assert second.client("s3").list_objects_v2(Bucket=second.bucket)["KeyCount"] == 0  # fresh state
        result = second.invoke("ScheduleFunction", {"time": "t"})
        assert result == {"time": "t", "function": "cobranza-ScheduleFunction"}


def test_a_used_stack_stops_and_starts_again_at_once_on_the_same_ports(stack_project):
    aws_port, api_port = free_ports(2)
    idle = []
    try:
        with LocalStack(stack_project, aws_port=aws_port, api_port=api_port) as first:
            assert first.aws_endpoint == f"http://{HOST}:{aws_port}"
            assert first.api_endpoint == f"http://{HOST}:{api_port}"
            # Connections still open when the stack stops: clients that never send their request.
            # (Accepted for sure once a later connection to the same port got its answer.)
            idle = [socket.create_connection((HOST, port), timeout=30) for port in (aws_port, api_port)]
            first.client("s3").put_object(Bucket=first.bucket, Key="kept.txt", Body=b"1")
            assert request_closed_by_server(api_port, "/v1/items").startswith(b"HTTP/1.1 200")
            assert request_closed_by_server(aws_port, "/moto-api/data.json").startswith(b"HTTP/1.1 200")
        # The stop ended them (recv would time out otherwise) and released both ports.
        assert [conn.recv(1) for conn in idle] == [b"", b""]
    finally:
        for conn in idle:
            conn.close()
    waiting = ports_in_time_wait()
    if waiting is not None:  # the case that blocked a restart: the server's side in TIME_WAIT
        assert {aws_port, api_port} <= waiting
    assert not answers(aws_port) and not answers(api_port)

    with LocalStack(stack_project, aws_port=aws_port, api_port=api_port) as second:  # at once
        assert second.aws_endpoint == f"http://{HOST}:{aws_port}"
        assert second.client("s3").list_objects_v2(Bucket=second.bucket)["KeyCount"] == 0  # fresh state
        with urllib.request.urlopen(f"http://{HOST}:{api_port}/v1/items", timeout=60) as response:
            assert response.status == 200


def test_one_stack_per_process_and_a_busy_port_is_a_clear_error(stack_project):
    with LocalStack(stack_project, aws_port=0, api_port=0) as running:
        with pytest.raises(RuntimeError, match="already running in this process"):
            LocalStack(stack_project, aws_port=0, api_port=0).start()
        busy_port = port_of(running.aws_endpoint)
        busy = f"cannot start the moto server on 127.0.0.1:{busy_port}: Address already in use"
        with pytest.raises(OSError, match=busy):
            HttpServer(HOST, busy_port, None, "moto server")  # as a second `make serve` would
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        with pytest.raises(OSError, match="cannot start the moto server"):
            LocalStack(stack_project, aws_port=holder.getsockname()[1], api_port=0).start()


def test_a_start_that_fails_on_a_busy_api_port_leaves_no_port_and_no_worker_behind(stack_project):
    (aws_port,) = free_ports(1)
    before = child_pids()
    with socket.socket() as holder:  # a real listener on the API port
        holder.bind((HOST, 0))
        holder.listen()
        api_port = holder.getsockname()[1]
        stack = LocalStack(stack_project, aws_port=aws_port, api_port=api_port, write_state_file=True)
        busy = f"cannot start the local API on 127.0.0.1:{api_port}: Address already in use"
        with pytest.raises(OSError, match=busy):
            stack.start()
        assert not stack.running and stack.worker_pids() == []
    assert not answers(aws_port) and can_listen(aws_port)
    assert not state_path(stack_project).exists()
    if before is not None:
        assert child_pids() <= before


def test_a_start_that_fails_at_the_last_step_stops_everything_it_started(stack_project):
    """Someone else starts listening on the API port (binding with SO_REUSEADDR is allowed while
    ours is only bound) just before the stack opens it: the stack had moto, resources, workers and
    pollers running and the state file written; all of it goes."""
    aws_port, api_port = free_ports(2)
    before = child_pids()
    seen: dict = {}
    intruder = socket.socket()
    intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def prepare(stack: LocalStack) -> None:
        seen["workers"] = stack.worker_pids()
        assert answers(aws_port) and not answers(api_port)  # moto serves; the API port is not open yet
        intruder.bind((HOST, api_port))
        intruder.listen()

    stack = LocalStack(stack_project, aws_port=aws_port, api_port=api_port, write_state_file=True)
    try:
        with pytest.raises(OSError, match=f"cannot start the local API on 127.0.0.1:{api_port}"):
            stack.start(prepare)
    finally:
        intruder.close()
    assert seen["workers"] and not any(process_exists(pid) for pid in seen["workers"])
    assert not answers(aws_port) and can_listen(aws_port) and can_listen(api_port)
    assert not state_path(stack_project).exists()
    if before is not None:
        assert child_pids() <= before
    with LocalStack(stack_project, aws_port=aws_port, api_port=api_port) as again:  # nothing left over
        assert again.invoke("ScheduleFunction", {"time": "t"})["time"] == "t"


def test_the_state_file_describes_the_running_stack_and_goes_away_with_it(stack_project):
    with LocalStack(stack_project, aws_port=0, api_port=0, write_state_file=True) as running:
        state = json.loads(state_path(stack_project).read_text())
        assert state["aws_endpoint"] == running.aws_endpoint and state["api_endpoint"] == running.api_endpoint
        assert (state["stack_name"], state["region"], state["account_id"]) == ("cobranza", "us-east-1", "123456789012")
        assert state["bucket"] == "cobranza-files-123456789012" and state["pid"] == os.getpid()
        assert state["resources"]["WorkQueue"] == running.names["WorkQueue"]
        assert state["resources"]["ApiFunction"] == "cobranza-ApiFunction"
    assert not state_path(stack_project).exists()


def _watch_api_and_state(api_port: int, path: Path, until: threading.Event) -> list[str]:
    """Check, until `until` is set, that the state file exists whenever the API port answers.
    Race-free in both directions: the file is read *after* a connection succeeded while starting,
    and a connection is tried *after* the file was found absent while stopping."""
    problems = []
    while not until.is_set():
        if not path.exists() and answers(api_port):
            problems.append("the API port answered after .local/stack.json had gone")
        time.sleep(0.001)  # a poll, to leave the stopping thread the interpreter
    return problems


def test_the_api_port_answers_only_when_the_stack_is_ready_and_the_state_file_exists(stack_project):
    aws_port, api_port = free_ports(2)
    path = state_path(stack_project)
    stack = LocalStack(stack_project, aws_port=aws_port, api_port=api_port, write_state_file=True)
    done = threading.Event()
    outcome: list = []

    def start() -> None:
        try:
            outcome.append(stack.start())
        except BaseException as exc:  # handed to the test
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=start, name="starting").start()
    while not answers(api_port):  # the first moment the port answers...
        assert not done.is_set() or outcome[0] is stack, outcome
        time.sleep(0.005)
    try:
        state = json.loads(path.read_text())  # ...the state file is there,
        assert state["api_endpoint"] == f"http://{HOST}:{api_port}" and state["pid"] == os.getpid()
        pids = stack.worker_pids()  # ...every worker has imported its handler,
        assert len(pids) == 3 + stack.api_workers
        with urllib.request.urlopen(f"http://{HOST}:{api_port}/v1/items", timeout=60) as response:
            assert response.status == 200  # ...and the first request is served.
        assert done.wait(60) and outcome == [stack]
    finally:
        done.wait(300)
        stopped = threading.Event()
        watcher: list = []
        thread = threading.Thread(target=lambda: watcher.extend(_watch_api_and_state(api_port, path, stopped)))
        thread.start()
        try:
            stack.stop()
        finally:
            stopped.set()
            thread.join()
    assert watcher == []
    assert not path.exists() and not answers(api_port)


HANGING_FUNCTION = """
  HangingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/hanging/
      Handler: app.handler
      Events:
        Hourly:
          Type: Schedule
          Properties:
            Schedule: rate(1 hour)
"""


@pytest.fixture
def hanging_project(stack_project: Path, tmp_path: Path) -> Path:
    """The stack project plus a function whose init never ends."""
    root = tmp_path / "hanging"
    for source in stack_project.rglob("*"):
        if source.is_file() and ".local" not in source.parts:
            target = root / source.relative_to(stack_project)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    template = (root / "template.yaml").read_text()
    (root / "template.yaml").write_text(template.replace("\n  ProbeApi:\n", HANGING_FUNCTION + "  ProbeApi:\n", 1))
    code = root / "functions" / "hanging" / "app.py"
    code.parent.mkdir(parents=True)
    code.write_text(textwrap.dedent("""
        import threading

        threading.Event().wait()  # an import that never finishes


        def handler(event, context):
            return "never"
    """))
    return root


def test_a_worker_that_is_never_ready_fails_the_start_with_its_name_and_nothing_is_left(hanging_project):
    aws_port, api_port = free_ports(2)
    before = child_pids()
    stack = LocalStack(hanging_project, aws_port=aws_port, api_port=api_port, write_state_file=True,
                       ready_timeout=3)
    done = threading.Event()
    outcome: list = []

    def start() -> None:
        try:
            stack.start()
        except BaseException as exc:  # handed to the test
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=start, name="starting").start()
    path = state_path(hanging_project)
    while not done.is_set():  # never ready, so never open
        assert not answers(api_port) and not path.exists()
        time.sleep(0.01)
    (error,) = outcome
    assert isinstance(error, TimeoutError)
    assert "not ready after 3 s" in str(error) and "HangingFunction" in str(error)
    assert not answers(aws_port) and not answers(api_port) and not path.exists()
    assert can_listen(aws_port) and can_listen(api_port)
    if before is not None:
        assert child_pids() <= before
