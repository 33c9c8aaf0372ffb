"""Schemathesis against the local stack, as a new user would drive the API (SPEC §7).

The stack is started on free ports; a tenant, a portfolio, a field agent, a supervisor and a
visit are provisioned as a lender does it (the admin command, S3, Cognito sign-in, the API);
then Schemathesis runs ``--checks all`` against docs/openapi.yaml once per credential (the
tenant key, the agent's IdToken, the supervisor's IdToken), with a fixed seed and a bounded
number of examples per operation.

    python -m tests.local.product.api_fuzz [--max-examples N] [--seed S] [--keep]

prints the figures of each run (operations, test cases, failures by check); `--keep` leaves
the stack up afterwards for poking at it by hand. tests/local/product/test_api_fuzz.py runs the same
thing in `make test`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import ROOT

DOCUMENT = ROOT / "docs" / "openapi.yaml"
SEED = 20261206
MAX_EXAMPLES = 25
PASSWORD = "Fuzz2026seguro!"
TENANT = "fuzz"
PORTFOLIO = """cuenta,nombre,saldo,vencimiento,telefono,correo,estado,ciudad,cp,domicilio,latitud,longitud
FZ1,Fausto Campo,18000,2026-10-01,5512345678,fausto@example.com,CDMX,Cuauhtémoc,06700,Madero 10,19.4326,-99.1332
FZ2,Gina Campo,9000,2026-11-01,5512345679,,CDMX,Cuauhtémoc,06700,Bolívar 5,19.4350,-99.1380
FZ3,Hugo Campo,250,2027-01-15,,hugo@example.com,Jalisco,Guadalajara,44100,Juárez 1,,
"""


def schemathesis_command() -> list[str]:
    """The pinned `st` of the tools environment (make tools), else one on PATH."""
    local = ROOT / ".tools" / "bin" / "st"
    if local.exists():
        return [str(local)]
    found = shutil.which("st")
    if found is None:
        raise FileNotFoundError("schemathesis is not installed: run `make tools`")
    return [found]


@dataclass
class Credentials:
    tenant_key: str
    agent_token: str
    supervisor_token: str
    ids: dict[str, str] = field(default_factory=dict)


def _admin(stack: Any, *args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "infra.admin", "--endpoint-url", stack.aws_endpoint, *args],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"admin {' '.join(args[:2])} failed: {result.stderr}")
    return json.loads(result.stdout)


def _sign_in(stack: Any, agent: dict[str, Any]) -> str:
    answer = stack.client("cognito-idp").initiate_auth(
        ClientId=agent["client_id"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": agent["username"], "PASSWORD": PASSWORD})
    return str(answer["AuthenticationResult"]["IdToken"])


def _post(stack: Any, path: str, body: Any, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(stack.api_endpoint + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def provision(stack: Any) -> Credentials:
    """A lender with accounts, an agent, a supervisor and a visit, as the lender sets them up."""
    lender = _admin(stack, "tenant", "create", TENANT, "--name", "Financiera Fuzz", "--notify", "equipo@fuzz.example")
    stack.client("s3").put_object(Bucket=stack.bucket, Key=f"portfolios/{TENANT}/cartera.csv",
                                  Body=PORTFOLIO.encode("utf-8"))
    stack.wait_idle(timeout=180)
    agent = _admin(stack, "agent", "create", TENANT, "gestor@fuzz.example", "--password", PASSWORD,
                   "--home", "19.4400,-99.1400", "--zone", "CDMX")
    boss = _admin(stack, "agent", "create", TENANT, "jefa@fuzz.example", "--password", PASSWORD,
                  "--supervisor", "--home", "19.30,-99.20")
    key = lender["api_key"]
    visit = _post(stack, "/v1/visits", {"account_id": "FZ1"}, {"x-api-key": key})
    stack.wait_idle(timeout=60)
    return Credentials(tenant_key=key, agent_token=_sign_in(stack, agent), supervisor_token=_sign_in(stack, boss),
                       ids={"account_id": "FZ1", "visit_id": visit["visit_id"], "agent_id": agent["agent_id"]})


@dataclass
class RunFigures:
    credential: str
    exit_code: int
    seconds: float
    operations: int = 0
    test_cases: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    output: str = ""
    samples: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        failures = ", ".join(f"{k}: {v}" for k, v in sorted(self.failures.items())) or "none"
        return (f"{self.credential}: {self.operations} operations, {self.test_cases} test cases, "
                f"failures by check: {failures}; errors {self.errors}; {self.seconds:.0f} s (exit {self.exit_code})")


def _figures(ndjson: Path, figures: RunFigures) -> None:
    """Operations, test cases and distinct failures by check (a check failing on one operation
    for one reason counts once) from Schemathesis's NDJSON event stream."""
    operations: set[str] = set()
    failures: dict[str, set[tuple[str, str]]] = {}
    for raw in ndjson.read_text(encoding="utf-8").splitlines():
        event = json.loads(raw)
        for kind, body in event.items():
            if kind == "ScenarioFinished":
                recorder = body.get("recorder") or {}
                label = str(recorder.get("label") or "")
                if label.startswith(("GET ", "POST ", "PUT ", "DELETE ", "PATCH ")):
                    operations.add(label)
                figures.test_cases += len(recorder.get("cases") or {})
                for case_id, case_checks in (recorder.get("checks") or {}).items():
                    for check in case_checks:
                        if str(check.get("status", "")).lower() != "success":
                            info = check.get("failure_info") or {}
                            failure = info.get("failure") if isinstance(info.get("failure"), dict) else {}
                            reason = str(failure.get("title") or failure.get("message") or "")[:200]
                            failures.setdefault(check["name"], set()).add((label, reason))
                            figures.samples.setdefault(f"{check['name']} | {label} | {reason}",
                                                       _sample(body, case_id))
            elif kind == "NonFatalError":
                figures.errors += 1
    figures.operations = len(operations)
    figures.failures = {name: len(found) for name, found in failures.items()}


