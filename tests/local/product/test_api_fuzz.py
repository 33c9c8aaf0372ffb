"""SPEC §7 as a new user finds it: Schemathesis, every check, against the running local stack.

For the tenant key, an agent's token and a supervisor's token in turn, Schemathesis generates
valid and invalid requests for every documented operation (fixed seed, a bounded number of
examples per operation) and checks every answer: no 5xx, every status, header, content type and
body as docs/openapi.yaml says, valid data accepted, invalid data refused, authentication
enforced. tests/local/product/schemathesis.toml lists the few documented exceptions, with their reasons.
`python -m tests.local.product.api_fuzz` runs the same by hand and prints each failure.
"""
from __future__ import annotations

import pytest

from tests.helpers import ROOT
from tests.local.product import api_fuzz

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack():
    from infra.local.stack import LocalStack

    with LocalStack(ROOT, aws_port=0, api_port=0, log_dir=ROOT / ".local" / "test-logs-fuzz") as running:
        yield running


@pytest.fixture(scope="module")
def credentials(stack):
    return api_fuzz.provision(stack)


@pytest.mark.parametrize("credential", list(api_fuzz.RUNS))
def test_schemathesis_finds_no_failure_of_any_check(stack, credentials, credential, tmp_path):
    secret = {"tenant-key": credentials.tenant_key, "agent": credentials.agent_token,
              "supervisor": credentials.supervisor_token}[credential]
    figures = api_fuzz.run(stack, credential, secret, tmp_path)
    report = "\n".join(f"{failure}\n    {sample}" for failure, sample in figures.samples.items())
    assert figures.operations > 0 and figures.test_cases > 0, figures.output[-3000:]
    assert figures.failures == {} and figures.errors == 0, f"{figures.line()}\n{report}\n{figures.output[-3000:]}"
    assert figures.exit_code == 0, figures.output[-3000:]
