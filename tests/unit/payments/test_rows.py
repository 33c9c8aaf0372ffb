"""SPEC §6b: a payments file's columns and the validation shared by files and the API."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from cobranza.payments.rows import PAYMENT_COLUMNS, parse_paid_at, to_payment, validate_row
from cobranza.portfolio.rows import HeaderError, is_header_row, parse_header

ZONE = "America/Mexico_City"


def test_the_header_is_found_by_its_spanish_aliases_and_a_missing_column_is_named():
    header = parse_header(["Folio", "No. Crédito", "Importe", "Fecha de pago", "Forma de pago"], PAYMENT_COLUMNS)
    assert header.fields == ("payment_id", "account_id", "amount", "paid_at", "method")
    assert is_header_row(["folio", "cuenta", "monto", "fecha_pago"], PAYMENT_COLUMNS)
    assert not is_header_row(["cuenta", "nombre", "saldo", "vencimiento"], PAYMENT_COLUMNS)
    with pytest.raises(HeaderError, match="paid_at.*SPEC §6b"):
        parse_header(["folio", "cuenta", "monto"], PAYMENT_COLUMNS)


@pytest.mark.parametrize(("raw", "utc"), [
    ("2026-11-23", datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)),               # a date: noon there
    ("23/11/2026", datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)),
    ("2026-11-23 09:30", datetime(2026, 11, 23, 15, 30, tzinfo=timezone.utc)),         # tenant zone
    ("23/11/2026 09:30:15", datetime(2026, 11, 23, 15, 30, 15, tzinfo=timezone.utc)),
    ("2026-11-23T09:30:00-05:00", datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)),  # its own offset
    ("2026-11-23T14:30:00Z", datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)),
])
def test_paid_at_is_a_date_or_a_date_time_in_the_tenants_zone_unless_it_says_otherwise(raw, utc):
    assert parse_paid_at(raw, ZONE) == utc


def test_a_good_item_is_a_payment_and_a_bad_one_names_every_broken_field():
    payment, errors = to_payment({"payment_id": "F-1", "account_id": "A1", "amount": "$1,250.50",
                                  "paid_at": "2026-11-23", "method": "Transferencia SPEI"}, ZONE)
    assert errors == [] and payment is not None
    assert (payment.amount, payment.method, payment.reverses) == (D("1250.50"), "spei", None)
    payment, errors = to_payment({"payment_id": "", "account_id": "A1", "amount": "0", "paid_at": "31/02/2026",
                                  "method": "cheque"}, ZONE)
    assert payment is None
    assert [(field, error.code) for field, error in errors] == [
        ("payment_id", "required"), ("amount", "not_positive"), ("paid_at", "invalid_date"), ("method", "invalid_method")]


def test_a_file_row_gives_its_problems_with_the_row_number_and_the_raw_value():
    header = parse_header(["folio", "cuenta", "monto", "fecha_pago", "reversa"], PAYMENT_COLUMNS)
    payment, problems = validate_row(header, 7, ["F-9", "A2", "-10", "2026-11-23", "F-1"], ZONE)
    assert payment is None
    assert [(p.row_number, p.account_id, p.field, p.code, p.raw_value) for p in problems] == [
        (7, "A2", "amount", "negative", "-10")]
    payment, problems = validate_row(header, 8, ["F-10", "A2", "10", "2026-11-23", "F-1"], ZONE)
    assert problems == [] and payment is not None and payment.reverses == "F-1"


def test_a_payment_dated_after_the_tenant_s_today_is_refused():
    from datetime import date

    fields = {"payment_id": "F-1", "account_id": "A1", "amount": "10"}
    _, errors = to_payment({**fields, "paid_at": "2026-11-25"}, ZONE, today=date(2026, 11, 24))
    assert [(name, error.code) for name, error in errors] == [("paid_at", "in_future")]
    payment, errors = to_payment({**fields, "paid_at": "2026-11-24T23:30:00-06:00"}, ZONE, today=date(2026, 11, 24))
    assert errors == [] and payment is not None  # later today is today
