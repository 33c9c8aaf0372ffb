"""Streaming readers for portfolio files: CSV (any of the encodings and delimiters lenders
export), gzip-compressed CSV and XLSX (first sheet).

Memory does not grow with the file: CSV is decoded and parsed as it streams from S3; XLSX
(a zip, which needs random access) is spooled to a temporary file and read with openpyxl's
read-only mode. Row numbers are what a spreadsheet shows: they count from the sheet's first row
(a header on row 3 makes the first data row 4), a quoted field with newlines stays one row, and
blank lines count as rows.

The header is the first of the first ``HEADER_SEARCH_ROWS`` non-blank rows that names every
required field (``is_header``, by default ``portfolio.rows.is_header_row``); the rows above it
(a title, an export date, blank lines) are skipped and counted (``rows_skipped_before_header``).
If no such row is found, the first non-blank row is returned as the header, so that the caller's
header check names the missing columns. XLSX cells arrive as typed (numbers, dates, booleans);
``date_epoch`` tells the validator how to read a serial-number date.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO, Callable, Iterator, Sequence

MAGIC_XLSX = b"PK\x03\x04"
MAGIC_GZIP = b"\x1f\x8b"
_BINARY_MAGICS = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\xd0\xcf\x11\xe0", b"Rar!", b"7z\xbc\xaf")
DELIMITERS = (",", ";", "|", "\t")
_SNIFF = 64 * 1024
#: The header is looked for among this many non-blank rows at the top of a file.
HEADER_SEARCH_ROWS = 20

HeaderTest = Callable[[Sequence[Any]], bool]
Numbered = tuple[int, Sequence[Any]]  # (row number as a spreadsheet shows it, cells)

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
    header_row: int = 1       # the header's row number, as a spreadsheet shows it
    date_epoch: date | None = None  # XLSX only: day 0 of the workbook's serial dates (1900 or 1904 system)

    @property
    def rows_skipped_before_header(self) -> int:
        """Rows above the header (a title, blank lines): skipped, not data rows."""
        return self.header_row - 1


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


def binary_stream(source: Any, buffer_size: int = _SNIFF) -> io.BufferedReader[_Raw]:
    """A buffered, line-iterable binary stream over anything with ``read(n)``."""
    return io.BufferedReader(_Raw(source), buffer_size=buffer_size)


def open_portfolio(source: Any, key: str = "", is_header: HeaderTest | None = None) -> PortfolioFile:
    """Opens a portfolio from a binary stream and finds its header; raises FileRejected for
    unusable files. ``is_header`` tells the header row (default: the portfolio's required fields)."""
    if is_header is None:
        from .rows import is_header_row
        is_header = is_header_row
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
        return _open_csv(inner, inner_head, "csv.gz", is_header)
    if head.startswith(MAGIC_XLSX):
        return _open_xlsx(stream, is_header)
    if key.lower().endswith((".xlsx", ".xls")):
        raise FileRejected("unreadable_xlsx", "the file is named .xlsx but is not an Excel workbook")
    return _open_csv(stream, head, "csv", is_header)


def find_header(rows: Iterator[Numbered], is_header: HeaderTest) -> tuple[int, Sequence[Any], list[Numbered]] | None:
    """The header among ``rows`` ((row_number, cells), blank rows included): the first of the
    first HEADER_SEARCH_ROWS non-blank rows that ``is_header`` accepts, else the first non-blank
    row; None when every row is blank. Returns (row number, cells, the non-blank rows read after
    it, which come before the rest of ``rows``). Reads no further than the header, or than the
    last row looked at."""
    first: Numbered | None = None
    after: list[Numbered] = []
    seen = 0
    for number, cells in rows:
        if _blank(cells):
            continue
        if is_header(cells):
            return number, cells, []
        if first is None:
            first = (number, cells)
        else:
            after.append((number, cells))
        seen += 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    return None if first is None else (first[0], first[1], after)


def _blank(cells: Sequence[Any]) -> bool:
    return not any(c is not None and (c.strip() if isinstance(c, str) else True) for c in cells)


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


def detect_layout(sample: str, is_header: HeaderTest) -> str | None:
    """The delimiter with which a header shows up in the first rows of ``sample`` (the earliest
    header wins, then the widest); None if no delimiter gives one."""
    found: list[tuple[int, int, int, str]] = []
    for order, delimiter in enumerate(DELIMITERS):
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
        try:
            hit = find_header(enumerate(reader, 1), is_header)
        except csv.Error:  # a quoted field cut at the end of the sample
            hit = None
        if hit is not None and not hit[2] and is_header(hit[1]):
            found.append((hit[0], -len(hit[1]), order, delimiter))
    return min(found)[3] if found else None


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


def _open_csv(stream: io.BufferedReader[_Raw], head: bytes, fmt: str, is_header: HeaderTest) -> PortfolioFile:
    if any(head.startswith(m) for m in _BINARY_MAGICS) or b"\x00" in head[:4096]:
        if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FileRejected("not_csv", "the file is not a CSV, CSV.gz or XLSX portfolio")
    encoding = detect_encoding(head)
    # Bytes the encoding cannot decode become U+FFFD; the validator reports the field.
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    sample = head.decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="replace").lstrip("\ufeff")
    delimiter = detect_layout(sample, is_header)
    if delimiter is None:  # no header in the sample: the first non-blank line decides, as before
        first_line = next((line for line in sample.splitlines() if line.strip()), "")
        delimiter = detect_delimiter(first_line)
    numbered = enumerate(csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, strict=False), 1)
    try:
        found = find_header(numbered, is_header)
    except csv.Error as exc:
        raise FileRejected("malformed_csv", f"the header cannot be read: {exc}") from None
    if found is None:
        raise FileRejected("empty_file", "the file has no header row")
    header_row, header, after = found
    return PortfolioFile(fmt, encoding, delimiter, list(header), _csv_records(after, numbered, header_row), head,
                         header_row=header_row)


