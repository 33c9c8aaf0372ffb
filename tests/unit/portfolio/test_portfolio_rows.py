"""SPEC §3: header aliases, field formats and what rejects a row vs drops a field."""
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobranza.portfolio.rows import FieldError, HeaderError, RowValidator, parse_amount, parse_date, parse_header

BANK_HEADER = ["No. Crédito", "Nombre del Acreditado", "Saldo Total", "Fecha de Vencimiento", "Teléfono Celular",
               "Correo Electrónico", "Domicilio", "Municipio", "Estado", "C.P.", "Latitud", "Longitud", "Producto",
               "Referencia de Pago", "Sucursal"]


def validator(header=BANK_HEADER):
    return RowValidator(parse_header(header), phone_region="MX", currency="MXN", timezone="America/Mexico_City")


def bank_row(**overrides):
    row = {"No. Crédito": "4000100", "Nombre del Acreditado": "Guadalupe Hernández", "Saldo Total": "24.199,52",
           "Fecha de Vencimiento": "17/10/2026", "Teléfono Celular": "222 762 2681",
           "Correo Electrónico": "a@ejemplo.com.mx", "Domicilio": "Av. Juárez 229", "Municipio": "Puebla",
           "Estado": "Puebla", "C.P.": "72000", "Latitud": "19.03", "Longitud": "-98.20", "Producto": "Préstamo",
           "Referencia de Pago": "PAGO-1", "Sucursal": "Centro"}
    row.update(overrides)
    return [row[h] for h in BANK_HEADER]


def test_spanish_headers_with_accents_punctuation_and_connecting_words_match():
    header = parse_header(BANK_HEADER)
    assert header.fields[:4] == ("account_id", "debtor_name", "balance", "due_date")
    assert header.fields[9] == "postal_code"
    assert header.fields[14] is None and header.attribute_names[14] == "sucursal"


def test_missing_required_column_names_it():
    with pytest.raises(HeaderError, match="due_date"):
        parse_header(["cuenta", "nombre", "saldo"])


@pytest.mark.parametrize("raw, expected", [
    ("1234.56", "1234.56"), ("1,234.56", "1234.56"), ("1.234,56", "1234.56"), ("$ 1,234.56", "1234.56"),
    ("1.234.567,89", "1234567.89"), ("1,234,567.89", "1234567.89"), ("0", "0.00"), ("1234,5", "1234.50"),
    ("MXN 500", "500.00"), (1500, "1500.00"), (99.5, "99.50"),
])
def test_amount_formats(raw, expected):
    assert parse_amount(raw) == Decimal(expected)


@pytest.mark.parametrize("raw, code", [("-5", "negative"), ("abc", "not_a_number"), ("1.2345", "too_many_decimals"),
                                       ("1,23,4.5", "ambiguous_amount"), ("", "not_a_number")])
def test_bad_amounts(raw, code):
    with pytest.raises(FieldError) as exc:
        parse_amount(raw)
    assert exc.value.code == code


@given(st.decimals(min_value=0, max_value=10**9, places=2))
def test_every_listed_amount_style_reads_back_the_same(value):
    us = f"{value:,.2f}"
    mx_bank = us.replace(",", "_").replace(".", ",").replace("_", ".")
    for text in (f"{value:.2f}", us, mx_bank, f"$ {us}"):
        assert parse_amount(text) == value


@pytest.mark.parametrize("raw, expected", [
    ("2026-03-31", date(2026, 3, 31)), ("31/03/2026", date(2026, 3, 31)), ("31-03-2026", date(2026, 3, 31)),
    ("02/03/2026", date(2026, 3, 2)), ("2026-03-31 00:00:00", date(2026, 3, 31)), (date(2026, 1, 2), date(2026, 1, 2)),
])
def test_dates_are_iso_or_day_first(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["31/02/2026", "2026-13-01", "mañana", "13/13/2026"])
def test_impossible_dates_fail(raw):
    with pytest.raises(FieldError):
        parse_date(raw)


def test_good_row_is_normalized():
    row, problems = validator().validate(2, bank_row())
    assert problems == []
    assert row.balance == Decimal("24199.52") and row.due_date == date(2026, 10, 17)
    assert row.phone == "+522227622681"
    assert row.lat == Decimal("19.030000") and row.state == "Puebla" and row.timezone == "America/Mexico_City"
    assert row.attributes == {"sucursal": "Centro"}


def test_required_field_breaking_its_rule_rejects_the_row():
    row, problems = validator().validate(7, bank_row(**{"Saldo Total": "N/D", "Fecha de Vencimiento": "30/02/2026"}))
    assert row is None
    assert [(p.row_number, p.severity, p.field, p.code) for p in problems] == [
        (7, "error", "balance", "not_a_number"), (7, "error", "due_date", "invalid_date")]


