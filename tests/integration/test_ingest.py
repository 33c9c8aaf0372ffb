"""SPEC §3 through the ingest handler: S3 event in, accounts and reports out."""
import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest

from tests.helpers import ROOT, SAMPLES, needs_sample


def csv_bytes(rows, header=("cuenta", "nombre", "saldo", "vencimiento", "correo")):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def accounts(tenant_id="acme"):
    from cobranza.accounts.store import iter_tenant_accounts

    return {a["account_id"]: a for a in iter_tenant_accounts(tenant_id)}


@needs_sample(SAMPLES / "cartera_banco_cp1252.csv")
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
    from cobranza.accounts.alarms import list_alarms

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
    assert [line[0] for line in lines[1:]] == ["2", "4", "4", "5", "5", "6"]  # row 5: no name, and its email
    assert lines[5][1:5] == ["warning", "A4", "email", "invalid_email"] and lines[5][6] == "'=cmd|' /C calc'!A0"
    assert accounts()["A2"]["due_date"] == "2026-03-02"


# ---------------------------------------------------------------- lenders' own exports (issue 12)
LENDER_HEADER = ["No. Crédito", "Nombre del Acreditado", "Saldo Total", "Fecha de Vencimiento", "Teléfono Celular",
                 "Correo Electrónico", "C.P."]


def workbook(writer: str, rows) -> bytes:
    """An .xlsx of typed cells as ``writer`` (openpyxl, or XlsxWriter as another system) saves
    it: numbers stay numbers (a date in the General format is a bare serial number), dates are
    date cells, a text starting with ``=`` is a formula."""
    out = io.BytesIO()
    if writer == "openpyxl":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        for r, cells in enumerate(rows, 1):
            for c, value in enumerate(cells, 1):
                if value is not None:
                    ws.cell(row=r, column=c, value=value)
        wb.save(out)
    else:
        import xlsxwriter

        wb = xlsxwriter.Workbook(out, {"in_memory": True})
        ws = wb.add_worksheet("Cartera")
        date_format = wb.add_format({"num_format": "dd/mm/yyyy"})
        for r, cells in enumerate(rows):
            for c, value in enumerate(cells):
                if isinstance(value, date):
                    ws.write_datetime(r, c, datetime(value.year, value.month, value.day), date_format)
                elif isinstance(value, str) and value.startswith("="):
                    ws.write_formula(r, c, value, None, 0)
                elif value is not None:
                    ws.write(r, c, value)
        wb.close()
    return out.getvalue()


def documented_upload_fields() -> set[str]:
    import yaml

    spec = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    return set(spec["components"]["schemas"]["Upload"]["properties"])


@pytest.mark.parametrize("writer", ["openpyxl", "xlsxwriter"])
def test_an_excel_export_as_a_lender_sends_it_loses_no_row_and_raises_no_alarm(tenant, upload, read_report, writer):
    # serial dates as Excel shows a date cell whose format was lost: 46356 is 2026-11-30 (1900 system)
    data = workbook(writer, [
        ["Cartera vencida al 30/11/2026"],
        [],
        LENDER_HEADER,
        [4000100, "Guadalupe Hernández Ruiz", 24199.52, 46312, 2227622681, "g@ejemplo.com.mx", 3100],
        [4000101, "Juan Carlos Pérez", 63235.29, 46356, 9998698226, None, 97000],
        [4000102, "Ma. de los Ángeles Ortíz", 1207.64, date(2026, 12, 15), 525517956148, None, None],
        [4000103, "Jesús Martínez Gómez", 74974.33, 46356.5, None, "j@ejemplo.com.mx", 66220],
        [4000104.0, "Óscar Domínguez Lara", 1234.5600000000002, 46300, 5579709296.0, None, 3100],
        [123456789012345, "Rosa Núñez", 500, 46366, 5516113059, None, None],
        [],
        ["TOTAL", None, "=SUM(C4:C9)"],
    ])
    summary = upload("portfolios/acme/cartera_noviembre.xlsx", data)
    assert (summary["status"], summary["format"]) == ("succeeded", "xlsx")
    assert (summary["rows_skipped_before_header"], summary["rows_skipped_summary"]) == (2, 1)
    assert (summary["rows_total"], summary["rows_accepted"], summary["rows_rejected"]) == (6, 6, 0)
    assert summary["rows_total"] == summary["rows_accepted"] + summary["rows_rejected"]
    assert summary["accounts_created"] == 6 and "alarms" not in summary  # the TOTAL row is not a rejected row
    assert set(summary) <= documented_upload_fields()
    assert read_report("acme", summary["upload_id"], "rejects.csv").splitlines() == [
        "row_number,severity,account_id,field,code,message,raw_value"]
    stored = accounts()
    assert sorted(stored) == ["123456789012345", "4000100", "4000101", "4000102", "4000103", "4000104"]
    assert [stored[a]["due_date"] for a in ("4000100", "4000101", "4000102", "4000103", "4000104", "123456789012345")] == [
        "2026-10-17", "2026-11-30", "2026-12-15", "2026-11-30", "2026-10-05", "2026-12-10"]
    assert stored["4000100"]["balance"] == Decimal("24199.52") and stored["4000104"]["balance"] == Decimal("1234.56")
    assert [stored[a].get("phone") for a in ("4000100", "4000102", "4000103", "4000104")] == [
        "+522227622681", "+525517956148", None, "+525579709296"]
    assert stored["4000100"]["postal_code"] == "03100" and stored["4000103"]["postal_code"] == "66220"


