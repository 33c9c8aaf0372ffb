"""`.local/stack.json`: how other commands (the admin CLI, `invoke`) find a running local stack."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_FILE = Path(".local") / "stack.json"


class NoRunningStack(RuntimeError):
    """No local stack is running for this project."""


def state_path(root: Path) -> Path:
    return Path(root) / STATE_FILE


def write_state(root: Path, state: dict[str, Any]) -> Path:
    """Write atomically, so a reader never sees half a file."""
    path = state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def remove_state(root: Path, pid: int | None = None) -> None:
    """Remove the file, only if it is ours (`pid`), so a second stack cannot erase the first's."""
    path = state_path(root)
    try:
        if pid is not None and json.loads(path.read_text(encoding="utf-8")).get("pid") != pid:
            return
        path.unlink()
    except (FileNotFoundError, ValueError):
        pass


def read_state(root: Path) -> dict[str, Any]:
    """The running stack's state; raises NoRunningStack when there is none (or it died)."""
    path = state_path(root)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoRunningStack(
            f"no local stack is running ({path} not found); start one with `make serve`"
        ) from None
    except ValueError as exc:
        raise NoRunningStack(f"{path} is unreadable: {exc}") from None
    if not _alive(state.get("pid")):
        raise NoRunningStack(f"the local stack in {path} (pid {state.get('pid')}) is not running any more")
    return state


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
