"""The chunked pipeline's runs (gzipped JSON lines in S3, one line per accepted row): written by
orjson, read back as the same data, including what orjson refuses and runs written by
``json.dumps`` before it (an upload in flight while the code is deployed)."""
from __future__ import annotations

import gzip
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from cobranza.portfolio import pipeline
from cobranza.portfolio.pipeline import _json_line, _JsonLines, _read_line

WIRE = st.dictionaries(st.text(min_size=1, max_size=5),
                       st.one_of(st.builds(lambda t: {"S": t}, st.text(max_size=8)),
                                 st.builds(lambda n: {"N": str(n)}, st.integers(-10**40, 10**40)),
                                 st.builds(lambda b: {"BOOL": b}, st.booleans())), max_size=6)
ENTRIES = st.tuples(st.text(max_size=12), st.integers(2, 10**7), st.text(max_size=32), WIRE).map(list)


@given(ENTRIES)
def test_an_entry_reads_back_as_it_was_and_as_json_reads_it(entry):
    line = _json_line(entry)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert _read_line(line) == entry == json.loads(line)


def test_non_ascii_is_written_as_utf8_and_reads_the_same():
    entry = ["07|A-1", 2, "h", {"debtor_name": {"S": "Verónica Ñúñez 😀"}}]
    line = _json_line(entry)
    assert "Verónica Ñúñez 😀".encode() in line
    assert _read_line(line) == entry


def test_what_orjson_refuses_is_written_and_read_by_json():
    for entry in (["07|A-1", 2, "h", {"note": {"S": "lone \ud800 surrogate"}}],
                  ["07|A-1", 2**70, "h", {}],  # orjson would read it back as a float
                  ["07|A-1", -(2**64), "h", {}]):
        line = _json_line(entry)
        assert line == b" " + json.dumps(entry, separators=(",", ":")).encode() + b"\n"
        assert _read_line(line) == entry
        assert type(_read_line(line)[1]) is int


def test_a_run_written_by_json_dumps_before_reads_the_same():
    entry = ["07|A-1", 2, "h", {"debtor_name": {"S": "Verónica"}, "balance": {"N": "12.50"}}]
    assert _read_line(json.dumps(entry, separators=(",", ":")).encode() + b"\n") == entry


def test_a_spool_of_lines_reads_back_in_order(monkeypatch):
    entries = [[f"{i % 64:02d}|A-{i}", i + 2, "h", {"n": {"S": f"ñ{i}"}}] for i in range(500)]
    spool = _JsonLines()
    for entry in entries:
        spool.add(entry)
    stored: list[bytes] = []
    spool.upload(lambda fh: stored.append(fh.read()))
    monkeypatch.setattr(pipeline.files, "open_work_file", lambda bucket, key: io.BytesIO(stored[0]))
    assert list(pipeline._read_lines("key", "bucket")) == entries
    assert gzip.decompress(stored[0]).count(b"\n") == 500
