"""The local stack driven as a user drives it: the admin command, the stock AWS CLI, HTTP.

SPEC §2-3 and §7: a CSV copied under portfolios/<tenant>/ with `aws s3 cp` becomes accounts
readable through the HTTP API with the tenant's key; unknown routes answer the error shape.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.helpers import ROOT, SAMPLES, needs_sample

#: The stock AWS CLI: on the PATH, else the one `make test` installs into .tools.
AWS_CLI = shutil.which("aws") or next((str(p) for p in [ROOT / ".tools" / "bin" / "aws"] if p.exists()), None)


@pytest.fixture(scope="module")
def stack():
    from infra.local.stack import LocalStack

    # Small parts, so that a file of a few hundred kilobytes goes through the parallel pipeline.
    with LocalStack(ROOT, aws_port=0, api_port=0, log_dir=ROOT / ".local" / "test-logs",
                    parameters={"IngestChunkBytes": 100_000}) as running:
        yield running


def admin(stack, *args):
    result = subprocess.run([sys.executable, "-m", "infra.admin", "--endpoint-url", stack.aws_endpoint, *args],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def get(stack, path, key=None):
    request = urllib.request.Request(stack.api_endpoint + path, headers={"x-api-key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def aws_cli(stack, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    env.pop("AWS_ENDPOINT_URL", None)
    result = subprocess.run([AWS_CLI, "--endpoint-url", stack.aws_endpoint, *args], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
@needs_sample(SAMPLES / "cartera_banco_cp1252.csv")
def test_a_file_copied_with_the_aws_cli_becomes_accounts_on_the_http_api(stack):
    lender = admin(stack, "tenant", "create", "banco-e2e", "--name", "Banco E2E", "--notify", "ops@banco.example")
    other = admin(stack, "tenant", "create", "otro-e2e")
    assert lender["api_key"].startswith("cbz_") and lender["tenant_id"] == "banco-e2e"

    aws_cli(stack, "s3", "cp", str(SAMPLES / "cartera_banco_cp1252.csv"),
            f"s3://{stack.bucket}/portfolios/banco-e2e/cartera banco.csv")  # a space: the key arrives URL-encoded
    stack.wait_idle(timeout=120)

    listing = aws_cli(stack, "s3", "ls", f"s3://{stack.bucket}/reports/banco-e2e/uploads/", "--recursive")
    summary_key = next(line.split()[-1] for line in listing.splitlines() if line.endswith("summary.json"))
    summary = json.loads(aws_cli(stack, "s3", "cp", f"s3://{stack.bucket}/{summary_key}", "-"))
    assert (summary["status"], summary["rows_accepted"], summary["rows_rejected"]) == ("succeeded", 37, 3)

    status, account = get(stack, "/v1/accounts/4000100", lender["api_key"])
    assert status == 200 and account["debtor_name"] == "Guadalupe Hernández Ruiz" and account["balance"] == "24199.52"
    assert get(stack, "/v1/accounts/4000100")[0] == 401
    assert get(stack, "/v1/accounts/4000100", other["api_key"])[0] == 404
    status, upload = get(stack, f"/v1/uploads/{summary['upload_id']}", lender["api_key"])
    assert status == 200 and upload["rows_total"] == 40


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_a_large_file_is_processed_in_parallel_parts_and_reported_once(stack, tmp_path):
    from infra.sample_data import write_portfolio
    from tests.helpers import local_today

    lender = admin(stack, "tenant", "create", "grande-e2e")
    path = tmp_path / "cartera grande.csv"
    write_portfolio(str(path), 3000, seed=11, as_of=local_today(), fmt="csv-cp1252")  # aged as of the stack's today
    assert path.stat().st_size > 5 * 100_000
    aws_cli(stack, "s3", "cp", str(path), f"s3://{stack.bucket}/portfolios/grande-e2e/{path.name}")
    stack.wait_idle(timeout=300)

    listing = aws_cli(stack, "s3", "ls", f"s3://{stack.bucket}/reports/grande-e2e/uploads/", "--recursive")
    summaries = [line.split()[-1] for line in listing.splitlines() if line.endswith("summary.json")]
    assert len(summaries) == 1
    summary = json.loads(aws_cli(stack, "s3", "cp", f"s3://{stack.bucket}/{summaries[0]}", "-"))
    assert (summary["status"], summary["encoding"], summary["rows_total"]) == ("succeeded", "cp1252", 3000)
    assert summary["rows_accepted"] + summary["rows_rejected"] == 3000 and summary["accounts_created"] == summary["rows_accepted"]
    parts = aws_cli(stack, "s3", "ls", f"s3://{stack.bucket}/work/grande-e2e/", "--recursive")
    assert sum("/runs/" in line for line in parts.splitlines()) >= 5, "the file was not split"
    status, upload = get(stack, f"/v1/uploads/{summary['upload_id']}", lender["api_key"])
    assert status == 200 and upload["rows_total"] == 3000
    status, page = get(stack, "/v1/accounts?limit=2", lender["api_key"])
    assert status == 200 and len(page["items"]) == 2


def test_unknown_routes_answer_the_error_shape(stack):
    status, body = get(stack, "/v1/nope")
    assert status == 404 and set(body["error"]) == {"code", "message", "details"}


def test_same_tenant_twice_is_refused(stack):
    admin(stack, "tenant", "create", "dup-e2e")
    result = subprocess.run([sys.executable, "-m", "infra.admin", "--endpoint-url", stack.aws_endpoint,
                             "tenant", "create", "dup-e2e"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1 and json.loads(result.stderr)["error"]["code"] == "tenant_exists"


def test_the_admin_commands_endpoint_url_goes_anywhere_on_the_line(stack):
    def run(*args):
        result = subprocess.run([sys.executable, "-m", "infra.admin", *args], capture_output=True, text=True,
                                cwd=ROOT, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    created = run("tenant", "create", "flags-e2e", "--name", "Flags E2E", "--endpoint-url", stack.aws_endpoint)
    another = run("tenant", "--endpoint-url", stack.aws_endpoint, "key", "flags-e2e")

    assert created["tenant_id"] == another["tenant_id"] == "flags-e2e"
    assert created["api_key"] != another["api_key"]
    for key in (created["api_key"], another["api_key"]):
        assert get(stack, "/v1/accounts?limit=1", key)[0] == 200
