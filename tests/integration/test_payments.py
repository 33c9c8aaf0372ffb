"""SPEC §6b: payments recorded on their accounts, once per payment id."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from tests.integration.test_ingest import accounts, csv_bytes

AT = datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)
NOW = "2026-11-24T18:00:00Z"


@pytest.fixture
def now():
    return datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc)  # the platform's clock: NOW


def pay(payment_id, account_id, amount, reverses=None):
    from cobranza.payments.rules import Payment

    return Payment(payment_id, account_id, D(amount), AT, "spei", reverses)


def test_payments_lower_the_balance_clear_it_and_keep_the_excess_and_a_repeat_changes_nothing(tenant, upload):
    from cobranza.payments.service import record

    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", ""), ("A2", "Beto", "300", "2026-10-01", "")]))
    out = [o.to_dict() for o in record("acme", [pay("F-1", "A1", "400"), pay("F-2", "A2", "350"),
                                                pay("F-3", "NOPE", "10")], "api", NOW)]
    assert out == [
        {"payment_id": "F-1", "status": "applied", "account_status": "active", "balance": "600.00", "credit": "0.00"},
        {"payment_id": "F-2", "status": "applied", "account_status": "paid", "balance": "0.00", "credit": "50.00"},
        {"payment_id": "F-3", "status": "rejected", "reason": "unknown_account"}]
    stored = accounts()
    assert stored["A1"]["paid_total"] == 400 and stored["A2"]["status"] == "paid" and stored["A2"]["credit"] == 50
    again = [o.to_dict() for o in record("acme", [pay("F-1", "A1", "400"), pay("F-1", "A1", "401")], "api", NOW)]
    assert again == [{"payment_id": "F-1", "status": "duplicate"},
                     {"payment_id": "F-1", "status": "conflict", "reason": "payment_id_reused_with_other_content"}]
    assert accounts()["A1"]["paid_total"] == 400


def test_a_reversal_restores_the_balance_and_reopens_a_paid_account_once(tenant, upload):
    from cobranza.payments.service import record

    upload("portfolios/acme/a.csv", csv_bytes([("A2", "Beto", "300", "2026-10-01", "")]))
    record("acme", [pay("F-2", "A2", "350")], "api", NOW)
    out = [o.to_dict() for o in record("acme", [pay("R-2", "A2", "350", reverses="F-2"),
                                                pay("R-3", "A2", "350", reverses="F-2")], "api", NOW)]
    assert out[0] == {"payment_id": "R-2", "status": "applied", "account_status": "active", "balance": "300.00",
                      "credit": "0.00"}
    assert out[1] == {"payment_id": "R-3", "status": "rejected", "reason": "already_reversed"}
    stored = accounts()["A2"]
    assert stored["status"] == "active" and stored["paid_total"] == 0 and stored["credit"] == 0
    from cobranza.accounts.alarms import list_alarms

    raised = [(a.code, a.subject) for a in list_alarms("acme")]
    assert raised == [("payment_reversed", "payment#F-2")]


def test_post_payments_answers_each_item_and_a_bad_one_alone_is_rejected(tenant, upload):
    from chalice.test import Client

    from tests.helpers import load_function
    from tests.integration.test_api import call

    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", "")]))
    with Client(load_function("api").app) as client:
        status, body = call(client.http, "post", "/v1/payments", tenant["api_key"], {"payments": [
            {"payment_id": "F-1", "account_id": "A1", "amount": "1,000.00", "paid_at": "2026-11-24", "method": "efectivo"},
            {"payment_id": "F-2", "account_id": "A1", "amount": "-5", "paid_at": "2026-11-24"},
            {"payment_id": "F-1", "account_id": "A1", "amount": "1000", "paid_at": "2026-11-24", "method": "cash"},
            {"payment_id": "F-3", "account_id": "A1", "amount": "5", "paid_at": "2026-11-25"}]})
        assert status == 200, body
        assert body["results"] == [
            {"payment_id": "F-1", "status": "applied", "account_status": "paid", "balance": "0.00", "credit": "0.00"},
            {"payment_id": "F-2", "status": "rejected", "reason": "amount: negative"},
            {"payment_id": "F-1", "status": "duplicate"},
            {"payment_id": "F-3", "status": "rejected", "reason": "paid_at: in_future"}]
        status, _ = call(client.http, "post", "/v1/payments", tenant["api_key"], {"payments": [{}] * 501})
        assert status == 422  # more than 500 payments in one call


def test_the_next_file_s_balance_takes_in_the_payments_and_a_stale_file_keeps_them_applied(tenant, upload):
    from cobranza.payments.rules import money_of
    from cobranza.payments.service import record

    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", ""), ("A2", "Beto", "300", "2026-10-01", "")]))
    record("acme", [pay("F-1", "A1", "400"), pay("F-2", "A2", "300")], "api", NOW)
    assert accounts()["A2"]["status"] == "paid"
    upload("portfolios/acme/b.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", ""), ("A2", "Beto", "300", "2026-10-01", "")]))
    stored = accounts()  # exported before the lender booked the payments: they stay applied
    assert money_of(stored["A1"]).balance == 600 and stored["A2"]["status"] == "paid"
    upload("portfolios/acme/c.csv", csv_bytes([("A1", "Ana", "610", "2026-10-01", ""), ("A2", "Beto", "50", "2026-10-01", "")]))
    stored = accounts()  # the lender's new balances take them in (with interest, a new charge)
    assert money_of(stored["A1"]).balance == 610 and stored["A1"]["paid_seen"] == 400
    assert money_of(stored["A2"]).balance == 50 and stored["A2"]["status"] == "active"


def test_the_account_shows_what_is_owed_now_and_the_credit(tenant, upload):
    from chalice.test import Client

    from cobranza.payments.service import record
    from tests.helpers import load_function
    from tests.integration.test_api import call

    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", ""), ("A2", "Beto", "300", "2026-10-01", "")]))
    record("acme", [pay("F-1", "A1", "400"), pay("F-2", "A2", "350")], "api", NOW)
    with Client(load_function("api").app) as client:
        _, one = call(client.http, "get", "/v1/accounts/A1", tenant["api_key"])
        _, two = call(client.http, "get", "/v1/accounts/A2", tenant["api_key"])
    assert (one["balance"], one["credit"], one["status"]) == ("600.00", "0.00", "active")
    assert (two["balance"], two["credit"], two["status"]) == ("0.00", "50.00", "paid")


def test_a_payments_file_records_each_row_and_reports_the_rest(tenant, upload, read_report):
    import csv
    import io

    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", ""), ("A2", "Beto", "300", "2026-10-01", "")]))
    rows = [("F-1", "A1", "$400.00", "24/11/2026", "SPEI", ""), ("F-2", "A2", "300", "2026-11-24 10:00", "efectivo", ""),
            ("F-3", "NOPE", "10", "2026-11-24", "", ""), ("F-4", "A1", "abc", "2026-11-24", "", ""),
            ("R-1", "A1", "400", "2026-11-24 18:00", "", "F-1")]
    header = ("Folio", "Cuenta", "Importe", "Fecha de pago", "Forma de pago", "Reversa")
    summary = upload("portfolios/acme/payments/pagos-20261124.csv", csv_bytes(rows, header=header))
    assert summary["mode"] == "payments" and summary["status"] == "succeeded"
    assert (summary["rows_total"], summary["rows_accepted"], summary["rows_rejected"]) == (5, 3, 2)
    assert (summary["payments_applied"], summary["payments_reversed"], summary["payments_duplicate"]) == (2, 1, 0)
    assert summary["amount_applied"] == "700.00"
    rejects = list(csv.DictReader(io.StringIO(read_report("acme", summary["upload_id"], "rejects.csv"))))
    assert [(r["row_number"], r["field"], r["code"]) for r in rejects] == [("4", "account_id", "unknown_account"),
                                                                        ("5", "amount", "not_a_number")]
    stored = accounts()
    assert stored["A1"]["paid_total"] == 0 and stored["A2"]["status"] == "paid"
    again = upload("portfolios/acme/payments/pagos-20261124-bis.csv", csv_bytes(rows[:2], header=header))
    assert again["payments_duplicate"] == 2 and again["payments_applied"] == 0


def test_payments_toward_an_open_promise_keep_it_once_they_reach_its_amount(tenant, upload):
    from datetime import date

    from cobranza.accounts import store
    from cobranza.accounts.timeline import list_entries
    from cobranza.payments import promises
    from cobranza.payments.rules import promise_of
    from cobranza.payments.service import record

    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", "")]))
    promises.record("acme", store.read_account("acme", "A1"), promise_of(date(2026, 11, 24), D("500"), date(2026, 11, 30)),
                    "api", AT, 2)
    first = record("acme", [pay("F-1", "A1", "200")], "api", NOW)[0].to_dict()
    assert first["account_status"] == "promised" and accounts()["A1"]["promise_paid"] == 200
    second = record("acme", [pay("F-2", "A1", "300")], "api", NOW)[0].to_dict()
    assert (second["account_status"], second["balance"]) == ("active", "500.00")
    kinds = [e["kind"] for e in list_entries("acme", "A1", 100, None)[0]]
    assert kinds.count("promise_kept") == 1 and kinds.count("payment") == 2


def test_a_shared_transaction_refused_by_one_changed_account_records_each_payment_alone(tenant, upload, monkeypatch):
    from cobranza.accounts import store
    from cobranza.payments import service

    upload("portfolios/acme/a.csv", csv_bytes([(f"A{i}", "Ana", "1000", "2026-10-01", "") for i in range(5)]))
    stale = store.read_accounts("acme", ["A3"])["A3"]
    store.update_fields("acme", "A3", {"status": "disputed"})  # written after the batch's read
    real = store.read_accounts
    monkeypatch.setattr(service.accounts_repo, "read_accounts",
                        lambda tenant_id, ids: {**real(tenant_id, ids), "A3": stale})
    out = record_all(service, [pay(f"F-{i}", f"A{i}", "1000") for i in range(5)])
    assert [o["status"] for o in out] == ["applied"] * 5
    assert [o["account_status"] for o in out] == ["paid", "paid", "paid", "disputed", "paid"]  # A3 as it is now
    assert accounts()["A3"]["paid_total"] == 1000


def test_one_payment_id_twice_in_a_file_is_applied_once_and_the_other_is_a_duplicate_or_conflict(tenant, upload):
    from cobranza.payments import service

    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", ""), ("A2", "Beto", "300", "2026-10-01", "")]))
    out = record_all(service, [pay("F-1", "A1", "100"), pay("F-1", "A2", "100"), pay("F-1", "A1", "100")])
    assert [o["status"] for o in out] == ["applied", "conflict", "duplicate"]
    assert "paid_total" not in accounts()["A2"] and accounts()["A1"]["paid_total"] == 100


def record_all(service, payments):
    return [o.to_dict() for o in service.record("acme", payments, "file:test", NOW, threads=4)]


def test_a_reversal_must_name_the_amount_it_reverses(tenant, upload):
    from cobranza.payments.service import record

    upload("portfolios/acme/a.csv", csv_bytes([("A1", "Ana", "1000", "2026-10-01", "")]))
    record("acme", [pay("F-1", "A1", "100")], "api", NOW)
    out = record("acme", [pay("R-1", "A1", "50", reverses="F-1")], "api", NOW)[0].to_dict()
    assert out == {"payment_id": "R-1", "status": "rejected", "reason": "reversal_amount_mismatch"}
    assert accounts()["A1"]["paid_total"] == 100
