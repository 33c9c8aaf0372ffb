"""Large CSV files split on record boundaries: the chunks parse exactly like the whole file."""
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cobranza.portfolio.readers import open_portfolio
from cobranza.portfolio.splitting import chunk_records, plan_split, range_boundaries, range_bounds, range_of

HEADER = "cuenta;nombre;saldo;vencimiento;domicilio\r\n"


def whole_file(data: bytes) -> list[tuple[int, list[str]]]:
    portfolio = open_portfolio(io.BytesIO(data), "x.csv")
    return [(n, list(v)) for n, v in portfolio.records]


def split_file(data: bytes, chunk_bytes: int, encoding: str = "utf-8", delimiter: str = ";"):
    plan = plan_split(io.BufferedReader(io.BytesIO(data)), encoding, delimiter, 0, chunk_bytes)
    records = []
    for chunk in plan.chunks:
        part = io.BufferedReader(io.BytesIO(data[chunk.start:chunk.end]))
        records.extend((n, list(v)) for n, v in chunk_records(part, encoding, delimiter, chunk.first_row))
    return plan, records


def test_quoted_newlines_blank_lines_and_crlf_parse_the_same_in_chunks():
    rows = []
    for i in range(300):
        address = f'"Calle {i};\r\nCol. Centro\nCP ""{i}"""' if i % 7 == 0 else f"Calle {i}"
        rows.append(f"A{i:04d};Ana María;1.234,56;31/01/2026;{address}\r\n")
        if i % 50 == 0:
            rows.append("\r\n")  # a blank line still counts as a row
    data = (HEADER + "".join(rows)).encode()
    plan, records = split_file(data, chunk_bytes=700)
    assert len(plan.chunks) > 10
    assert plan.chunks[0].first_row == 2 and plan.chunks[-1].end == len(data)
    assert all(a.end == b.start for a, b in zip(plan.chunks, plan.chunks[1:]))
    assert records == whole_file(data)


def test_windows_1252_bytes_and_a_bom_split_like_the_whole_file():
    rows = "".join(f"A{i};Peña Núñez;100;2026-01-31;Mérida\r\n" for i in range(200))
    data = (HEADER + rows).encode("cp1252")
    plan, records = split_file(data, 512, encoding="cp1252")
    assert records == whole_file(data) and records[0][1][1] == "Peña Núñez"
    bom = b"\xef\xbb\xbf" + (HEADER + rows).encode()
    plan, records = split_file(bom, 512, encoding="utf-8-sig")
    assert plan.header[0] == "cuenta" and records == whole_file(bom)


def test_bare_carriage_returns_end_lines_as_in_the_whole_file_reader():
    data = (HEADER + "A1;Ana;1;2026-01-31;x\rA2;Bo;2;2026-01-31;y\r\nA3;Cy;3;2026-01-31;\"q\rq\"\n").encode()
    plan, records = split_file(data, 8)
    assert records == whole_file(data)
    assert [n for n, _ in records] == [2, 3, 4]


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(st.lists(st.text(alphabet="ab;\"\r\n ñ", max_size=6), min_size=5, max_size=5), min_size=1, max_size=40),
    chunk_bytes=st.integers(min_value=1, max_value=200),
)
def test_any_quoted_content_splits_into_the_same_records(cells, chunk_bytes):
    lines = []
    for row in cells:
        lines.append(";".join('"' + c.replace('"', '""') + '"' for c in row) + "\r\n")
    data = (HEADER + "".join(lines)).encode()
    _, records = split_file(data, chunk_bytes)
    assert records == whole_file(data)


def test_range_boundaries_cut_the_account_ids_into_equal_parts():
    sample = [f"A{i:05d}" for i in range(1000)]
    cuts = range_boundaries(sample, 4)
    assert cuts == ["A00250", "A00500", "A00750"]
    assert [range_of(a, cuts) for a in ("A00000", "A00249", "A00250", "A00999", "Z")] == [0, 0, 1, 3, 3]
    assert range_bounds(cuts, 0) == (None, "A00250") and range_bounds(cuts, 3) == ("A00750", None)
    assert range_boundaries(["A1"] * 50, 4) == ["A1"]  # a repeated id gives fewer ranges, never empty ones


@pytest.mark.parametrize("chunk_bytes", [1, 64, 10_000_000])
def test_chunks_cover_the_file_exactly_once(chunk_bytes):
    data = (HEADER + "".join(f"A{i};N;1;2026-01-31;\r\n" for i in range(100))).encode()
    plan, records = split_file(data, chunk_bytes)
    assert sum(c.end - c.start for c in plan.chunks) == len(data) - len(HEADER)
    assert len(records) == 100 and plan.records == 100


def test_a_title_above_the_header_and_the_last_rows_kept_in_one_chunk():
    rows = "".join(f"A{i:04d};Ana;100;2026-01-31;Calle {i}\r\n" for i in range(200))
    data = ("\ufeffCartera vencida al 30/11/2026;;;;\r\n;;;;\r\n" + HEADER + rows + ";;;;\r\nTOTAL;;20000;;\r\n").encode()
    portfolio = open_portfolio(io.BytesIO(data), "x.csv")
    assert portfolio.header_row == 3
    expected = [(n, list(v)) for n, v in portfolio.records]
    for tail in (0, 21):
        plan = plan_split(io.BufferedReader(io.BytesIO(data)), "utf-8-sig", ";", 0, 200,
                          header_row=portfolio.header_row, last_chunk_rows=tail)
        assert plan.header[0] == "cuenta" and plan.chunks[0].first_row == 4
        assert all(a.end == b.start for a, b in zip(plan.chunks, plan.chunks[1:])) and plan.chunks[-1].end == len(data)
        records = []
        for chunk in plan.chunks:
            part = io.BufferedReader(io.BytesIO(data[chunk.start:chunk.end]))
            records.extend((n, list(v)) for n, v in chunk_records(part, "utf-8-sig", ";", chunk.first_row))
        assert records == expected and records[-1][0] == 205
        last = plan.chunks[-1]
        last_rows = list(chunk_records(io.BufferedReader(io.BytesIO(data[last.start:last.end])), "utf-8", ";", last.first_row))
        assert len(last_rows) >= tail and [c.index for c in plan.chunks] == list(range(len(plan.chunks)))
