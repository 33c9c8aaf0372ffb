"""Portfolio rows (SPEC §3): header matching, field parsing and row validation.

A row is either accepted (maybe with warnings for optional fields that were dropped) or
rejected with one problem per broken rule. Nothing here reads files or talks to AWS.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ..core.mexico import canonical_state, state_timezone
from ..core.text import normalize_key
from .fastpaths import fast_e164, fast_email

#: canonical field -> (required, header aliases after normalize_key)
FIELDS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "account_id": (True, ("cuenta", "id_cuenta", "numero_cuenta", "credito", "no_credito", "numero_credito",
                          "num_credito", "num_cuenta", "no_cuenta")),
    "debtor_name": (True, ("nombre", "nombre_cliente", "cliente", "acreditado", "nombre_acreditado",
                           "nombre_completo", "deudor", "nombre_deudor")),
    "balance": (True, ("saldo", "saldo_vencido", "saldo_total", "monto_adeudado", "monto_vencido", "adeudo")),
    "due_date": (True, ("fecha_vencimiento", "vencimiento", "fecha_limite_pago")),
    "currency": (False, ("moneda",)),
    "phone": (False, ("telefono", "celular", "telefono_celular", "movil", "tel")),
    "email": (False, ("correo", "correo_electronico", "e_mail", "mail")),
    "address": (False, ("domicilio", "direccion", "calle")),
    "city": (False, ("ciudad", "municipio", "delegacion", "alcaldia")),
    "state": (False, ("estado", "entidad", "entidad_federativa")),
    "postal_code": (False, ("cp", "c_p", "codigo_postal", "postal_code")),
    "lat": (False, ("latitud", "latitude")),
    "lon": (False, ("longitud", "longitude", "lng")),
    "product": (False, ("producto",)),
    "original_amount": (False, ("monto_original", "monto_credito")),
    "risk_score": (False, ("score",)),
    "whatsapp_opt_in": (False, ("whatsapp",)),
    "timezone": (False, ("zona_horaria",)),
    "payment_reference": (False, ("referencia", "referencia_pago")),
}
REQUIRED = tuple(name for name, (required, _) in FIELDS.items() if required)


@dataclass(frozen=True, eq=False)  # hashed by identity: one table of aliases each
class Columns:
    """A kind of file's columns: canonical field -> (required, header aliases after normalize_key).
    Portfolio files have FIELDS; payment files theirs (``payments.rows``)."""

    fields: dict[str, tuple[bool, tuple[str, ...]]]
    what: str = "SPEC §3"  # where the aliases are listed, for the missing-column message

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, (required, _) in self.fields.items() if required)

    def field_of(self, key: str) -> str | None:
        """The canonical field a normalised header name stands for (None: an extra column)."""
        return _alias_table(self).get(key)


@lru_cache(maxsize=8)
def _alias_table(columns: Columns) -> dict[str, str]:
    table: dict[str, str] = {}
    for name, (_required, aliases) in columns.fields.items():
        table[name] = name
        for alias in aliases:
            table[alias] = name
    return table


PORTFOLIO = Columns(FIELDS)


class HeaderError(ValueError):
    """The header cannot be used: the whole file fails (with the missing columns named)."""


@dataclass(frozen=True)
class Header:
    names: tuple[str, ...]          # as in the file
    fields: tuple[str | None, ...]  # canonical field per column (None = extra attribute)
    attribute_names: tuple[str | None, ...]

    @property
    def width(self) -> int:
        return len(self.names)


def parse_header(raw: Sequence[Any], columns: Columns = PORTFOLIO) -> Header:
    names = tuple("" if v is None else str(v).strip() for v in raw)
    while names and names[-1] == "":
        names = names[:-1]
    fields_: list[str | None] = []
    attrs: list[str | None] = []
    seen: set[str] = set()
    for name in names:
        key = normalize_key(name)
        canonical = columns.field_of(key)
        if canonical and canonical not in seen:
            seen.add(canonical)
            fields_.append(canonical)
            attrs.append(None)
        else:
            fields_.append(None)
            attrs.append(key or None)
    missing = [f for f in columns.required if f not in seen]
    if missing:
        raise HeaderError(
            "missing required column(s): " + ", ".join(missing)
            + f" (aliases accepted: see {columns.what}; found: " + ", ".join(n for n in names if n) + ")"
        )
    return Header(names, tuple(fields_), tuple(attrs))


def is_header_row(cells: Sequence[Any], columns: Columns = PORTFOLIO) -> bool:
    """Whether a row is the header: its text cells name every required field, after the
    normalisation of SPEC §3 (case, accents, spaces, punctuation, connecting words, aliases).
    The readers look for it among a file's first rows (``portfolio.readers.HEADER_SEARCH_ROWS``)."""
    required = set(columns.required)
    found: set[str] = set()
    for cell in cells:
        if isinstance(cell, str) and cell.strip():
            name = columns.field_of(normalize_key(cell))
            if name in required:
                found.add(name)
    return found == required


