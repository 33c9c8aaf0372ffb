"""Upload reports: rejects.csv (one line per problem, in row order) and summary.json."""
from __future__ import annotations

import csv
import heapq
import io
import json
import tempfile
from typing import IO, TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # keeps the API's cold start free of the row validator's imports
    from .rows import Problem

REJECTS_HEADER = ("row_number", "severity", "account_id", "field", "code", "message", "raw_value")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def problem_row(p: Problem) -> list[str]:
    return [str(p.row_number), p.severity] + [safe_cell(v) for v in (p.account_id, p.field, p.code, p.message, p.raw_value)]


def problem_rows_in_order(problems: Iterable[Problem]) -> list[list[str]]:
    return [problem_row(p) for p in sorted(problems, key=lambda p: p.row_number)]


class ProblemLog:
    """Problems spooled to a temporary file as they are found (in row order), plus late ones
    (found out of order, like duplicates); ``rejects_csv()`` merges both in row order."""

    def __init__(self) -> None:
        self._file = _text_spool()
        self._writer = csv.writer(self._file, lineterminator="\r\n")
        self._late: list[Problem] = []
        self._detached = False
        self.count = 0

    def add(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            self._writer.writerow(problem_row(p))
            self.count += 1

    def add_late(self, problem: Problem) -> None:
        self._late.append(problem)
        self.count += 1

    def rows(self) -> IO[bytes]:
        """The problems added in row order (CSV rows, no header), as a binary stream (once)."""
        self._file.flush()
        raw = self._file.detach()
        raw.seek(0)
        self._detached = True
        return raw

    def late_rows(self) -> list[list[str]]:
        return problem_rows_in_order(self._late)

    def rejects_csv(self) -> IO[bytes]:
        """A binary stream of the complete rejects.csv."""
        late = self.late_rows()
        with self.rows() as rows:
            return assemble_rejects([csv.reader(io.TextIOWrapper(rows, encoding="utf-8", newline="")), late])

    def close(self) -> None:
        if not self._detached and not self._file.closed:
            self._file.close()


def assemble_rejects(sorted_parts: Iterable[Iterable[list[str]]]) -> IO[bytes]:
    """rejects.csv (header and rows) from parts whose rows are each in row order."""
    merged = heapq.merge(*sorted_parts, key=lambda r: int(r[0]))
    out = _text_spool()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REJECTS_HEADER)
    writer.writerows(merged)
    out.flush()
    raw = out.detach()
    raw.seek(0)
    return raw


def summary_json(summary: dict[str, Any]) -> bytes:
    return json.dumps(summary, ensure_ascii=False, indent=2, default=str).encode()


def _text_spool() -> io.TextIOWrapper[IO[bytes]]:
    return io.TextIOWrapper(tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024), encoding="utf-8", newline="")