def _csv_records(after: list[Numbered], numbered: Iterator[tuple[int, list[str]]], row_number: int) -> Iterator[Numbered]:
    yield from after
    try:
        for row_number, record in numbered:
            if record and any(cell.strip() for cell in record):
                yield row_number, record
    except csv.Error as exc:
        raise FileRejected("malformed_csv", f"the file cannot be parsed after row {row_number}: {exc}") from None


# ---------------------------------------------------------------- XLSX
def _open_xlsx(stream: BinaryIO, is_header: HeaderTest) -> PortfolioFile:
    from openpyxl import load_workbook  # imported here: only XLSX uploads pay for it

    spool = tempfile.TemporaryFile()
    shutil.copyfileobj(stream, spool, length=1024 * 1024)
    spool.seek(0)
    try:
        workbook = load_workbook(spool, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged archives
        spool.close()
        raise FileRejected("unreadable_xlsx", f"the workbook cannot be opened: {type(exc).__name__}") from None

    def close() -> None:
        workbook.close()
        spool.close()

    try:
        sheet = workbook.worksheets[0]
        # The <dimension> a writer declares can be wrong (some write A1:A1); trusting it would
        # cut rows or columns. Without it every row is read as wide as its last cell.
        sheet.reset_dimensions()
        rows = enumerate(sheet.iter_rows(values_only=True), 1)  # missing rows come as empty ones
        found = find_header(rows, is_header)
    except Exception as exc:
        close()
        raise FileRejected("unreadable_xlsx", f"the first sheet cannot be read: {type(exc).__name__}") from None
    if found is None:
        close()
        raise FileRejected("empty_file", "the first sheet has no header row")
    header_row, header_cells, after = found
    header = _without_trailing_empty(header_cells)
    epoch = workbook.epoch.date()
    records = _xlsx_records(itertools.chain(after, rows), len(header), close)
    return PortfolioFile("xlsx", None, None, header, records, header_row=header_row, date_epoch=epoch)


def _without_trailing_empty(cells: Sequence[Any]) -> list[Any]:
    """The cells as a list, without the empty ones (None or "") at the end of the row."""
    trimmed = list(cells)
    while trimmed and trimmed[-1] in (None, ""):
        trimmed.pop()
    return trimmed


def _xlsx_records(rows: Iterator[tuple[int, Sequence[Any]]], width: int, close: Callable[[], None]) -> Iterator[tuple[int, Sequence[Any]]]:
    """The non-blank data rows, trimmed of trailing empty cells and padded to the header's
    ``width``; ``close`` runs once they are read (or the reading stops)."""
    try:
        for number, values in rows:
            if values and not _blank(values):
                trimmed = _without_trailing_empty(values)
                if len(trimmed) < width:
                    trimmed.extend([None] * (width - len(trimmed)))
                yield number, trimmed
    finally:
        close()
