"""Functions run like warm Lambda containers: environment, context, errors, timeouts, `invoke` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_a_function_sees_the_lambda_environment_and_context(stack, stack_project, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "a-real-account")  # must never reach a handler
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")

    result = stack.invoke("ToolFunction", {})  # first invoke: a worker is started for it now

    env = result["env"]
    assert env["AWS_ENDPOINT_URL"] == stack.aws_endpoint
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert (env["AWS_DEFAULT_REGION"], env["AWS_REGION"]) == ("us-east-1", "us-east-1")
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "cobranza-ToolFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "384"
    assert (env["POWERTOOLS_TRACE_DISABLED"], env["COBRANZA_LOCAL"], env["TZ"]) == ("true", "1", "UTC")
    assert env["PROBE_QUEUE_URL"] == stack.names["ProbeQueue"]
    assert env["FILES_BUCKET"] == stack.bucket and env["STAGE"] == "cobranza"
    code_dir = stack_project / "functions" / "tool"
    assert result["sys_path"] == [str(code_dir), str(stack_project / "layer"), str(stack_project)]
    assert result["cwd"] == str(code_dir)
    context = result["context"]
    assert context["function_name"] == "cobranza-ToolFunction" and context["memory_limit_in_mb"] == 384
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:cobranza-ToolFunction"
    assert context["aws_request_id"] and 0 < context["remaining_ms"] <= 2000


def test_a_handler_error_is_a_lambda_error_result_and_the_container_stays_warm(stack):
    warm_pid = stack.invoke("ToolFunction", {})["pid"]

    error = stack.invoke("ToolFunction", {"action": "raise"})

    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "asked to fail")
    assert "functions/tool/app.py" in error["stackTrace"][0]  # the runtime's own frames are hidden
    assert stack.invoke_result("ToolFunction", {}).function_error is None
    assert stack.invoke("ToolFunction", {})["pid"] == warm_pid


def test_a_timeout_or_a_crash_ends_the_container_and_the_next_invoke_starts_a_new_one(stack):
    first_pid = stack.invoke("ToolFunction", {})["pid"]

    timed_out = stack.invoke("ToolFunction", {"action": "sleep", "seconds": 30})
    assert timed_out["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in timed_out["errorMessage"]
    second_pid = stack.invoke("ToolFunction", {})["pid"]
    assert second_pid != first_pid

    crashed = stack.invoke_result("ToolFunction", {"action": "exit"})
    assert crashed.function_error == "Unhandled" and crashed.payload["errorType"] == "Runtime.ExitError"
    assert stack.invoke("ToolFunction", {})["pid"] not in (first_pid, second_pid)


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.local", *args], capture_output=True, text=True,
                          input=stdin, cwd=REPO_ROOT, timeout=60)


def test_the_invoke_command_runs_a_function_once_against_the_running_stack(stack, stack_project, tmp_path):
    event_file = tmp_path / "event.json"
    event_file.write_text('{"action": "raise"}', encoding="utf-8")

    failed = run_cli("invoke", "ToolFunction", "--event", str(event_file), "--root", str(stack_project))
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["errorType"] == "ValueError"
    assert "[ERROR] ValueError: asked to fail" in failed.stderr  # logs go to stderr

    scheduled = run_cli("invoke", "ScheduleFunction", "--root", str(stack_project))
    assert scheduled.returncode == 0, scheduled.stderr
    result = json.loads(scheduled.stdout)
    assert result["function"] == "cobranza-ScheduleFunction" and result["time"].endswith("Z")

    ok = run_cli("invoke", "ToolFunction", "--event", "-", "--root", str(stack_project), stdin="{}")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["env"]["AWS_ENDPOINT_URL"] == stack.aws_endpoint


def test_the_invoke_command_says_when_no_stack_is_running(tmp_path):
    (tmp_path / "template.yaml").write_text("Resources: {}\n", encoding="utf-8")

    result = run_cli("invoke", "AnyFunction", "--root", str(tmp_path))

    assert result.returncode == 2
    assert "no local stack is running" in result.stderr and result.stdout == ""
