"""Cold import time of each function's handler module, beside a bare `import boto3`.

Each measurement is a fresh interpreter with the function's environment from template.yaml
(`python -X importtime`), repeated; the median is reported in milliseconds.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from infra.local.template import LocalTemplate

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 7


def _import_ms(code: str, cwd: Path, env: dict[str, str]) -> float:
    samples = []
    for _ in range(REPEATS):
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=cwd, env=env,
                                capture_output=True, text=True, check=True)
        last = result.stderr.strip().splitlines()[-1]
        samples.append(int(last.split("|")[1]) / 1000)
    return round(statistics.median(samples), 1)


def run() -> dict[str, float]:
    template = LocalTemplate(ROOT / "template.yaml")
    layer = ROOT / "layers" / "cobranza"
    figures = {}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_ENDPOINT"))}
    base_env.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    figures["boto3_ms"] = _import_ms("import boto3", ROOT, base_env)
    for logical_id, spec in sorted(template.functions.items()):
        env = dict(base_env, **template.function_environment(logical_id), PYTHONPATH=f"{layer}")
        figures[f"{logical_id}_ms"] = _import_ms("import app", Path(spec.code_dir), env)
    return figures
