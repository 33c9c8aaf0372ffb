"""SPEC §3: file formats, encodings, delimiters and row numbers as a spreadsheet shows them."""
import gzip
import io
from datetime import date
from decimal import Decimal

import pytest

from cobranza.portfolio.readers import FileRejected, open_portfolio
from cobranza.portfolio.reports import safe_cell
from tests.helpers import SAMPLES, needs_sample

SAMPLE = SAMPLES / "cartera_banco_cp1252.csv"


def rows(data: bytes, key="portfolios/t/x.csv"):
    f = open_portfolio(io.BytesIO(data), key)
    return f, list(f.records)


@needs_sample(SAMPLE)
def test_bank_sample_is_cp1252_semicolon_with_spreadsheet_row_numbers():
    f, records = rows(SAMPLE.read_bytes())
    assert (f.encoding, f.delimiter) == ("cp1252", ";")
    assert f.header[0] == "No. Crédito"
    assert [n for n, _ in records][:2] == [2, 3] and records[-1][0] == 41


@pytest.mark.parametrize("delimiter", [",", ";", "|", "\t"])
def test_delimiters_are_detected(delimiter):
    data = delimiter.join(["cuenta", "nombre", "saldo", "vencimiento"]) + "\n" + delimiter.join(["1", "Ana", "10", "2026-01-01"]) + "\n"
    f, records = rows(data.encode())
    assert f.delimiter == delimiter and records == [(2, ["1", "Ana", "10", "2026-01-01"])]


def test_utf8_bom_and_quoted_newline_stay_one_row():
    data = '\ufeffcuenta,nombre,domicilio\r\n1,Ana,"Calle 1\r\nInt. 2, Col. Centro"\r\n2,Beto,Calle 3\r\n'.encode()
    f, records = rows(data)
    assert f.encoding == "utf-8-sig" and f.header == ["cuenta", "nombre", "domicilio"]
    assert [(n, r[2]) for n, r in records] == [(2, "Calle 1\r\nInt. 2, Col. Centro"), (3, "Calle 3")]


def test_blank_lines_count_as_rows_but_are_not_records():
    f, records = rows(b"cuenta,nombre\n1,Ana\n\n2,Beto\n")
    assert [n for n, _ in records] == [2, 4]


def test_undecodable_bytes_become_replacement_characters():
    _, records = rows("cuenta,nombre\n1,Ana\n".encode() + b"2,B\x81to\n")
    assert "\ufffd" in records[1][1][1]


@pytest.mark.parametrize("data, code", [(b"", "empty_file"), (b"\n\n", "empty_file"), (b"%PDF-1.7 \x00\x01", "not_csv"),
                                        (b"\x89PNG\r\n\x1a\n\x00", "not_csv")])
def test_unusable_files_are_rejected_with_a_reason(data, code):
    with pytest.raises(FileRejected) as exc:
        rows(data)
    assert exc.value.code == code


def test_gzip_csv():
    f, records = rows(gzip.compress(b"cuenta;nombre\n1;Ana\n"), "portfolios/t/x.csv.gz")
    assert f.format == "csv.gz" and records == [(2, ["1", "Ana"])]


def test_xlsx_with_formulas_and_empty_rows(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["cuenta", "nombre", "saldo", "vencimiento"])
    ws.append(["A1", "Ana", 100.5, "2026-01-01"])
    ws.append([])
    ws.append(["A2", "Beto", "=B2*2", "2026-01-02"])
    path = tmp_path / "x.xlsx"
    wb.save(path)
    f, records = rows(path.read_bytes(), "portfolios/t/x.xlsx")
    assert f.format == "xlsx"
    assert records[0] == (2, ["A1", "Ana", 100.5, "2026-01-01"])
    # a formula without a cached value reads as empty (the validator rejects a missing balance)
    assert records[1][0] == 4 and records[1][1][2] is None


def test_misnamed_xlsx_is_rejected():
    with pytest.raises(FileRejected) as exc:
        rows(b"not a zip", "portfolios/t/x.xlsx")
    assert exc.value.code == "unreadable_xlsx"