@dataclass(frozen=True)
class Problem:
    row_number: int
    severity: str  # "error" rejects the row; "warning" drops the field
    account_id: str
    field: str
    code: str
    message: str
    raw_value: str


class FieldError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- amounts
_GROUPED = {
    ",": re.compile(r"\d{1,3}(?:,\d{3})+"),
    ".": re.compile(r"\d{1,3}(?:\.\d{3})+"),
}
_AMOUNT_CHARS = re.compile(r"[0-9.,]+")
#: ``1234``, ``1234.5``, ``1234.56``: no separators to interpret (the common case).
_PLAIN_AMOUNT = re.compile(r"\d{1,15}(?:\.\d{1,2})?")
_CENTS = Decimal("0.01")
_CURRENCY_NOISE = re.compile(r"(?i)\$|mxn|m\.?n\.?|usd|\s|\u00a0")


def parse_amount(raw: Any) -> Decimal:
    """``1234.56``, ``1,234.56``, ``1.234,56``, ``$ 1,234.56``, ``1234,5`` -> Decimal.

    The last separator is the decimal mark unless it is followed by exactly three digits and
    is the only kind in the string (``1,234`` and ``1.234`` are thousands). Money has at most two
    decimals (extra zeros allowed); negatives are refused.
    """
    if type(raw) is str and _PLAIN_AMOUNT.fullmatch(raw):
        return Decimal(raw).quantize(_CENTS)
    if isinstance(raw, bool):
        raise FieldError("not_a_number", "not an amount")
    if isinstance(raw, (int, Decimal)):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = _float_decimal(raw)
    else:
        text = _CURRENCY_NOISE.sub("", str(raw))
        negative = text.startswith("-") or (text.startswith("(") and text.endswith(")"))
        text = text.strip("()").lstrip("-+")
        if not text or not _AMOUNT_CHARS.fullmatch(text):
            raise FieldError("not_a_number", "not an amount")
        if negative:
            raise FieldError("negative", "amount must not be negative")
        value = _decimal_from_separators(text)
    if value < 0:
        raise FieldError("negative", "amount must not be negative")
    if value != value.quantize(Decimal("0.01")):
        raise FieldError("too_many_decimals", "amount has more than two decimals")
    return value.quantize(Decimal("0.01"))


def _float_decimal(value: float) -> Decimal:
    """A spreadsheet number as the spreadsheet shows it: 15 significant digits, as Excel keeps
    them, so binary noise (``1234.5600000000002`` from a formula) is gone."""
    if value != value or value in (float("inf"), float("-inf")):
        raise FieldError("not_a_number", "not an amount")
    return Decimal(f"{value:.15g}")


def _decimal_from_separators(text: str) -> Decimal:
    last = max(text.rfind("."), text.rfind(","))
    if last < 0:
        return Decimal(text)
    mark = text[last]
    other = "," if mark == "." else "."
    integer, decimals = text[:last], text[last + 1:]
    if other in text:
        if not decimals or not _GROUPED[other].fullmatch(integer):
            raise FieldError("ambiguous_amount", "separators do not form a valid amount")
        return Decimal(integer.replace(other, "") + "." + decimals)
    if text.count(mark) > 1:
        if not _GROUPED[mark].fullmatch(text):
            raise FieldError("ambiguous_amount", "separators do not form a valid amount")
        return Decimal(text.replace(mark, ""))
    if len(decimals) == 3 and integer and len(integer) <= 3:
        return Decimal(integer + decimals)  # 1,234 / 1.234: thousands
    if not integer or not decimals:
        raise FieldError("not_a_number", "not an amount")
    return Decimal(integer + "." + decimals)


