"""SPEC §3: the newest full snapshot decides, whatever order the files arrive in.

Given a snapshot as of 2026-11-30 already applied, when the lender's older export (as of
2026-11-15) is copied in later, then it ends `failed` with `stale_snapshot`, rolls no balance back
and withdraws nothing; a delta is never stale; a corrected file of the same day is applied.
"""
from tests.integration.test_ingest import accounts
from tests.integration.test_ingest import csv_bytes as _csv

HEADER = ("cuenta", "nombre", "saldo", "vencimiento")


def csv_bytes(rows, header=HEADER):
    return _csv(rows, header=header)


NEWER = [("C1", "Ana", "1000", "2026-10-01"), ("C2", "Beto", "2000", "2026-10-01"), ("C3", "Caro", "3000", "2026-10-01")]
OLDER = [("C1", "Ana", "9999", "2026-10-01"), ("C2", "Beto", "8888", "2026-10-01")]  # C3 did not exist yet


def test_an_older_snapshot_replayed_later_changes_nothing(tenant, upload):
    newer = upload("portfolios/acme/cartera_2026-11-30.csv", csv_bytes(NEWER))
    assert (newer["status"], newer["as_of"], newer["as_of_source"]) == ("succeeded", "2026-11-30", "file_name")

    older = upload("portfolios/acme/cartera_2026-11-15.csv", csv_bytes(OLDER))
    assert older["status"] == "failed" and older["error"]["code"] == "stale_snapshot"
    assert "2026-11-30" in older["error"]["message"] and older["accounts_withdrawn"] == 0
    stored = accounts()
    assert {k: (v["balance"], v["status"]) for k, v in stored.items()} == {
        "C1": (1000, "active"), "C2": (2000, "active"), "C3": (3000, "active")}

    delta = upload("portfolios/acme/delta/pagos_2026-11-01.csv", csv_bytes([("C1", "Ana", "500", "2026-10-01")]))
    assert delta["status"] == "succeeded" and "as_of" not in delta  # a delta is an upsert, never stale
    same_day = upload("portfolios/acme/cartera_30-11-2026_corregida.csv", csv_bytes(NEWER[:2]))
    assert (same_day["status"], same_day["as_of"]) == ("succeeded", "2026-11-30")
    assert accounts()["C3"]["status"] == "withdrawn"  # the corrected file of the same day decides


def test_the_as_of_column_outranks_the_file_name(tenant, upload):
    header = ("cuenta", "nombre", "saldo", "vencimiento", "Fecha de corte")
    first = upload("portfolios/acme/cartera_2026-11-01.csv",
                   csv_bytes([row + ("30/11/2026",) for row in NEWER], header=header))
    assert (first["as_of"], first["as_of_source"]) == ("2026-11-30", "column")
    stale = upload("portfolios/acme/cartera.csv", csv_bytes([row + ("15/11/2026",) for row in OLDER], header=header))
    assert stale["status"] == "failed" and stale["error"]["code"] == "stale_snapshot"


def test_without_a_column_or_a_dated_name_the_object_time_is_the_as_of(tenant, upload, clock):
    summary = upload("portfolios/acme/cartera.csv", csv_bytes(NEWER))
    assert summary["status"] == "succeeded" and summary["as_of_source"] == "stored_at"
