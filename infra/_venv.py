"""Re-run a command-line module under the project's virtualenv when needed.

Users type `python -m infra.local serve` (or `python -m infra.admin ...`) with whatever `python` their
shell finds. When that interpreter lacks the project's dependencies but `<repo>/.venv/bin/python`
exists, re-executing the same command with it is friendlier than an ImportError. The check uses
`importlib.util.find_spec`, which costs nothing when the dependencies are present.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv"
_REEXEC_MARKER = "COBRANZA_VENV_REEXEC"


def ensure_venv(module: str, required: Iterable[str] = ("boto3",)) -> None:
    """Run under the project's venv: re-exec `python -m module` with `.venv/bin/python` whenever
    that venv exists and is not the running interpreter (a system Python may have some of the
    packages at other versions, which is worse than not having them). Without a venv, check that
    `required` modules import and explain how to get one if not.
    """
    venv_python = VENV_DIR / "bin" / "python"
    if _running_in_venv() or os.environ.get(_REEXEC_MARKER):
        return
    if not venv_python.exists():
        missing = [name for name in required if importlib.util.find_spec(name) is None]
        if missing:
            raise SystemExit(
                f"python -m {module}: missing {', '.join(missing)} in {sys.executable}. "
                "Run `make venv` and use .venv/bin/python (or `make serve` / `make demo`)."
            )
        return
    env = dict(os.environ)
    env[_REEXEC_MARKER] = "1"
    wanted = [str(REPO_ROOT), str(REPO_ROOT / "layers" / "cobranza")]
    current = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in wanted]
    env["PYTHONPATH"] = os.pathsep.join(wanted + current)
    argv = [str(venv_python), "-m", module, *sys.argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(str(venv_python), argv, env)  # nosec B606  # re-runs this command in the project's venv, no shell


def _running_in_venv() -> bool:
    try:
        return Path(sys.prefix).resolve() == VENV_DIR.resolve()
    except OSError:
        return False
