"""portfolio.snapshots: a snapshot's as-of date, and which one is stale."""
from datetime import date, datetime, timezone

import pytest

from cobranza.portfolio import snapshots

STORED = datetime(2026, 12, 1, 5, 0, tzinfo=timezone.utc)  # 23:00 on Nov 30 in Mexico City


@pytest.mark.parametrize("name, expected", [
    ("cartera_2026-11-30.csv", date(2026, 11, 30)), ("cartera_20261130.xlsx", date(2026, 11, 30)),
    ("corte 30-11-2026.csv", date(2026, 11, 30)), ("Cartera_30_11_2026.csv.gz", date(2026, 11, 30)),
    ("cartera_2026.11.30.csv", date(2026, 11, 30)), ("cartera.csv", None), ("cartera_20261331.csv", None),
    ("up_20261130aaaaaaaaaaaa-cartera.csv", None),  # an upload id's hex digits are not a date
    ("up_0123456789abcdef0123-cartera_2026-11-15.csv", date(2026, 11, 15)),
    ("lote_123456789.csv", None),
])
def test_the_date_in_a_file_name(name, expected):
    assert snapshots.date_in_name(name) == expected


def test_the_column_then_the_name_then_the_stored_time_in_the_tenants_zone():
    assert snapshots.snapshot_as_of("30/11/2026", "c_2026-11-01.csv", STORED, "America/Mexico_City") == (
        date(2026, 11, 30), "column")
    assert snapshots.snapshot_as_of("no es fecha", "c_2026-11-01.csv", STORED, "America/Mexico_City") == (
        date(2026, 11, 1), "file_name")
    assert snapshots.snapshot_as_of(None, "cartera.csv", STORED, "America/Mexico_City") == (
        date(2026, 11, 30), "stored_at")


def test_only_a_strictly_older_snapshot_is_stale():
    assert snapshots.is_stale(date(2026, 11, 15), "2026-11-30")
    assert not snapshots.is_stale(date(2026, 11, 30), "2026-11-30")
    assert not snapshots.is_stale(date(2026, 12, 1), "2026-11-30")
    assert not snapshots.is_stale(date(2026, 11, 1), None)


def test_the_as_of_column_is_found_by_its_normalised_name():
    assert snapshots.as_of_column(["cuenta", None, "fecha_corte"]) == 2
    assert snapshots.as_of_column(["cuenta", "saldo"]) is None
