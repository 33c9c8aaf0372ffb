"""Splits a large CSV portfolio into byte ranges that start and end on record boundaries.

The file is read once with the ``csv`` module itself (fed one physical line at a time, so the
byte offset after every record is known exactly): a quoted field with newlines or delimiters
never straddles two chunks, and each chunk knows the spreadsheet row number of its first
record. A chunk worker then reads ``bytes=start-(end-1)`` and parses it exactly as the whole
file would have been parsed, numbering rows from ``first_row``.

While it reads, the splitter keeps a bounded sample of account ids, in the order the merge reads
the stored accounts in (``order``: ``accounts.store.placement``); their quantiles cut that order
into ranges so that the merge with the stored accounts can also run in parallel, one range per
worker.

Only single-byte-safe encodings split this way (UTF-8 and Windows-1252: a ``\\n`` byte is always
a line end); gzip, XLSX, UTF-16 and files with bare ``\\r`` line ends are processed whole.
"""
from __future__ import annotations

import csv
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

from .readers import FileRejected

MAX_SAMPLE = 20_000
_BARE_CR = re.compile(rb"(?<=\r)(?!\n)")


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int        # byte offset of its first record
    end: int          # byte offset just after its last record
    first_row: int    # spreadsheet row number of the record at ``start``


@dataclass
class SplitPlan:
    header: list[str]
    header_row: int
    chunks: list[Chunk]
    boundaries: list[str]   # range boundaries (placements): range r is [boundaries[r-1], boundaries[r])
    records: int            # physical records after the header (blank lines included)

    @property
    def ranges(self) -> int:
        return len(self.boundaries) + 1


def splittable(encoding: str, head: bytes) -> bool:
    """Whether ``head`` (the start of the file) belongs to a file that can be split by bytes."""
    if encoding not in ("utf-8", "utf-8-sig", "cp1252"):
        return False
    return b"\n" in head or b"\r" not in head


class _Lines:
    """Decoded physical lines of a binary stream, with the byte offset after the last one.

    Lines end at ``\n``, ``\r\n`` or a bare ``\r``, as with ``open(..., newline="")``, which
    is what the whole-file reader gives the csv module."""

    def __init__(self, stream: BinaryIO, encoding: str, offset: int = 0):
        self._stream = stream
        self._encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.offset = offset

    def __iter__(self) -> Iterator[str]:
        decode, encoding = bytes.decode, self._encoding
        for raw in self._stream:
            if b"\r" in raw[:-2]:
                for piece in _BARE_CR.split(raw):
                    if piece:
                        self.offset += len(piece)
                        yield decode(piece, encoding, "replace")
            else:
                self.offset += len(raw)
                yield decode(raw, encoding, "replace")


def plan_split(stream: BinaryIO, encoding: str, delimiter: str, id_column: int | None, chunk_bytes: int,
               header_row: int = 0, last_chunk_rows: int = 0, chunk_rows: int = 0,
               order: Callable[[str], str] = str) -> SplitPlan:
    """Reads the whole stream once and returns the chunks (about ``chunk_bytes`` each, and at
    most ``chunk_rows`` non-blank records each when given) and as many account-id ranges.

    ``stream`` is binary and iterable by lines (``io.BufferedReader`` over the S3 body).
    ``id_column`` is the index of the account_id column in the header. ``header_row`` is the
    header's row number as the reader found it (rows above it are a title, skipped); 0 takes the
    first non-blank row. The last chunk holds at least ``last_chunk_rows`` non-blank records (or
    the whole file), so that a trailing summary block is never cut between two parts. A file
    the csv module cannot parse raises FileRejected, before any part is queued. The ranges cut
    the accounts in the order ``order`` gives their ids (the order the merges read them in).
    """
    try:
        return _plan_split(stream, encoding, delimiter, id_column, chunk_bytes, header_row, last_chunk_rows, chunk_rows,
                           order)
    except csv.Error as exc:
        raise FileRejected("malformed_csv", f"the file cannot be parsed: {exc}") from None