# ---------------------------------------------------------------- dates
_ISO = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_DAY_FIRST = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})")


#: Day 0 of a workbook's serial dates: 1899-12-30 in the 1900 date system (serial 1 is 1900-01-01;
#: Excel's phantom 1900-02-29 only moves serials below 61, long before 1950), 1904-01-01 in the
#: 1904 system (old Mac workbooks). ``openpyxl``'s ``Workbook.epoch`` is one of the two.
EXCEL_1900 = date(1899, 12, 30)
EXCEL_1904 = date(1904, 1, 1)


def parse_date(raw: Any, epoch: date | None = None) -> date:
    """ISO ``2026-03-31`` or day-first ``31/03/2026``, ``31-03-2026``, ``31.03.26``; a trailing
    time (``2026-03-31 00:00:00``) is ignored. ``02/03/2026`` is the 2nd of March.

    A spreadsheet's date cell arrives as a date or datetime. A number is a serial date (days
    since ``epoch``, a time of day as the fraction) when the cell comes from a workbook
    (``epoch`` given): Excel shows ``46356`` for a date cell whose date format was lost."""
    if isinstance(raw, datetime):
        return _in_range(raw.date())
    if isinstance(raw, date):
        return _in_range(raw)
    if epoch is not None and isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        return serial_date(raw, epoch)
    return _parse_date_text(str(raw).strip())


def serial_date(serial: int | float | Decimal, epoch: date) -> date:
    """The date of a spreadsheet serial number (its whole days; the fraction is a time of day)."""
    try:
        days = int(serial)  # whole days (serials are positive: int() is the floor)
        value = epoch + timedelta(days=days)
    except (ValueError, OverflowError, ArithmeticError):
        raise FieldError("invalid_date", "not a date (use 2026-03-31 or 31/03/2026)") from None
    if serial < 1:
        raise FieldError("invalid_date", "not a date (use 2026-03-31 or 31/03/2026)")
    return _in_range(value)


def _in_range(value: date) -> date:
    if not 1950 <= value.year <= 2100:
        raise FieldError("date_out_of_range", "date outside 1950-2100")
    return value


@lru_cache(maxsize=4096)
def _parse_date_text(text: str) -> date:
    """Cached: a portfolio holds a few thousand distinct dates over a million rows."""
    head = re.split(r"[ T]", text, maxsplit=1)[0]
    m = _ISO.fullmatch(head)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    else:
        m = _DAY_FIRST.fullmatch(head)
        if not m:
            raise FieldError("invalid_date", "not a date (use 2026-03-31 or 31/03/2026)")
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
        if y < 100:
            y += 2000
    try:
        value = date(y, mo, d)
    except ValueError:
        raise FieldError("invalid_date", "no such calendar date") from None
    return _in_range(value)


