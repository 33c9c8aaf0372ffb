"""In-process moto (``mock_aws``) serves DynamoDB requests one at a time, as the local server does.

moto's DynamoDB backend iterates live dicts (a Query walks a partition's items while a PutItem in
another thread adds one), so two requests at once can fail with ``dictionary changed size during
iteration``; the local server therefore serves DynamoDB one request at a time
(``moto_server`` docstring, point 2). In-process, each request runs in the thread that sent it:
ingestion sends new accounts' batches from several threads while it reads the stored accounts
page by page (``accounts.store.BatchWriter``), so the tests and benchmarks that run it on
``mock_aws`` take the same lock with ``dynamodb_one_at_a_time()``. Other services are not
serialised.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

_lock = threading.RLock()


def _is_dynamodb(request: Any) -> bool:
    target = request.headers.get("X-Amz-Target") or b""
    if isinstance(target, bytes):
        target = target.decode("ascii", "replace")
    return str(target).startswith("DynamoDB")


@contextmanager
def dynamodb_one_at_a_time() -> Iterator[None]:
    """While inside: every DynamoDB and DynamoDB Streams request moto answers in this process
    holds one lock (re-entrant: a request answered inside another is not blocked)."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request

    def process_request(self: Any, request: Any) -> Any:
        if not _is_dynamodb(request):
            return original(self, request)
        with _lock:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]