def test_bad_optional_field_is_dropped_with_a_warning():
    row, problems = validator().validate(41, bank_row(**{"Correo Electrónico": "correo@@malo", "Teléfono Celular": "123"}))
    assert row is not None and row.email is None and row.phone is None
    assert {(p.severity, p.field, p.code) for p in problems} == {("warning", "email", "invalid_email"),
                                                                ("warning", "phone", "invalid_phone")}


@pytest.mark.parametrize("lat, lon, code", [("19.4", "", "incomplete_coordinates"), ("0", "0", "null_island"),
                                            ("91", "-99", "coordinate_out_of_range")])
def test_coordinates_go_together_and_in_range(lat, lon, code):
    row, problems = validator().validate(3, bank_row(Latitud=lat, Longitud=lon))
    assert row.lat is None and row.lon is None
    assert [p.code for p in problems] == [code]


def test_wrong_number_of_fields_rejects_the_row():
    v = validator()
    assert v.validate(2, bank_row()[:-2])[1][0].code == "too_few_fields"
    assert v.validate(2, bank_row() + ["extra"])[1][0].code == "too_many_fields"


@pytest.mark.parametrize("state, zone", [("Quintana Roo", "America/Cancun"), ("Sonora", "America/Hermosillo"),
                                         ("Baja California", "America/Tijuana"), ("CDMX", "America/Mexico_City"),
                                         ("Yucatán", "America/Merida")])
def test_time_zone_comes_from_the_state(state, zone):
    row, _ = validator().validate(2, bank_row(Estado=state))
    assert row.timezone == zone


def test_time_zone_column_wins_and_bad_one_is_dropped():
    header = ["cuenta", "nombre", "saldo", "vencimiento", "estado", "zona_horaria"]
    v = validator(header)
    row, _ = v.validate(2, ["1", "Ana", "10", "2026-01-01", "Sonora", "America/Tijuana"])
    assert row.timezone == "America/Tijuana"
    row, problems = v.validate(3, ["1", "Ana", "10", "2026-01-01", "Sonora", "Mars/Olympus"])
    assert row.timezone == "America/Hermosillo" and problems[0].code == "invalid_timezone"


def test_all_32_states_have_a_zone():
    from cobranza.core.mexico import STATE_TIMEZONES
    from cobranza.portfolio.rows import valid_timezone

    assert len(STATE_TIMEZONES) == 32 and all(valid_timezone(z) for z in STATE_TIMEZONES.values())


# ---------------------------------------------------------------- every problem of a row (issue 12)
def test_a_rejected_row_lists_every_problem_its_error_and_its_warnings():
    row, problems = validator().validate(12, bank_row(**{"Fecha de Vencimiento": "31/02/2026", "Correo Electrónico": "ana@@x"}))
    assert row is None
    assert [(p.row_number, p.severity, p.account_id, p.field, p.code) for p in problems] == [
        (12, "error", "4000100", "due_date", "invalid_date"), (12, "warning", "4000100", "email", "invalid_email")]


def test_every_broken_rule_of_a_row_is_reported_once():
    row, problems = validator().validate(9, bank_row(**{
        "Nombre del Acreditado": "", "Saldo Total": "-5", "Teléfono Celular": "123", "Latitud": "95", "Longitud": "-99"}))
    assert row is None
    assert [(p.severity, p.field, p.code) for p in problems] == [
        ("error", "debtor_name", "required"), ("error", "balance", "negative"),
        ("warning", "phone", "invalid_phone"), ("warning", "lat", "coordinate_out_of_range")]


# ---------------------------------------------------------------- header detection (issue 12)
@pytest.mark.parametrize("cells, expected", [
    (BANK_HEADER, True),
    (["CUENTA", "NOMBRE", "SALDO", "VENCIMIENTO"], True),
    ([None, "Número de Crédito", 3, "Nombre Completo", "Adeudo", "Fecha Límite de Pago"], True),
    (["Cartera vencida al 30/11/2026"], False),
    (["cuenta", "nombre", "saldo"], False),                      # due date missing
    (["4000100", "Ana", "1.234,56", "17/10/2026"], False),       # a data row
    (["cuenta", "cuenta", "nombre", "saldo"], False),            # a repeated name is not a second field
])
def test_the_header_row_names_every_required_field(cells, expected):
    from cobranza.portfolio.rows import is_header_row

    assert is_header_row(cells) is expected


# ---------------------------------------------------------------- Excel cell types (issue 12)
@pytest.mark.parametrize("serial, epoch, expected", [
    (46356, date(1899, 12, 30), date(2026, 11, 30)),   # the 1900 date system (Windows Excel)
    (46356.75, date(1899, 12, 30), date(2026, 11, 30)),  # 18:00 that day
    (44894, date(1904, 1, 1), date(2026, 11, 30)),     # the 1904 date system (old Mac workbooks)
    (Decimal("46356"), date(1899, 12, 30), date(2026, 11, 30)),
])
def test_serial_dates_count_days_from_the_workbooks_epoch(serial, epoch, expected):
    assert parse_date(serial, epoch) == expected


