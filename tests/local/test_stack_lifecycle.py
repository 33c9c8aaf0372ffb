"""Starting and stopping: no orphan processes, ports released, one stack per process, stack.json."""

from __future__ import annotations

import json
import os
import socket

import pytest

from infra.local.stack import LocalStack
from infra.local.state import state_path


def port_is_free(port: int) -> bool:
    with socket.socket() as probe_socket:
        try:
            probe_socket.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stop_ends_every_worker_and_frees_the_ports_for_a_second_start(stack_project):
    first = LocalStack(stack_project, aws_port=0, api_port=0).start()
    try:
        aws_port = int(first.aws_endpoint.rsplit(":", 1)[1])
        api_port = int(first.api_endpoint.rsplit(":", 1)[1])
        pids = first.worker_pids()
        assert len(pids) == 3 + first.api_workers  # one per function with events, a pool for the API
        assert all(process_exists(pid) for pid in pids)
    finally:
        first.stop()
    assert not any(process_exists(pid) for pid in pids)
    assert port_is_free(aws_port) and port_is_free(api_port)

    with LocalStack(stack_project, aws_port=aws_port, api_port=api_port) as second:
        assert second.aws_endpoint == f"http://127.0.0.1:{aws_port}"
        assert second.client("s3").list_objects_v2(Bucket=second.bucket)["KeyCount"] == 0  # fresh state
        result = second.invoke("ScheduleFunction", {"time": "t"})
        assert result == {"time": "t", "function": "cobranza-ScheduleFunction"}


def test_one_stack_per_process_and_a_busy_port_is_a_clear_error(stack_project):
    with LocalStack(stack_project, aws_port=0, api_port=0) as running:
        with pytest.raises(RuntimeError, match="already running in this process"):
            LocalStack(stack_project, aws_port=0, api_port=0).start()
        busy_port = int(running.aws_endpoint.rsplit(":", 1)[1])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(OSError, match="cannot start the moto server"):
            LocalStack(stack_project, aws_port=holder.getsockname()[1], api_port=0).start()
    assert busy_port


def test_the_state_file_describes_the_running_stack_and_goes_away_with_it(stack_project):
    with LocalStack(stack_project, aws_port=0, api_port=0, write_state_file=True) as running:
        state = json.loads(state_path(stack_project).read_text())
        assert state["aws_endpoint"] == running.aws_endpoint and state["api_endpoint"] == running.api_endpoint
        assert (state["stack_name"], state["region"], state["account_id"]) == ("cobranza", "us-east-1", "123456789012")
        assert state["bucket"] == "cobranza-files-123456789012" and state["pid"] == os.getpid()
        assert state["resources"]["WorkQueue"] == running.names["WorkQueue"]
        assert state["resources"]["ApiFunction"] == "cobranza-ApiFunction"
    assert not state_path(stack_project).exists()