def test_rejects_list_every_problem_of_a_row_and_only_the_closing_total_is_skipped(tenant, upload, read_report):
    data = ("Cartera vencida al 30/11/2026;;;;\r\n"
            ";;;;\r\n"
            "No. Crédito;Nombre del Acreditado;Saldo Total;Fecha de Vencimiento;Correo Electrónico;Teléfono Celular\r\n"
            "4000100;Ana;1.000,00;17/10/2026;ana@ejemplo.com.mx;2227622681\r\n"   # row 4: good
            "4000101;Beto;2.000,00;31/02/2026;beto@@ejemplo;123\r\n"              # row 5: bad date, bad email, bad phone
            "Subtotal;;3.000,00;;;\r\n"                                           # row 6: in the middle: an ordinary row
            "4000102;Caro;N/D;;caro@ejemplo.com.mx;\r\n"                          # row 7: bad balance, no date
            "4000103;Dora;4.000,00;30/11/2026;dora@@x;\r\n"                       # row 8: good, email dropped
            ";;;;;\r\n"
            "TOTAL;;7.000,00;;;\r\n"                                              # row 10: the export's total
            "Suma;;7.000,00;;;\r\n").encode("cp1252")                             # row 11: and another
    summary = upload("portfolios/acme/cartera.csv", data)
    assert (summary["rows_skipped_before_header"], summary["rows_skipped_summary"]) == (2, 2)
    assert (summary["rows_total"], summary["rows_accepted"], summary["rows_rejected"]) == (5, 2, 3)  # rows, not problems
    assert summary["warnings"] == 1
    rejects = list(csv.DictReader(io.StringIO(read_report("acme", summary["upload_id"], "rejects.csv"))))
    assert [(r["row_number"], r["severity"], r["account_id"], r["field"], r["code"]) for r in rejects] == [
        ("5", "error", "4000101", "due_date", "invalid_date"),
        ("5", "warning", "4000101", "phone", "invalid_phone"),
        ("5", "warning", "4000101", "email", "invalid_email"),
        ("6", "error", "Subtotal", "debtor_name", "required"),
        ("6", "error", "Subtotal", "due_date", "required"),
        ("7", "error", "4000102", "balance", "not_a_number"),
        ("7", "error", "4000102", "due_date", "required"),
        ("8", "warning", "4000103", "email", "invalid_email"),
    ]
    assert rejects[0]["raw_value"] == "31/02/2026" and rejects[2]["raw_value"] == "beto@@ejemplo"
    assert sorted(accounts()) == ["4000100", "4000103"]


def test_a_file_whose_only_rows_are_a_total_has_no_rows(tenant, upload):
    summary = upload("portfolios/acme/vacia.csv", b"cuenta,nombre,saldo,vencimiento\r\nTOTAL,,0.00,\r\n")
    assert summary["status"] == "failed" and summary["error"]["code"] == "no_rows"
    assert (summary["rows_total"], summary["rows_skipped_summary"]) == (0, 1)