@pytest.mark.parametrize("raw, epoch, code", [
    (46356, None, "invalid_date"),                 # a CSV has no serial dates: "46356" is not a date
    ("46356", date(1899, 12, 30), "invalid_date"),  # nor is a text cell of a workbook
    (0, date(1899, 12, 30), "invalid_date"),
    (-3, date(1899, 12, 30), "invalid_date"),
    (120, date(1899, 12, 30), "date_out_of_range"),  # April 1900
    (10**9, date(1899, 12, 30), "invalid_date"),
    (float("nan"), date(1899, 12, 30), "invalid_date"),
    (True, date(1899, 12, 30), "invalid_date"),
])
def test_what_is_not_a_serial_date(raw, epoch, code):
    with pytest.raises(FieldError) as exc:
        parse_date(raw, epoch)
    assert exc.value.code == code


@pytest.mark.parametrize("raw, expected", [
    (1234.56, "1234.56"), (1234.5600000000002, "1234.56"), (0.1 + 0.2, "0.30"), (24199.52, "24199.52"),
    (99.90000000000001, "99.90"), (1e15, "1000000000000000.00"),
])
def test_spreadsheet_numbers_are_amounts_without_binary_noise(raw, expected):
    assert parse_amount(raw) == Decimal(expected)


def test_ids_and_phones_stored_as_numbers_read_as_their_digits():
    v = validator(["cuenta", "nombre", "saldo", "vencimiento", "telefono", "cp", "score"])
    for raw_id, raw_phone, expected_id in [(4000100, 5512345678, "4000100"), (4000100.0, 5512345678.0, "4000100"),
                                           (123456789012345.0, 525512345678.0, "123456789012345"),
                                           (1.23456789012345e14, 5.512345678e9, "123456789012345")]:
        row, problems = v.validate(2, [raw_id, "Ana", 10.5, date(2026, 11, 30), raw_phone, 3100.0, 750.0])
        assert problems == [] and (row.account_id, row.phone) == (expected_id, "+525512345678")
        assert row.postal_code == "03100" and row.risk_score == 750


# ---------------------------------------------------------------- trailing summary rows (issue 12)
SUMMARY_HEADER = ["cuenta", "nombre", "saldo", "vencimiento", "correo"]


@pytest.mark.parametrize("cells", [
    ["TOTAL", "", "1.234.567,89", "", ""],
    ["", "Total general", "1,234,567.89", "", ""],
    ["Totales:", None, 1234567.89, None, None],
    ["SUMA", "", "", "", ""],
    ["", "", "$ 1,234,567.89", "", ""],          # only an amount, no id or name
    [None, None, 1234567.89, 37, None],           # amounts only (a sum and a count)
    ["Gran Total", "37 cuentas", "1.234.567,89", "", ""],
    ["Subtotal", "", "10", "", ""],
])
def test_summary_rows_of_an_export_are_recognised(cells):
    assert validator(SUMMARY_HEADER).is_summary_row(cells)


@pytest.mark.parametrize("cells", [
    ["4000100", "Ana", "10", "2026-11-30", ""],
    ["4000100", "TOTAL", "10", "2026-11-30", ""],    # a real id: a row of data, whatever its name
    ["", "Totalplay SA", "10", "2026-11-30", ""],    # not a total label
    ["", "Suma Pérez", "10", "", ""],
    ["", "Ana", "10", "", ""],                       # a name: a row missing its id, to be rejected
    ["", "", "10", "2026-11-30", ""],                # a date is not an amount
    ["", "", "", "", "ana@x.mx"],
])
def test_data_rows_are_not_summary_rows(cells):
    assert not validator(SUMMARY_HEADER).is_summary_row(cells)


def summary_run(records, limit=20):
    from cobranza.portfolio.rows import TrailingSummary

    trailing = TrailingSummary(list(enumerate(records, 2)), validator(SUMMARY_HEADER).is_summary_row, limit)
    return [n for n, _ in trailing], trailing.skipped


def test_only_summary_rows_after_the_last_data_row_are_skipped():
    data = ["A1", "Ana", "10", "2026-11-30", ""]
    total = ["TOTAL", "", "10", "", ""]
    # trailing block: skipped and counted
    assert summary_run([data, data, total, ["", "", "10", "", ""]]) == ([2, 3], 2)
    # a TOTAL in the middle is an ordinary row (to be judged and rejected), in its place
    assert summary_run([data, total, data, total]) == ([2, 3, 4], 1)
    # a file with no summary
    assert summary_run([data, data]) == ([2, 3], 0)


def test_a_long_run_of_summary_looking_rows_is_not_a_summary_block():
    total = ["", "", "10", "", ""]
    numbers, skipped = summary_run([["A1", "Ana", "10", "2026-11-30", ""]] + [total] * 5, limit=4)
    assert (numbers, skipped) == ([2, 3, 4, 5, 6, 7], 0)
    numbers, skipped = summary_run([["A1", "Ana", "10", "2026-11-30", ""]] + [total] * 4, limit=4)
    assert (numbers, skipped) == ([2], 4)
