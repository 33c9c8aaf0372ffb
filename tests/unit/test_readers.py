"""SPEC §3: file formats, encodings, delimiters and row numbers as a spreadsheet shows them."""
import gzip
import io
from pathlib import Path

import pytest

from cobranza.files.readers import FileRejected, open_portfolio
from cobranza.files.reports import safe_cell

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "cartera_banco_cp1252.csv"


def rows(data: bytes, key="portfolios/t/x.csv"):
    f = open_portfolio(io.BytesIO(data), key)
    return f, list(f.records)


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared sample not present")
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
