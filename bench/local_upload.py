"""A lender's upload against a running `make serve`, timed end to end with the stock AWS CLI.

    make serve                                   # in another terminal
    .venv/bin/python -m bench.local_upload --rows 200000 --format csv
    .venv/bin/python -m bench.local_upload --rows 200000 --format xlsx

Generates the portfolio (``infra.sample_data``), copies it with ``aws s3 cp`` to
``portfolios/<tenant>/`` (the CLI sends a file over 8 MB as a multipart upload), and waits for
the upload's final ``summary.json``. Prints the time from the copy's start to that summary, the
summary's counts and how many upload records the copy created (read with ``aws dynamodb
query``: one object version must be one upload). The tenant is created first with the admin
command if it does not exist. Nothing here calls the platform's code: only the interfaces a
lender has.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess  # nosec B404  # runs the AWS CLI and the admin command, fixed argument lists
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from infra.local.state import read_state
from infra.sample_data import write_portfolio

ROOT = Path(__file__).resolve().parents[1]
FINAL = {"succeeded", "failed"}


def aws_cli() -> str:
    local = ROOT / ".tools" / "bin" / "aws"
    found = str(local) if local.exists() else shutil.which("aws")
    if not found:
        raise SystemExit("the AWS CLI is needed: `make tools` installs one in .tools/bin/aws")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_upload", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--format", choices=["csv", "xlsx", "csv.gz"], default="csv")
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the summary")
    args = parser.parse_args(argv)

    state = read_state(ROOT)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",  # nosec B105  # local stack
           "AWS_DEFAULT_REGION": state["region"]}
    aws = [aws_cli(), "--endpoint-url", state["aws_endpoint"], "--output", "json"]

    def cli(*command: str) -> Any:
        out = subprocess.run([*aws, *command], env=env, check=True, capture_output=True, text=True).stdout  # nosec B603
        return json.loads(out) if out.strip() else None

    subprocess.run([sys.executable, "-m", "infra.admin", "tenant", "create", args.tenant,  # nosec B603
                    "--endpoint-url", state["aws_endpoint"]], env=env, cwd=ROOT, capture_output=True)
    uploads_table = state["resources"]["UploadsTable"]
    before = _upload_ids(cli, uploads_table, args.tenant)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"cartera.{args.format}"
        made = write_portfolio(path, args.rows, seed=args.seed, as_of=date.today(), fmt=args.format)
        key = f"portfolios/{args.tenant}/cartera_{time.strftime('%Y%m%dT%H%M%S')}.{args.format}"
        print(f"[local_upload] {args.rows} rows, {made['bytes'] / 1e6:.1f} MB {args.format}: aws s3 cp to s3://{state['bucket']}/{key}",
              flush=True)
        started = time.monotonic()
        subprocess.run([*aws, "s3", "cp", str(path), f"s3://{state['bucket']}/{key}", "--only-show-errors"],  # nosec B603
                       env=env, check=True)
        copied = time.monotonic() - started

    summary, new = None, set()
    while time.monotonic() - started < args.timeout:
        new = _upload_ids(cli, uploads_table, args.tenant) - before
        for upload_id in new:
            try:
                summary = cli("s3api", "get-object-attributes", "--bucket", state["bucket"],
                              "--key", f"reports/{args.tenant}/uploads/{upload_id}/summary.json", "--object-attributes", "ObjectSize")
            except subprocess.CalledProcessError:
                continue
            with tempfile.NamedTemporaryFile() as out:
                cli("s3api", "get-object", "--bucket", state["bucket"],
                    "--key", f"reports/{args.tenant}/uploads/{upload_id}/summary.json", out.name)
                summary = json.loads(Path(out.name).read_text())
            if summary.get("status") in FINAL:
                break
            summary = None
        if summary:
            break
        time.sleep(2)
    elapsed = time.monotonic() - started
    time.sleep(5)  # any late, extra upload record would show up meanwhile
    records = len(_upload_ids(cli, uploads_table, args.tenant) - before)
    figures = {"rows": args.rows, "format": args.format, "bytes": made["bytes"], "copy_seconds": round(copied, 1),
               "seconds_to_summary": round(elapsed, 1) if summary else None, "upload_records": records,
               "summary": {k: summary.get(k) for k in ("status", "rows_total", "rows_accepted", "rows_rejected",
                                                       "accounts_created", "error")} if summary else None}
    print(json.dumps(figures, indent=2))
    return 0 if summary and summary["status"] == "succeeded" and records == 1 else 1


def _upload_ids(cli: Any, table: str, tenant_id: str) -> set[str]:
    found = cli("dynamodb", "query", "--table-name", table, "--key-condition-expression", "tenant_id = :t",
                "--expression-attribute-values", json.dumps({":t": {"S": tenant_id}}),
                "--projection-expression", "upload_id")
    return {item["upload_id"]["S"] for item in found.get("Items", [])}


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