def test_a_tenants_first_upload_reads_nothing_back_and_the_next_reads_every_shard(tenant, upload):
    """The accounts table spreads a tenant over 64 partition key values: reading them back costs a
    query per shard, which a tenant with no account yet skips (its first upload writes only)."""
    from cobranza.accounts.store import ACCOUNT_SHARDS
    from cobranza.core import aws
    from cobranza.tenants.store import get_tenant

    rows = [(f"A{i:03d}", "Ana", "100", "2026-10-01", "") for i in range(200)]
    aws.request_counts.clear()
    first = upload("portfolios/acme/a.csv", csv_bytes(rows))
    assert first["accounts_created"] == 200 and aws.request_counts["dynamodb.Query"] == 0
    assert not get_tenant("acme").no_accounts_yet
    aws.request_counts.clear()
    again = upload("portfolios/acme/b.csv", csv_bytes(rows))
    assert again["accounts_unchanged"] == 200
    assert aws.request_counts["dynamodb.Query"] == ACCOUNT_SHARDS


def test_only_one_upload_takes_a_new_tenants_mark_and_a_tenant_without_it_reads_back(tenant, upload):
    """Tenants created before the mark existed (and copied by the key migration) have none: their
    uploads read their accounts back like any later upload; two first uploads at once: one skips."""
    import boto3

    from cobranza.accounts.store import ACCOUNT_SHARDS
    from cobranza.core import aws
    from cobranza.core.settings import get_settings
    from cobranza.tenants.store import claim_first_upload, create_tenant

    create_tenant("nueva", "Nueva", "America/Mexico_City", [])
    assert [claim_first_upload("nueva"), claim_first_upload("nueva")] == [True, False]
    boto3.client("dynamodb").update_item(TableName=get_settings().tenants_table, Key={"tenant_id": {"S": "acme"}},
                                         UpdateExpression="REMOVE no_accounts_yet")  # as an older tenant
    aws.request_counts.clear()
    first = upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "100", "2026-10-01", "")]))
    assert first["accounts_created"] == 1 and aws.request_counts["dynamodb.Query"] == ACCOUNT_SHARDS


def test_a_first_upload_retried_after_a_crash_reads_back_what_it_wrote(tenant, bucket, read_report, monkeypatch):
    """A retry of the tenant's first upload must not overwrite what other writers recorded on
    the accounts its first attempt wrote: the tenant is marked before any write, so the retry reads."""
    import boto3

    from cobranza.accounts import store
    from tests.helpers import LambdaContext, load_function, s3_put_event

    ingest = load_function("ingest")
    data = csv_bytes([(f"A{i:03d}", "Ana", "100", "2026-10-01", "") for i in range(60)])
    response = boto3.client("s3").put_object(Bucket=bucket, Key="portfolios/acme/a.csv", Body=data)
    event = s3_put_event(bucket, "portfolios/acme/a.csv", len(data), response["ETag"].strip('"'), "0" * 20,
                         response.get("VersionId"))
    real_send = store.BatchWriter._send

    def crash_after_the_first_batch(self, batch):
        if getattr(self, "sent", 0):
            while self._in_flight:  # the first batch written, then the invocation dies
                self._collect(self._in_flight.popleft())
            raise RuntimeError("the invocation died")
        self.sent = 1
        real_send(self, batch)

    monkeypatch.setattr(store.BatchWriter, "_send", crash_after_the_first_batch)
    with pytest.raises(RuntimeError):
        ingest.handler(event, LambdaContext())
    written = sorted(accounts())
    assert len(written) == 25
    assert store.add_to_set("acme", written[0], "opted_out_channels", ["email"], "2026-12-06T00:00:00Z")
    monkeypatch.setattr(store.BatchWriter, "_send", real_send)
    result = ingest.handler(event, LambdaContext())
    assert result["uploads"][0]["status"] == "succeeded", result
    assert len(accounts()) == 60
    assert accounts()[written[0]]["opted_out_channels"] == {"email"}