def _plan_split(stream: BinaryIO, encoding: str, delimiter: str, id_column: int | None, chunk_bytes: int,
                header_row: int, last_chunk_rows: int, chunk_rows: int, order: Callable[[str], str]) -> SplitPlan:
    lines = _Lines(stream, encoding)
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    header, row = _find_header(reader, header_row)
    if header is None:
        return SplitPlan([], row, [], [], 0)
    header_row = row
    chunks: list[Chunk] = []
    start, first_row = lines.offset, row + 1
    sample: list[str] = []
    stride, records = 1, 0
    filled: list[int] = []  # non-blank records per chunk
    nonblank = 0
    for record in reader:
        row += 1
        records += 1
        if record and any(cell.strip() for cell in record):
            nonblank += 1
        if id_column is not None and records % stride == 0 and len(record) > id_column:
            value = record[id_column].strip()
            if value:
                sample.append(order(value))
                if len(sample) >= MAX_SAMPLE:
                    sample = sample[::2]
                    stride *= 2
        if lines.offset - start >= chunk_bytes or (chunk_rows and nonblank >= chunk_rows):
            chunks.append(Chunk(len(chunks), start, lines.offset, first_row))
            filled.append(nonblank)
            start, first_row, nonblank = lines.offset, row + 1, 0
    if lines.offset > start:
        chunks.append(Chunk(len(chunks), start, lines.offset, first_row))
        filled.append(nonblank)
    _keep_last_rows_together(chunks, filled, last_chunk_rows)
    return SplitPlan(header, header_row, chunks, range_boundaries(sample, len(chunks)), records)


def _find_header(reader: Iterator[list[str]], header_row: int) -> tuple[list[str] | None, int]:
    """Reads up to the header: the record on row ``header_row``, or (``header_row`` 0) the
    first non-blank one, without a UTF-8 BOM. Returns it (None at the end of the file) and the
    number of rows read."""
    row = 0
    for record in reader:
        row += 1
        if row == header_row or (header_row <= 0 and any(cell.strip() for cell in record)):
            if row == 1 and record and record[0].startswith("\ufeff"):
                record[0] = record[0][1:]
            return record, row
    return None, row


def _keep_last_rows_together(chunks: list[Chunk], filled: list[int], last_chunk_rows: int) -> None:
    """Merges the last chunk into the one before it until it holds at least ``last_chunk_rows``
    non-blank records (``filled``: per chunk) or is the only one: the file's last rows stay in
    one part."""
    while len(chunks) > 1 and filled[-1] < last_chunk_rows:
        last, before = chunks.pop(), chunks.pop()
        chunks.append(Chunk(before.index, before.start, last.end, before.first_row))
        filled[-2:] = [filled[-2] + filled[-1]]


def range_boundaries(sample: list[str], ranges: int) -> list[str]:
    """``ranges - 1`` increasing sample values cutting the sample into parts of equal size."""
    if ranges <= 1 or not sample:
        return []
    ordered = sorted(set(sample))
    cuts: list[str] = []
    for r in range(1, ranges):
        value = ordered[min(len(ordered) - 1, r * len(ordered) // ranges)]
        if not cuts or value > cuts[-1]:
            cuts.append(value)
    return cuts


def range_of(account_id: str, boundaries: list[str]) -> int:
    return bisect_right(boundaries, account_id)


def range_bounds(boundaries: list[str], index: int) -> tuple[str | None, str | None]:
    """(lowest id included or None, first id excluded or None) of range ``index``."""
    low = boundaries[index - 1] if index > 0 else None
    high = boundaries[index] if index < len(boundaries) else None
    return low, high


def chunk_records(stream: Any, encoding: str, delimiter: str, first_row: int) -> Iterator[tuple[int, list[str]]]:
    """(row_number, values) of the records of one chunk's bytes, blank lines skipped (as the
    whole-file reader does). The splitter parsed these bytes already: a csv error here is a bug
    or a changed object, and raises."""
    reader = csv.reader(_Lines(stream, encoding), delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    row = first_row - 1
    for record in reader:
        row += 1
        if record and any(cell.strip() for cell in record):
            yield row, record
