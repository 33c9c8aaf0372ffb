"""The local stack: `template.yaml` run on moto, no Docker (see `stack.py`, `python -m infra.local`).

Exports are lazy so that importing this package (as every worker process does) costs nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalStack", "LocalTemplate", "create_resources"]


def __getattr__(name: str) -> Any:
    if name == "LocalStack":
        from infra.local.stack import LocalStack

        return LocalStack
    if name == "LocalTemplate":
        from infra.local.template import LocalTemplate

        return LocalTemplate
    if name == "create_resources":
        from infra.local.resources import create_resources

        return create_resources
    raise AttributeError(f"module 'infra.local' has no attribute {name!r}")
