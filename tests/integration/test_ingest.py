"""SPEC §3 through the ingest handler: S3 event in, accounts and reports out."""
import csv
import io

import pytest

from tests.helpers import SAMPLES


def csv_bytes(rows, header=("cuenta", "nombre", "saldo", "vencimiento", "correo")):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def accounts(tenant_id="acme"):
    from cobranza.storage.accounts import iter_tenant_accounts

    return {a["account_id"]: a for a in iter_tenant_accounts(tenant_id)}


@pytest.mark.skipif(not (SAMPLES / "cartera_banco_cp1252.csv").exists(), reason="shared sample missing")
def test_bank_export_sample_gives_the_documented_result(tenant, upload, read_report):
    summary = upload("portfolios/acme/cartera.csv", (SAMPLES / "cartera_banco_cp1252.csv").read_bytes())
    assert summary["status"] == "succeeded"
    assert (summary["rows_total"], summary["rows_accepted"], summary["rows_rejected"]) == (40, 37, 3)
    assert summary["accounts_created"] == 37
    rejects = list(csv.DictReader(io.StringIO(read_report("acme", summary["upload_id"], "rejects.csv"))))
    assert [(r["row_number"], r["severity"], r["code"]) for r in rejects] == [
        ("38", "error", "not_a_number"), ("39", "error", "duplicate_account_id"),
        ("40", "error", "invalid_date"), ("41", "warning", "invalid_email")]
    stored = accounts()
    assert stored["4000110"]["balance"] == 12500  # "$ 12,500.00"
    assert "phone" not in stored["4000103"]  # row 5 has no phone
    assert "lat" not in stored["4000107"]  # row 9 has no coordinates
    assert "email" not in stored["4000138"]  # accepted, email dropped
    assert stored["4000100"]["phone"] == "+522227622681"
    assert sum(summary["by_stage"].values()) == sum(summary["by_aging_bucket"].values()) == 37


def test_same_event_twice_and_same_file_again_change_nothing(tenant, upload):
    data = csv_bytes([("A1", "Ana", "100", "2026-10-01", ""), ("A2", "Beto", "200", "2026-11-01", "")])
    first = upload("portfolios/acme/a.csv", data, event_repeats=2)
    assert first["accounts_created"] == 2
    before = accounts()
    again = upload("portfolios/acme/a.csv", data)
    assert again["upload_id"] != first["upload_id"]
    assert (again["accounts_created"], again["accounts_updated"], again["accounts_unchanged"]) == (0, 0, 2)
    assert accounts() == before


def test_changed_rows_are_updated_and_absent_ones_withdrawn_by_a_snapshot(tenant, upload):
    upload("portfolios/acme/a.csv", csv_bytes([(f"A{i}", "Ana", "100", "2026-10-01", "") for i in range(1, 5)]))
    summary = upload("portfolios/acme/b.csv", csv_bytes([("A1", "Ana", "150", "2026-10-01", ""), ("A2", "Ana", "100", "2026-10-01", ""),
                                                          ("A3", "Ana", "100", "2026-10-01", "")]))
    assert (summary["accounts_updated"], summary["accounts_unchanged"], summary["accounts_withdrawn"]) == (1, 2, 1)
    stored = accounts()
    assert stored["A4"]["status"] == "withdrawn" and "next_action_on" not in stored["A4"]
    assert stored["A1"]["balance"] == 150


def test_a_delta_only_upserts(tenant, upload):
    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "100", "2026-10-01", ""), ("A2", "Beto", "100", "2026-10-01", "")]))
    summary = upload("portfolios/acme/delta/d.csv", csv_bytes([("A3", "Caro", "100", "2026-10-01", "")]))
    assert summary["mode"] == "delta" and summary["accounts_withdrawn"] == 0
    assert {a["status"] for a in accounts().values()} == {"active"}


def test_a_truncated_snapshot_is_held_back(tenant, upload):
    upload("portfolios/acme/a.csv", csv_bytes([(f"A{i}", "Ana", "100", "2026-10-01", "") for i in range(10)]))
    summary = upload("portfolios/acme/b.csv", csv_bytes([("A1", "Ana", "100", "2026-10-01", "")]))
    assert summary["accounts_withdrawn"] == 0 and summary["withdrawals_held_back"] == 9
    assert [a["code"] for a in summary["alarms"]] == ["snapshot_withdrawal_held_back"]
    assert all(a["status"] == "active" for a in accounts().values())
    from cobranza.storage.alarms import list_alarms

    raised = list_alarms("acme")
    assert [(a.code, a.subject) for a in raised] == [("snapshot_withdrawal_held_back", f"upload#{summary['upload_id']}")]


def test_zero_balance_is_settled_and_leaves_the_schedule(tenant, upload):
    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "0", "2026-10-01", "")]))
    assert accounts()["A1"]["status"] == "settled" and "next_action_on" not in accounts()["A1"]


@pytest.mark.parametrize("data, code", [
    (b"", "empty_file"),
    (b"cuenta,nombre,saldo,vencimiento\r\n", "no_rows"),
    (b"%PDF-1.4\x00\x00binary", "not_csv"),
    (b"cuenta,nombre,saldo\n1,Ana,10\n", "missing_columns"),
])
def test_unusable_files_fail_with_a_reason_and_write_nothing(tenant, upload, data, code):
    summary = upload("portfolios/acme/bad.csv", data)
    assert summary["status"] == "failed" and summary["error"]["code"] == code
    assert summary["rows_total"] == summary["rows_accepted"] + summary["rows_rejected"]
    assert accounts() == {}


def test_missing_column_failure_names_the_column(tenant, upload):
    summary = upload("portfolios/acme/bad.csv", b"cuenta,nombre,saldo\n1,Ana,10\n")
    assert "due_date" in summary["error"]["message"]


def test_unknown_tenant_fails_and_writes_to_no_other_tenant(tenant, upload):
    summary = upload("portfolios/ghost/a.csv", csv_bytes([("A1", "Ana", "100", "2026-10-01", "")]))
    assert summary["status"] == "failed" and summary["error"]["code"] == "unknown_tenant"
    assert accounts("ghost") == {} and accounts("acme") == {}


def test_rows_always_add_up_and_bad_rows_are_reported_with_spreadsheet_numbers(tenant, upload, read_report):
    data = csv_bytes([
        ("A1", "Ana", "-5", "2026-10-01", ""),          # row 2: negative
        ("A2", "Beto", "1.234.567,89", "02/03/2026", ""),  # row 3: ok, 2 March
        ("A3", "Caro", "abc", "2026-13-01", ""),        # row 4: two errors
        ("A4", "", "10", "2026-10-01", "=cmd|' /C calc'!A0"),  # row 5: no name
        ("A2", "Beto", "1", "2026-10-01", ""),          # row 6: duplicate
    ])
    summary = upload("portfolios/acme/a.csv", data)
    assert (summary["rows_total"], summary["rows_accepted"], summary["rows_rejected"]) == (5, 1, 4)
    lines = list(csv.reader(io.StringIO(read_report("acme", summary["upload_id"], "rejects.csv"))))
    assert [line[0] for line in lines[1:]] == ["2", "4", "4", "5", "6"]
    assert accounts()["A2"]["due_date"] == "2026-03-02"
