"""The one AWS client factory.

Every AWS call of the platform goes through clients made here, all from one botocore session,
so a single hook counts every HTTP request sent (benchmarks and tests read ``request_counts``).
PynamoDB is given the same session, so DynamoDB calls made through models are counted too.
Endpoints come from botocore's own ``AWS_ENDPOINT_URL`` support: handlers never know whether
they run against AWS or the local stack.
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

request_counts: Counter[str] = Counter()
_lock = threading.Lock()
_session: botocore.session.Session | None = None
_boto3_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=32,
)


def _count(event_name: str, **_: Any) -> None:
    # event_name is "before-send.<service>.<Operation>"
    _, service, operation = event_name.split(".", 2)
    request_counts[f"{service}.{operation}"] += 1


def botocore_session() -> botocore.session.Session:
    """The process-wide botocore session, with the request counter registered once."""
    global _session, _boto3_session
    if _session is None:
        with _lock:
            if _session is None:
                session = botocore.session.get_session()
                session.register("before-send.*.*", _count)
                _boto3_session = boto3.session.Session(botocore_session=session)
                _session = session
    return _session


def client(service: str) -> Any:
    """A cached boto3 client for ``service`` (thread-safe to use once created)."""
    found = _clients.get(service)
    if found is None:
        botocore_session()
        with _lock:
            found = _clients.get(service)
            if found is None:
                assert _boto3_session is not None
                found = _boto3_session.client(service, config=_CONFIG)
                _clients[service] = found
    return found


def reset() -> None:
    """Forget cached clients and counts (tests switch endpoints between cases)."""
    global _session, _boto3_session
    with _lock:
        _clients.clear()
        request_counts.clear()
        _session = None
        _boto3_session = None
