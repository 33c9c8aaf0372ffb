"""Portfolio rows (SPEC §3): header matching, field parsing and row validation.

A row is either accepted (maybe with warnings for optional fields that were dropped) or
rejected with one problem per broken rule. Nothing here reads files or talks to AWS.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .fastpaths import fast_e164, fast_email
from .mexico import canonical_state, state_timezone
from .text import normalize_key

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

_ALIAS_TO_FIELD: dict[str, str] = {}
for _name, (_req, _aliases) in FIELDS.items():
    _ALIAS_TO_FIELD[_name] = _name
    for _alias in _aliases:
        _ALIAS_TO_FIELD[_alias] = _name


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


def parse_header(raw: Sequence[Any]) -> Header:
    names = tuple("" if v is None else str(v).strip() for v in raw)
    while names and names[-1] == "":
        names = names[:-1]
    fields_: list[str | None] = []
    attrs: list[str | None] = []
    seen: set[str] = set()
    for name in names:
        key = normalize_key(name)
        canonical = _ALIAS_TO_FIELD.get(key)
        if canonical and canonical not in seen:
            seen.add(canonical)
            fields_.append(canonical)
            attrs.append(None)
        else:
            fields_.append(None)
            attrs.append(key or None)
    missing = [f for f in REQUIRED if f not in seen]
    if missing:
        raise HeaderError(
            "missing required column(s): " + ", ".join(missing)
            + " (aliases accepted: see SPEC §3; found: " + ", ".join(n for n in names if n) + ")"
        )
    return Header(names, tuple(fields_), tuple(attrs))


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
        value = Decimal(repr(raw))
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


def parse_date(raw: Any) -> date:
    """ISO ``2026-03-31`` or day-first ``31/03/2026``, ``31-03-2026``, ``31.03.26``; a trailing
    time (``2026-03-31 00:00:00``) is ignored. ``02/03/2026`` is the 2nd of March."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    return _parse_date_text(str(raw).strip())


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
    if not 1950 <= value.year <= 2100:
        raise FieldError("date_out_of_range", "date outside 1950-2100")
    return value


# ---------------------------------------------------------------- contact data
def normalize_phone(raw: Any, region: str) -> str:
    text = str(raw).strip()
    if isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
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
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.isoformat()
    return str(raw).strip()


_CONTROL_CHARS = re.compile(r"[\x00-\x1f]")


class RowValidator:
    """Validates rows of one file for one tenant (the hot loop of ingestion: keep it lean)."""

    def __init__(self, header: Header, *, phone_region: str, currency: str, timezone: str):
        self.header = header
        self.phone_region = phone_region
        self.currency = currency
        self.timezone = timezone
        self._columns = tuple(zip(header.fields, header.attribute_names))
        self._optional = (
            ("currency", _parse_currency),
            ("phone", lambda v: normalize_phone(v, phone_region)),
            ("email", normalize_email),
            ("address", _text),
            ("city", _text),
            ("postal_code", _text),
            ("product", _text),
            ("payment_reference", _text),
            ("state", _text),
            ("original_amount", parse_amount),
            ("risk_score", parse_score),
            ("whatsapp_opt_in", parse_bool),
            ("timezone", _parse_timezone),
        )

    def validate(self, row_number: int, values: Sequence[Any]) -> tuple[AccountRow | None, list[Problem]]:
        header = self.header
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

        if len(values) != header.width:
            extra = len(values) - header.width
            if extra > 0 and any(_text(v) for v in values[header.width:]):
                problem("error", "", "too_many_fields", f"expected {header.width} fields, found {len(values)}", "")
                return None, problems
            if extra < 0:
                problem("error", "", "too_few_fields", f"expected {header.width} fields, found {len(values)}", "")
                return None, problems

        # required fields
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
                due = parse_date(raw_due)
            except FieldError as exc:
                problem("error", "due_date", exc.code, exc.message, raw_due)
        if problems:
            return None, problems
        assert balance is not None and due is not None  # nosec B101  # type narrowing: a missing one was a problem, returned above

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
        if "lat" in by_field or "lon" in by_field:
            self._coordinates(row, by_field, problem)
        return row, problems

    @staticmethod
    def _coordinates(row: AccountRow, by_field: dict[str, Any], problem) -> None:
        raw_lat, raw_lon = by_field.get("lat"), by_field.get("lon")
        has_lat, has_lon = _text(raw_lat) != "", _text(raw_lon) != ""
        if not has_lat and not has_lon:
            return
        if has_lat != has_lon:
            missing = "lon" if has_lat else "lat"
            problem("warning", missing, "incomplete_coordinates",
                    "lat and lon go together; coordinates dropped", raw_lat if has_lat else raw_lon)
            return
        try:
            lat = parse_coordinate(raw_lat, 90)
        except FieldError as exc:
            problem("warning", "lat", exc.code, exc.message + "; coordinates dropped", raw_lat)
            return
        try:
            lon = parse_coordinate(raw_lon, 180)
        except FieldError as exc:
            problem("warning", "lon", exc.code, exc.message + "; coordinates dropped", raw_lon)
            return
        if lat == 0 and lon == 0:
            problem("warning", "lat", "null_island", "0,0 is not an address; coordinates dropped", raw_lat)
            return
        row.lat, row.lon = lat, lon


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