# ---------------------------------------------------------------- contact data
def normalize_phone(raw: Any, region: str) -> str:
    text = raw.strip() if type(raw) is str else _text(raw)  # a number cell: 5512345678, never "5512345678.0"
    fast = fast_e164(text, region)
    if fast is not None:
        return fast
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise FieldError("invalid_phone", "not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError("invalid_phone", "not a valid phone number for its region")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: Any) -> str:
    text = str(raw).strip()
    fast = fast_email(text)
    if fast is not None:
        return fast
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise FieldError("invalid_email", "not a valid email address") from None


def parse_coordinate(raw: Any, limit: int) -> Decimal:
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        raise FieldError("invalid_coordinate", "not a number") from None
    if not value.is_finite() or abs(value) > limit:
        raise FieldError("coordinate_out_of_range", f"must be between -{limit} and {limit}")
    return value.quantize(Decimal("0.000001"))


@lru_cache(maxsize=512)
def valid_timezone(name: str) -> bool:
    if not name or "/" not in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_TRUE = frozenset({"si", "sí", "s", "true", "1", "yes", "y", "verdadero"})
_FALSE = frozenset({"no", "n", "false", "0", "falso"})


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldError("invalid_boolean", "use si/no, true/false or 1/0")


def parse_score(raw: Any) -> int:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise FieldError("invalid_score", "not a number") from None
    if value != value.to_integral_value() or not 0 <= value <= 1000:
        raise FieldError("invalid_score", "must be a whole number 0-1000")
    return int(value)


# ---------------------------------------------------------------- rows
@dataclass
class AccountRow:
    """An accepted row, normalized."""

    row_number: int
    account_id: str
    debtor_name: str
    balance: Decimal
    due_date: date
    currency: str
    timezone: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    lat: Decimal | None = None
    lon: Decimal | None = None
    product: str | None = None
    original_amount: Decimal | None = None
    risk_score: int | None = None
    whatsapp_opt_in: bool | None = None
    payment_reference: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


def _text(raw: Any) -> str:
    """A cell as text: a CSV cell stripped; a spreadsheet number as the spreadsheet shows it
    (``4000100``, never ``4000100.0`` or ``4.0001E+6``); a date as ISO."""
    if type(raw) is str:  # every cell of a CSV
        return raw.strip()
    if raw is None:
        return ""
    if isinstance(raw, float):
        return number_text(raw)
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == datetime.min.time() else raw.isoformat()
    return str(raw).strip()


def number_text(value: float) -> str:
    """A float cell as text, without exponent or binary noise (15 significant digits, as Excel
    keeps them): ids and phones stored as numbers read back as their digits."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return format(Decimal(f"{value:.15g}"), "f")


_TOTAL_LABEL = re.compile(r"(?:gran\s+|sub\s*-?\s*)?totale?s?\b|sumas?(?:\s+totale?s?)?\W*$", re.IGNORECASE)
_LABEL_INITIALS = frozenset("tTsSgG")


def is_total_label(text: str) -> bool:
    """``TOTAL``, ``Total general``, ``Totales:``, ``Gran total``, ``Subtotal``, ``Suma``,
    ``Suma total`` (but not ``Totalplay`` or ``Suma Pérez``)."""
    return bool(text) and text[0] in _LABEL_INITIALS and _TOTAL_LABEL.match(text) is not None


def _is_amount(cell: Any) -> bool:
    if isinstance(cell, bool):
        return False
    if isinstance(cell, (int, float, Decimal)):
        return True
    try:
        parse_amount(cell)
    except FieldError:
        return False
    return True


_CONTROL_CHARS = re.compile(r"[\x00-\x1f]")


class RowValidator:
    """Validates rows of one file for one tenant (the hot loop of ingestion: keep it lean)."""

    def __init__(self, header: Header, *, phone_region: str, currency: str, timezone: str,
                 date_epoch: date | None = None):
        self.header = header
        self.phone_region = phone_region
        self.currency = currency
        self.timezone = timezone
        self.date_epoch = date_epoch  # a workbook's: numbers in the due-date column are serial dates
        self._columns = tuple(zip(header.fields, header.attribute_names))
        self._id_column = header.fields.index("account_id")
        self._name_column = header.fields.index("debtor_name")
        self._optional = (
            ("currency", _parse_currency),
            ("phone", lambda v: normalize_phone(v, phone_region)),
            ("email", normalize_email),
            ("address", _text),
            ("city", _text),
            ("postal_code", _mexican_postal_code if phone_region == "MX" else _text),
            ("product", _text),
            ("payment_reference", _text),
            ("state", _text),
            ("original_amount", parse_amount),
            ("risk_score", parse_score),
            ("whatsapp_opt_in", parse_bool),
            ("timezone", _parse_timezone),
        )

    def validate(self, row_number: int, values: Sequence[Any]) -> tuple[AccountRow | None, list[Problem]]:
        by_field: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        for value, (field_name, attr) in zip(values, self._columns):
            if field_name:
                by_field[field_name] = value
            elif attr:
                text = value.strip() if type(value) is str else _text(value)
                if text:
                    attributes[attr] = text
        raw_id = _text(by_field.get("account_id"))
        problems: list[Problem] = []

        def problem(severity: str, name: str, code: str, message: str, raw: Any) -> None:
            problems.append(Problem(row_number, severity, raw_id, name, code, message, _text(raw)))

        if len(values) != self.header.width and self._wrong_width(values, problem):
            return None, problems
        name, balance, due = self._required(by_field, raw_id, problem)
        rejected = bool(problems)
        # optional fields: checked on a rejected row too, so rejects.csv lists every problem of it
        parsed = self._optional_fields(by_field, problem)
        coordinates = self._coordinates(by_field, problem) if "lat" in by_field or "lon" in by_field else None
        if rejected:
            return None, problems
        assert balance is not None and due is not None  # nosec B101  # type narrowing: a missing one was a problem, returned above
        raw_state = parsed.get("state")
        row = AccountRow(
            row_number, raw_id, name, balance, due,
            currency=parsed.get("currency") or self.currency,
            timezone=parsed.get("timezone") or (state_timezone(raw_state) if raw_state else None) or self.timezone,
            phone=parsed.get("phone"),
            email=parsed.get("email"),
            address=parsed.get("address") or None,
            city=parsed.get("city") or None,
            state=(canonical_state(raw_state) or raw_state) if raw_state else None,
            postal_code=parsed.get("postal_code") or None,
            product=parsed.get("product") or None,
            original_amount=parsed.get("original_amount"),
            risk_score=parsed.get("risk_score"),
            whatsapp_opt_in=parsed.get("whatsapp_opt_in"),
            payment_reference=parsed.get("payment_reference") or None,
            attributes=attributes,
        )
        if coordinates is not None:
            row.lat, row.lon = coordinates
        return row, problems

    def _wrong_width(self, values: Sequence[Any], problem: Callable[[str, str, str, str, Any], None]) -> bool:
        """Whether a row with another number of fields than the header is rejected for it (too
        few, or too many with a non-empty extra one; reported). Only called for such a row."""
        width = self.header.width
        extra = len(values) - width
        if extra > 0 and any(_text(v) for v in values[width:]):
            problem("error", "", "too_many_fields", f"expected {width} fields, found {len(values)}", "")
            return True
        if extra < 0:
            problem("error", "", "too_few_fields", f"expected {width} fields, found {len(values)}", "")
            return True
        return False

    def _required(self, by_field: dict[str, Any], raw_id: str,
                  problem: Callable[[str, str, str, str, Any], None]) -> tuple[str, Decimal | None, date | None]:
        """The required fields: (debtor name, balance, due date); a missing or invalid one (the
        account id too) is reported as an error, and its value is None (the name "")."""
        if not raw_id:
            problem("error", "account_id", "required", "account_id is required", "")
        elif "\ufffd" in raw_id or len(raw_id) > 64 or _CONTROL_CHARS.search(raw_id):
            problem("error", "account_id", "invalid_account_id", "account_id has invalid characters or is over 64", raw_id)
        name = " ".join(_text(by_field.get("debtor_name")).split())
        if not name:
            problem("error", "debtor_name", "required", "debtor_name is required", "")
        balance = due = None
        raw_balance = by_field.get("balance")
        if _text(raw_balance) == "":
            problem("error", "balance", "required", "balance is required", "")
        else:
            try:
                balance = parse_amount(raw_balance)
            except FieldError as exc:
                problem("error", "balance", exc.code, exc.message, raw_balance)
        raw_due = by_field.get("due_date")
        if _text(raw_due) == "":
            problem("error", "due_date", "required", "due_date is required", "")
        else:
            try:
                due = parse_date(raw_due, self.date_epoch)
            except FieldError as exc:
                problem("error", "due_date", exc.code, exc.message, raw_due)
        return name, balance, due

    def _optional_fields(self, by_field: dict[str, Any], problem: Callable[[str, str, str, str, Any], None]) -> dict[str, Any]:
        """The optional fields present, parsed, by name; an unreadable or invalid one is
        reported as a warning and dropped."""
        parsed: dict[str, Any] = {}
        for name_, parse in self._optional:
            raw = by_field.get(name_)
            if raw is None:
                continue
            if type(raw) is str:
                raw = raw.strip()
                if not raw:
                    continue
                if "\ufffd" in raw:
                    problem("warning", name_, "invalid_encoding", "unreadable characters; field dropped", raw)
                    continue
            elif _text(raw) == "":
                continue
            try:
                parsed[name_] = parse(raw)
            except FieldError as exc:
                problem("warning", name_, exc.code, exc.message + "; field dropped", raw)
        return parsed

    @staticmethod
    def _coordinates(by_field: dict[str, Any],
                     problem: Callable[[str, str, str, str, Any], None]) -> tuple[Decimal, Decimal] | None:
        raw_lat, raw_lon = by_field.get("lat"), by_field.get("lon")
        has_lat, has_lon = _text(raw_lat) != "", _text(raw_lon) != ""
        if not has_lat and not has_lon:
            return None
        if has_lat != has_lon:
            missing = "lon" if has_lat else "lat"
            problem("warning", missing, "incomplete_coordinates",
                    "lat and lon go together; coordinates dropped", raw_lat if has_lat else raw_lon)
            return None
        try:
            lat = parse_coordinate(raw_lat, 90)
        except FieldError as exc:
            problem("warning", "lat", exc.code, exc.message + "; coordinates dropped", raw_lat)
            return None
        try:
            lon = parse_coordinate(raw_lon, 180)
        except FieldError as exc:
            problem("warning", "lon", exc.code, exc.message + "; coordinates dropped", raw_lon)
            return None
        if lat == 0 and lon == 0:
            problem("warning", "lat", "null_island", "0,0 is not an address; coordinates dropped", raw_lat)
            return None
        return lat, lon

    def is_summary_row(self, values: Sequence[Any]) -> bool:
        """Whether a row looks like a summary row of an export (a total under the data). It has
        no account id of its own (the id cell is empty or is the label) and either its id cell
        or its first non-empty cell is a total label (``TOTAL``, ``Total general``, ``Totales``,
        ``Suma``, ...), or it has no name and every non-empty cell is an amount. Only a run of
        such rows at the very end of the data is skipped (``TrailingSummary``); anywhere else the
        row is judged by the rules like any other."""
        width = len(values)
        id_cell = values[self._id_column] if self._id_column < width else None
        id_text = id_cell.strip() if type(id_cell) is str else _text(id_cell)
        if id_text:
            return is_total_label(id_text)  # the common case: a real id, one character looked at
        first = next((text for text in map(_text, values) if text), "")
        if is_total_label(first):
            return True
        name_cell = values[self._name_column] if self._name_column < width else None
        if _text(name_cell):
            return False
        return bool(first) and all(_is_amount(cell) for cell in values if _text(cell))


def _mexican_postal_code(raw: Any) -> str:
    """A postal code as text. One stored as a number lost its leading zeros (Mexico City's
    ``03100`` reads ``3100``): Mexican codes have five digits, so they are put back."""
    if type(raw) is str:
        return raw
    text = _text(raw)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and text.isdigit() and len(text) < 5:
        return text.zfill(5)
    return text


MAX_SUMMARY_ROWS = 20


class TrailingSummary:
    """The records of a file without its trailing summary block: a run of at most
    ``MAX_SUMMARY_ROWS`` summary-looking rows (``RowValidator.is_summary_row``) after the last
    real data row. Such rows are held back as they come; a real row after them shows they were in
    the middle, and they are passed on in order, to be judged like any other. A longer run is not
    a summary block either. Memory: at most ``limit`` held rows. ``skipped`` counts the block once
    the records are exhausted."""

    def __init__(self, records: Iterable[tuple[int, Sequence[Any]]], looks_like_summary: Callable[[Sequence[Any]], bool],
                 limit: int = MAX_SUMMARY_ROWS):
        self._records = records
        self._looks_like_summary = looks_like_summary
        self._limit = limit
        self.skipped = 0

    def __iter__(self) -> Iterator[tuple[int, Sequence[Any]]]:
        looks_like_summary, limit = self._looks_like_summary, self._limit
        held: list[tuple[int, Sequence[Any]]] = []
        too_long = False  # the current run passed the limit: none of it is a summary block
        for record in self._records:
            if looks_like_summary(record[1]):
                if too_long:
                    yield record
                    continue
                held.append(record)
                if len(held) > limit:
                    too_long = True
                    yield from held
                    held = []
                continue
            too_long = False
            if held:
                yield from held
                held = []
            yield record
        self.skipped = len(held)


def _parse_currency(raw: Any) -> str:
    text = _text(raw).upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise FieldError("invalid_currency", "use an ISO 4217 code such as MXN")
    return text


def _parse_timezone(raw: Any) -> str:
    text = _text(raw)
    if not valid_timezone(text):
        raise FieldError("invalid_timezone", "not an IANA time zone such as America/Mexico_City")
    return text

