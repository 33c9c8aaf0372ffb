"""Accepted rows spilled to sorted runs on disk come back merged, in order, exactly as they went in."""
import io
import random
from decimal import Decimal

from cobranza.accounts.store import placement
from cobranza.portfolio import runs
from cobranza.portfolio.ingest import header_of
from cobranza.portfolio.readers import open_portfolio
from cobranza.portfolio.reports import ProblemLog
from cobranza.portfolio.runs import ItemSpool, SortedRuns
from cobranza.portfolio.steps import Job, Tally, validate_rows
from cobranza.tenants.policy import effective_policy
from infra.sample_data import write_portfolio


def _accepted(path, run_size):
    """(placement, row_number, (row_hash, facts)) of every accepted row, merged, and the runs spilled."""
    job = Job("t1", "up1", "bucket", "portfolios/t1/x.csv", "", "snapshot", "America/Mexico_City",
              effective_policy(None), "2026-11-23", "2026-11-23T15:00:00Z")
    with open(path, "rb") as fh, SortedRuns(run_size) as rows:
        portfolio = open_portfolio(fh, str(path))
        validate_rows(job, header_of(portfolio), portfolio.records, rows.add, Tally(), ProblemLog())
        return list(rows.merged()), len(rows._files)


def test_rows_spilled_to_many_runs_merge_to_what_memory_holds(tmp_path):
    path = tmp_path / "portfolio.csv"
    write_portfolio(path, 900, seed=7)
    in_memory, none_spilled = _accepted(path, 10_000)
    merged, spilled = _accepted(path, 64)
    assert none_spilled == 0 and spilled == 14
    assert merged == in_memory  # facts equal value for value
    assert [(e[0], e[1]) for e in merged] == sorted((e[0], e[1]) for e in merged)
    assert len(merged) > 800
    assert all(type(e[2][1]["balance"]) is Decimal for e in merged)


def test_sorted_runs_merge_in_key_order():
    rng = random.Random(5)
    entries = [((placement(f"A{rng.randrange(10_000)}"), n), {"n": n}) for n in range(500)]
    with SortedRuns(37) as sorted_runs:
        for key, item in entries:
            sorted_runs.add(key, item)
        assert len(sorted_runs._files) == 13
        merged = list(sorted_runs.merged())
    assert merged == sorted((*key, item) for key, item in entries)


def test_records_are_read_back_in_chunks_one_by_one():
    records = [[n] if n % 3 else {"a": Decimal(n) / 4, "big": "x" * n} for n in range(runs.CHUNK * 2 + 5)]
    buffer = io.BytesIO()
    for start in range(0, len(records), runs.CHUNK):
        runs._write_chunk(buffer, records[start:start + runs.CHUNK])
    buffer.seek(0)
    read = runs._read_records(buffer)
    assert next(read) == records[0]
    assert buffer.tell() < len(buffer.getvalue()) / 2  # one chunk read, not the file
    assert [records[0], *read] == records


def test_a_spool_gives_back_its_items_in_order_however_many():
    for count in (0, 1, runs.CHUNK - 1, runs.CHUNK, runs.CHUNK * 3 + 7):
        with ItemSpool() as spool:
            items = [{"account_id": f"A{n}", "balance": Decimal(n)} for n in range(count)]
            for item in items:
                spool.add(item)
            assert spool.count == count
            assert list(spool) == items
            assert list(spool) == items  # read again from the start
            spool.add({"account_id": "late"})
            assert list(spool) == [*items, {"account_id": "late"}]


def test_a_spool_read_in_part_then_added_to_keeps_every_item():
    with ItemSpool() as spool:
        items = [{"n": n} for n in range(runs.CHUNK * 2 + 3)]
        for item in items:
            spool.add(item)
        for seen, _ in zip(spool, range(3)):  # a reader that stops early (a failure, a break)
            assert seen == items[0]
            break
        late = [{"n": "late", "i": i} for i in range(runs.CHUNK + 1)]
        for item in late:
            spool.add(item)
        assert list(spool) == items + late