@pytest.mark.parametrize("value, expected", [("=1+1", "'=1+1"), ("+52", "'+52"), ("-5", "'-5"), ("@SUM", "'@SUM"),
                                             ("Ana", "Ana"), ("", "")])
def test_report_cells_cannot_run_as_formulas(value, expected):
    assert safe_cell(value) == expected


# ---------------------------------------------------------------- header detection (issue 12)
BANK_TITLE = "Cartera vencida al 30/11/2026"
BANK_COLUMNS = ["No. Crédito", "Nombre del Acreditado", "Saldo Total", "Fecha de Vencimiento", "Teléfono Celular"]


def text_file(lines, delimiter=";", encoding="cp1252", newline="\r\n"):
    return newline.join(delimiter.join(cells) if isinstance(cells, list) else cells for cells in lines).encode(encoding) + newline.encode()


@pytest.mark.parametrize("title", [
    BANK_TITLE,                                   # one cell, no delimiter
    BANK_TITLE + ";;;;",                          # Excel's "save as CSV" pads it to the sheet's width
    '"Cartera vencida, corte: 30/11/2026 | Sucursal Centro"',  # other delimiters inside the title
])
def test_a_title_and_a_blank_row_above_the_header_are_skipped_and_row_numbers_stay_the_sheets(title):
    data = text_file([title, "", BANK_COLUMNS, ["4000100", "Ana", "1.234,56", "17/10/2026", "222 762 2681"],
                      ["4000101", "Beto", "10,00", "18/10/2026", ""]])
    f, records = rows(data)
    assert (f.delimiter, f.header_row, f.rows_skipped_before_header) == (";", 3, 2)
    assert f.header == BANK_COLUMNS
    assert [n for n, _ in records] == [4, 5] and records[0][1][0] == "4000100"


def test_the_header_is_found_in_a_gzip_csv_too():
    data = gzip.compress(text_file(["Reporte de cartera", "Generado: 01/12/2026", BANK_COLUMNS,
                                    ["1", "Ana", "10", "2026-01-01", ""]], delimiter="\t", encoding="utf-8", newline="\n"))
    f, records = rows(data, "portfolios/t/x.csv.gz")
    assert (f.format, f.delimiter, f.header_row) == ("csv.gz", "\t", 3) and records == [(4, ["1", "Ana", "10", "2026-01-01", ""])]


def test_header_names_match_with_accents_case_punctuation_connecting_words_and_aliases():
    header = ["NÚMERO DE CUENTA", "Nombre Completo", "Saldo Vencido ($)", "Fecha Límite de Pago", "Sucursal"]
    f, records = rows(text_file(["Cobranza - noviembre", header, ["A1", "Ana", "5", "2026-01-01", "Centro"]]))
    assert f.header_row == 2 and f.header == header and records[0][0] == 3


def test_a_row_naming_only_some_required_columns_is_not_the_header():
    # a summary block above the table names "Saldo" and "Cuenta" but not every required column
    data = text_file([["Cuenta", "Saldo"], ["Total", "1.000,00"], BANK_COLUMNS, ["1", "Ana", "5", "2026-01-01", ""]])
    f, _ = rows(data)
    assert (f.header_row, f.rows_skipped_before_header) == (3, 2)


def test_without_a_header_in_the_first_20_rows_the_first_row_is_returned_to_be_refused():
    lines = [[f"nota {i}", "x"] for i in range(20)] + [BANK_COLUMNS, ["1", "Ana", "5", "2026-01-01", ""]]
    f, _ = rows(text_file(lines))
    assert (f.header_row, f.header) == (1, ["nota 0", "x"])  # parse_header then names the missing columns
    # blank rows do not count against the 20
    f, records = rows(text_file([""] * 30 + [BANK_TITLE, BANK_COLUMNS, ["1", "Ana", "5", "2026-01-01", ""]]))
    assert (f.header_row, records[0][0]) == (32, 33)


def test_a_file_of_blank_rows_has_no_header():
    with pytest.raises(FileRejected) as exc:
        rows(b";;;;\r\n\r\n  \r\n")
    assert exc.value.code == "empty_file"