def _sample(body: dict[str, Any], case_id: str) -> str:
    """The request and response of a failing case, shortened, to read what went wrong."""
    interaction = ((body.get("recorder") or {}).get("interactions") or {}).get(case_id) or {}
    request, response = interaction.get("request") or {}, interaction.get("response") or {}
    import base64

    def text(part: dict[str, Any], key: str) -> str:
        raw = (part.get(key) or {}).get("$base64") if isinstance(part.get(key), dict) else None
        return base64.b64decode(raw).decode("utf-8", "replace")[:300] if raw else ""

    return (f"{request.get('method')} {str(request.get('uri'))[:300]} body={text(request, 'body')!r} -> "
            f"{response.get('status_code')} {text(response, 'content')!r}")


CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Each run: the credential it holds (the security scheme of docs/openapi.yaml) and the tags of the
#: operations it drives. The signed-link routes need no credential and go with the tenant's run.
RUNS = {
    "tenant-key": ("tenantApiKey", ["accounts", "uploads", "payments", "calls", "alarms", "reports", "policy", "visits",
                                    "agents", "self-service", "photos"]),
    "agent": ("agentJwt", ["field-agent", "visits", "agents"]),
    "supervisor": ("agentJwt", ["field-agent", "visits", "agents", "accounts", "alarms", "reports"]),
}


def _config(report_dir: Path, credential: str, scheme: str, secret: str) -> Path:
    """schemathesis.toml with the run's credential, as Schemathesis's OpenAPI-aware auth (so its
    ignored_auth check can take it away and forge it)."""
    value = f'api_key = "{secret}"' if scheme == "tenantApiKey" else f'bearer = "{secret}"'
    path = report_dir / f"{credential}.toml"
    path.write_text(CONFIG.read_text(encoding="utf-8") + f"\n[auth.openapi.{scheme}]\n{value}\n", encoding="utf-8")
    return path


def run(stack: Any, credential: str, secret: str, report_dir: Path, *, seed: int = SEED,
        max_examples: int = MAX_EXAMPLES, extra: list[str] | None = None) -> RunFigures:
    report_dir.mkdir(parents=True, exist_ok=True)
    scheme, tags = RUNS[credential]
    ndjson = report_dir / f"{credential}.ndjson"
    command = [*schemathesis_command(), "--config-file", str(_config(report_dir, credential, scheme, secret)),
               "run", str(DOCUMENT), "--url", stack.api_endpoint,
               "--checks", "all", "--seed", str(seed), "--max-examples", str(max_examples),
               "--workers", "2", "--no-color", "--report", "ndjson,junit",
               "--report-ndjson-path", str(ndjson), "--report-junit-path", str(report_dir / f"{credential}.xml"),
               "--request-timeout", "60", *(arg for tag in tags for arg in ("--include-tag", tag)), *(extra or [])]
    started = time.perf_counter()
    env = dict(os.environ, NO_COLOR="1")
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
    figures = RunFigures(credential, result.returncode, time.perf_counter() - started,
                         output=result.stdout + result.stderr)
    if ndjson.exists():
        _figures(ndjson, figures)
    return figures


def run_all(stack: Any, credentials: Credentials, report_dir: Path, only: str | None = None,
            **options: Any) -> list[RunFigures]:
    secrets = {"tenant-key": credentials.tenant_key, "agent": credentials.agent_token,
               "supervisor": credentials.supervisor_token}
    return [run(stack, name, secret, report_dir, **options) for name, secret in secrets.items()
            if only in (None, name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.local.product.api_fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--report-dir", type=Path, default=ROOT / ".local" / "schemathesis")
    parser.add_argument("--only", choices=["tenant-key", "agent", "supervisor"])
    parser.add_argument("--keep", action="store_true", help="keep the stack up until Ctrl-C")
    parser.add_argument("extra", nargs="*", help="more schemathesis options (after --)")
    args = parser.parse_args(argv)
    from infra.local.stack import LocalStack

    with LocalStack(ROOT, aws_port=0, api_port=0, log_dir=ROOT / ".local" / "fuzz-logs") as stack:
        credentials = provision(stack)
        print(f"stack: {stack.api_endpoint} (aws {stack.aws_endpoint}); ids {credentials.ids}", flush=True)
        runs = run_all(stack, credentials, args.report_dir, args.only, seed=args.seed,
                       max_examples=args.max_examples, extra=args.extra)
        for figures in runs:
            print(figures.line())
            for failure, sample in figures.samples.items():
                print(f"  {failure}\n      {sample}")
        if args.keep:
            print(json.dumps({"api": stack.api_endpoint, "key": credentials.tenant_key,
                              "agent": credentials.agent_token, "supervisor": credentials.supervisor_token}))
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0 if all(f.exit_code == 0 for f in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
