"""Streaming readers for portfolio files: CSV (any of the encodings and delimiters lenders
export), gzip-compressed CSV and XLSX (first sheet).

Memory does not grow with the file: CSV is decoded and parsed as it streams from S3; XLSX
(a zip, which needs random access) is spooled to a temporary file and read with openpyxl's
read-only mode. Row numbers are what a spreadsheet shows: the header is row 1, a quoted field
with newlines stays one row, and blank lines count as rows.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator, Sequence

MAGIC_XLSX = b"PK\x03\x04"
MAGIC_GZIP = b"\x1f\x8b"
_BINARY_MAGICS = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\xd0\xcf\x11\xe0", b"Rar!", b"7z\xbc\xaf")
DELIMITERS = (",", ";", "|", "\t")
_SNIFF = 64 * 1024

csv.field_size_limit(1024 * 1024)


class FileRejected(Exception):
    """The whole file cannot be read; ``code`` and ``message`` go to the summary."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class PortfolioFile:
    format: str               # csv | csv.gz | xlsx
    encoding: str | None      # CSV only
    delimiter: str | None     # CSV only
    header: list[Any]
    records: Iterator[tuple[int, Sequence[Any]]]  # (row_number, values), blank rows skipped
    head: bytes = b""         # the first bytes of the (decompressed) file


class _Raw(io.RawIOBase):
    """Adapts anything with ``read(n)`` (a botocore StreamingBody) to a raw stream."""

    def __init__(self, source: Any):
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


def binary_stream(source: Any, buffer_size: int = _SNIFF) -> io.BufferedReader:
    """A buffered, line-iterable binary stream over anything with ``read(n)``."""
    return io.BufferedReader(_Raw(source), buffer_size=buffer_size)


def open_portfolio(source: Any, key: str = "") -> PortfolioFile:
    """Opens a portfolio from a binary stream; raises FileRejected for unusable files."""
    stream = binary_stream(source)
    head = stream.peek(_SNIFF)[:_SNIFF]
    if not head:
        raise FileRejected("empty_file", "the file is empty")
    if head.startswith(MAGIC_GZIP):
        gz = gzip.GzipFile(fileobj=stream)
        inner = io.BufferedReader(_Raw(gz), buffer_size=_SNIFF)
        try:
            inner_head = inner.peek(_SNIFF)[:_SNIFF]
        except (OSError, EOFError) as exc:
            raise FileRejected("unreadable_gzip", f"the gzip file is damaged: {exc}") from None
        if not inner_head:
            raise FileRejected("empty_file", "the file is empty")
        return _open_csv(inner, inner_head, "csv.gz")
    if head.startswith(MAGIC_XLSX):
        return _open_xlsx(stream)
    if key.lower().endswith((".xlsx", ".xls")):
        raise FileRejected("unreadable_xlsx", "the file is named .xlsx but is not an Excel workbook")
    return _open_csv(stream, head, "csv")


# ---------------------------------------------------------------- CSV
def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def detect_delimiter(first_line: str) -> str:
    counts = {d: _count_outside_quotes(first_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def _open_csv(stream: io.BufferedReader, head: bytes, fmt: str) -> PortfolioFile:
    if any(head.startswith(m) for m in _BINARY_MAGICS) or b"\x00" in head[:4096]:
        if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FileRejected("not_csv", "the file is not a CSV, CSV.gz or XLSX portfolio")
    encoding = detect_encoding(head)
    # Bytes the encoding cannot decode become U+FFFD; the validator reports the field.
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    sample = head.decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="replace")
    first_line = sample.lstrip("\ufeff").splitlines()[0] if sample.strip() else ""
    delimiter = detect_delimiter(first_line)
    reader = csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    header, start = _first_record(reader)
    return PortfolioFile(fmt, encoding, delimiter, header, _csv_records(reader, start), head)


def _first_record(reader: Any) -> tuple[list[Any], int]:
    row_number = 0
    try:
        for record in reader:
            row_number += 1
            if any(cell.strip() for cell in record):
                return record, row_number
    except csv.Error as exc:
        raise FileRejected("malformed_csv", f"the header cannot be read: {exc}") from None
    raise FileRejected("empty_file", "the file has no header row")


def _csv_records(reader: Any, row_number: int) -> Iterator[tuple[int, Sequence[Any]]]:
    try:
        for record in reader:
            row_number += 1
            if record and any(cell.strip() for cell in record):
                yield row_number, record
    except csv.Error as exc:
        raise FileRejected("malformed_csv", f"the file cannot be parsed after row {row_number}: {exc}") from None


# ---------------------------------------------------------------- XLSX
def _open_xlsx(stream: BinaryIO) -> PortfolioFile:
    from openpyxl import load_workbook  # imported here: only XLSX uploads pay for it

    spool = tempfile.TemporaryFile()
    shutil.copyfileobj(stream, spool, length=1024 * 1024)
    spool.seek(0)
    try:
        workbook = load_workbook(spool, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged archives
        spool.close()
        raise FileRejected("unreadable_xlsx", f"the workbook cannot be opened: {type(exc).__name__}") from None
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    row_number = 0
    header: list[Any] | None = None
    for values in rows:
        row_number += 1
        if values and any(v not in (None, "") for v in values):
            header = list(values)
            break
    if header is None:
        workbook.close()
        spool.close()
        raise FileRejected("empty_file", "the first sheet has no header row")

    def records() -> Iterator[tuple[int, Sequence[Any]]]:
        number = row_number
        try:
            for values in rows:
                number += 1
                if values and any(v not in (None, "") for v in values):
                    trimmed = list(values)
                    while trimmed and trimmed[-1] in (None, ""):
                        trimmed.pop()
                    width = len(header)
                    if len(trimmed) < width:
                        trimmed.extend([None] * (width - len(trimmed)))
                    yield number, trimmed
        finally:
            workbook.close()
            spool.close()

    return PortfolioFile("xlsx", None, None, header, records())