# ---------------------------------------------------------------- Excel cells as typed (issue 12)
def openpyxl_workbook(rows_, *, epoch_1904=False, date_cells=()):
    """An .xlsx written by openpyxl: ``rows_`` as typed cells; cells at ``date_cells`` (row, col),
    0-based, get a date format."""
    from openpyxl import Workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    wb = Workbook()
    if epoch_1904:
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    for r, cells in enumerate(rows_, 1):
        for c, value in enumerate(cells, 1):
            if value is not None:
                cell = ws.cell(row=r, column=c, value=value)
                if (r - 1, c - 1) in date_cells:
                    cell.number_format = "DD/MM/YYYY"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def xlsxwriter_workbook(rows_, *, epoch_1904=False, date_cells=()):
    """The same, written by XlsxWriter (another library, as a lender's system would be)."""
    import datetime as dt

    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "date_1904": epoch_1904})
    ws = wb.add_worksheet("Cartera")
    date_format = wb.add_format({"num_format": "dd/mm/yyyy"})
    for r, cells in enumerate(rows_):
        for c, value in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, (dt.date, dt.datetime)):
                ws.write_datetime(r, c, value, date_format)
            elif isinstance(value, str) and value.startswith("="):
                ws.write_formula(r, c, value, None, 0)
            elif isinstance(value, (int, float)) and (r, c) in date_cells:
                ws.write_number(r, c, value, date_format)
            else:
                ws.write(r, c, value)
    wb.close()
    return out.getvalue()


WRITERS = {"openpyxl": openpyxl_workbook, "xlsxwriter": xlsxwriter_workbook}


def read_rows(data):
    """The reader and the row validator together, as ingestion runs them."""
    from cobranza.portfolio.rows import RowValidator, parse_header

    f = open_portfolio(io.BytesIO(data), "portfolios/t/cartera.xlsx")
    validator = RowValidator(parse_header(f.header), phone_region="MX", currency="MXN",
                             timezone="America/Mexico_City", date_epoch=f.date_epoch)
    return f, [(n, *validator.validate(n, values)) for n, values in f.records]


@pytest.mark.parametrize("writer", WRITERS)
def test_excel_dates_amounts_ids_and_phones_read_as_typed(writer):
    import datetime as dt

    header = ["No. Crédito", "Nombre del Acreditado", "Saldo Total", "Fecha de Vencimiento", "Teléfono Celular", "C.P."]
    data = WRITERS[writer]([
        [BANK_TITLE],
        [],
        header,
        [4000100, "Ana", 1234.56, dt.datetime(2026, 10, 17), 2227622681, 3100],      # a real date cell
        [4000101.0, "Beto", 24199.5, 46356, 525512345678, 72000],                    # a serial date, General format
        [123456789012345, "Caro", 10, 46356.75, 5516113059.0, None],                 # 15-digit id, a date-time serial
        ["A-7", "Dora", "1.234,56", "30/11/2026", "55 1611 3059", "03100"],          # text cells still work
    ])
    f, results = read_rows(data)
    assert (f.header_row, f.rows_skipped_before_header) == (3, 2)
    assert [n for n, _, _ in results] == [4, 5, 6, 7]
    assert all(problems == [] for _, _, problems in results), results
    accounts = [row for _, row, _ in results]
    assert [a.account_id for a in accounts] == ["4000100", "4000101", "123456789012345", "A-7"]
    assert [a.balance for a in accounts] == [Decimal("1234.56"), Decimal("24199.50"), Decimal("10.00"), Decimal("1234.56")]
    assert [a.due_date for a in accounts] == [date(2026, 10, 17), date(2026, 11, 30), date(2026, 11, 30), date(2026, 11, 30)]
    assert [a.phone for a in accounts] == ["+522227622681", "+525512345678", "+525516113059", "+525516113059"]
    assert [a.postal_code for a in accounts] == ["03100", "72000", None, "03100"]  # a number lost its leading zero


