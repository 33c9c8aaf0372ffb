"""accounts.store.BatchWriter: new accounts' batches are sent by several threads while the next
are built; flush waits for every one, counts what was written and raises a failed batch's error."""
from __future__ import annotations

import threading
import time

import pytest

from cobranza.accounts import store


class _Slow:
    """A DynamoDB client whose BatchWriteItem waits until released, recording how many ran at once."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = self.most = self.calls = 0
        self.items: list[str] = []
        self.fail_on = fail_on

    def batch_write_item(self, RequestItems):  # noqa: N803  # boto3's parameter name
        with self.lock:
            self.calls += 1
            call = self.calls
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(10)
        with self.lock:
            self.running -= 1
            if call == self.fail_on:
                raise ConnectionError("network gone")
            self.items += [r["PutRequest"]["Item"]["account_id"]["S"] for r in RequestItems["t"]]
        return {"UnprocessedItems": {}}


def _release_when_running(client: _Slow, count: int) -> None:
    """Lets the requests answer once ``count`` of them are waiting at once (or after 10 s)."""
    deadline = time.monotonic() + 10
    while client.running < count and time.monotonic() < deadline:
        time.sleep(0.01)
    client.release.set()


def _account(n: int) -> dict:
    return {"tenant_id": "acme", "account_id": f"A{n:05d}", "balance": 10}


def test_batches_go_out_side_by_side_and_flush_waits_for_every_one(monkeypatch):
    client = _Slow()
    monkeypatch.setattr(store.aws, "bulk_client", lambda service: client)
    writer = store.BatchWriter(table="t")
    for n in range(store.BATCH_SIZE * store.PUT_THREADS):
        writer.put(_account(n))  # returns although no batch has been answered
    assert writer.written == 0
    threading.Thread(target=_release_when_running, args=(client, store.PUT_THREADS)).start()
    with writer:
        for n in range(store.BATCH_SIZE * store.PUT_THREADS, 230):
            writer.put(_account(n))
    assert client.most == store.PUT_THREADS
    assert writer.written == 230
    assert sorted(client.items) == [f"A{n:05d}" for n in range(230)]


def test_a_failed_batch_is_raised_by_flush(monkeypatch):
    client = _Slow(fail_on=2)
    client.release.set()
    monkeypatch.setattr(store.aws, "bulk_client", lambda service: client)
    with pytest.raises(ConnectionError), store.BatchWriter(table="t") as writer:
        for n in range(100):
            writer.put(_account(n))


def test_unprocessed_items_are_sent_again_after_a_pause_until_none_is_left(monkeypatch):
    class Throttled:
        def __init__(self) -> None:
            self.lock, self.sent, self.refused = threading.Lock(), [], 0

        def batch_write_item(self, RequestItems):  # noqa: N803  # boto3's parameter name
            batch = RequestItems["t"]
            with self.lock:
                keep = batch[: len(batch) // 2] if self.refused < 3 else batch
                self.refused += len(keep) < len(batch)
                self.sent += [r["PutRequest"]["Item"]["account_id"]["S"] for r in keep]
            rest = batch[len(keep):]
            return {"UnprocessedItems": {"t": rest} if rest else {}}

    client, pauses = Throttled(), []
    monkeypatch.setattr(store.aws, "bulk_client", lambda service: client)
    with store.BatchWriter(table="t", sleep=pauses.append) as writer:
        for n in range(60):
            writer.put(_account(n))
    assert writer.written == 60
    assert sorted(client.sent) == [f"A{n:05d}" for n in range(60)]
    assert len(pauses) == 3 and all(0 < p <= 5 for p in pauses)