@pytest.mark.parametrize("writer", WRITERS)
def test_a_1904_workbook_reads_its_dates_and_serials_in_its_own_system(writer):
    import datetime as dt

    data = WRITERS[writer]([
        ["cuenta", "nombre", "saldo", "vencimiento"],
        ["A1", "Ana", 10, dt.date(2026, 11, 30)],
        ["A2", "Beto", 10, 44894],  # 2026-11-30 counted from 1904-01-01 (it would be 2022-11-29 in 1900)
    ], epoch_1904=True)
    f, results = read_rows(data)
    assert f.date_epoch == date(1904, 1, 1)
    assert [row.due_date for _, row, _ in results] == [date(2026, 11, 30), date(2026, 11, 30)]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_date_formatted_serial_cell_is_a_date_and_a_serial_in_a_text_cell_is_not(writer):
    data = WRITERS[writer]([
        ["cuenta", "nombre", "saldo", "vencimiento"],
        ["A1", "Ana", 10, 46356],      # number with a date format: the writer's reader sees a date
        ["A2", "Beto", 10, "46356"],   # text: not a date (SPEC §3 formats only)
    ], date_cells={(1, 3)})
    _, results = read_rows(data)
    assert results[0][1].due_date == date(2026, 11, 30)
    assert results[1][1] is None and [p.code for p in results[1][2]] == ["invalid_date"]


def patched_sheet(data: bytes, *replacements: tuple[bytes, bytes]) -> bytes:
    """The workbook with its first sheet's XML edited (what other writers put there)."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                for old, new in replacements:
                    assert old in content, old
                    content = content.replace(old, new)
            target.writestr(item, content)
    return out.getvalue()


def zipfile_member(data: bytes, name: str) -> bytes:
    import zipfile

    return zipfile.ZipFile(io.BytesIO(data)).read(name)


def test_full_precision_numbers_as_excel_stores_them_read_without_noise():
    # Excel writes 17 significant digits: a balance computed by a formula carries binary noise,
    # other tools write whole numbers as 4000100.0 or with an exponent
    data = openpyxl_workbook([["cuenta", "nombre", "saldo", "vencimiento", "telefono"],
                              [4000100, "Ana", 1234.56, 46356, 5512345678],
                              [4000101, "Beto", 99.9, 46356, 5512345679]])
    data = patched_sheet(data, (b"<v>4000100</v>", b"<v>4000100.0</v>"), (b"<v>1234.56</v>", b"<v>1234.5600000000002</v>"),
                         (b"<v>5512345678</v>", b"<v>5.512345678E+9</v>"), (b"<v>4000101</v>", b"<v>4.000101E6</v>"))
    assert b"<v>99.90000000000001</v>" in zipfile_member(data, "xl/worksheets/sheet1.xml")  # openpyxl's own 17 digits
    _, results = read_rows(data)
    assert [(r.account_id, r.balance, r.phone) for _, r, _ in results] == [
        ("4000100", Decimal("1234.56"), "+525512345678"), ("4000101", Decimal("99.90"), "+525512345679")]


def test_a_wrong_sheet_dimension_loses_no_row_or_column():
    # some writers declare <dimension ref="A1"/> whatever the sheet holds; read-only openpyxl trusts it
    data = openpyxl_workbook([[BANK_TITLE], [], ["cuenta", "nombre", "saldo", "vencimiento"],
                              ["A1", "Ana", 10, 46356], ["A2", "Beto", 20, 46356]])
    data = patched_sheet(data, (b'<dimension ref="A1:D5"', b'<dimension ref="A1"'))
    f, results = read_rows(data)
    assert f.header == ["cuenta", "nombre", "saldo", "vencimiento"]
    assert [(n, row.account_id, row.balance) for n, row, _ in results] == [(4, "A1", Decimal("10.00")), (5, "A2", Decimal("20.00"))]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_trailing_total_row_reaches_the_validator_as_a_summary_row(writer):
    from cobranza.portfolio.rows import RowValidator, TrailingSummary, parse_header

    data = WRITERS[writer]([[BANK_TITLE], [], ["cuenta", "nombre", "saldo", "vencimiento"],
                            [1, "Ana", 10, 46356], [2, "Beto", 20, 46356], [], ["TOTAL", None, "=SUM(C4:C5)"]])
    f = open_portfolio(io.BytesIO(data), "portfolios/t/x.xlsx")
    validator = RowValidator(parse_header(f.header), phone_region="MX", currency="MXN", timezone="America/Mexico_City")
    records = TrailingSummary(f.records, validator.is_summary_row)
    assert [n for n, _ in records] == [4, 5] and records.skipped == 1
