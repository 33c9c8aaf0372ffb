"""Payment rows (SPEC §6b): the columns of a payments file, and one validation for a file's row
and an API item alike. Pure: nothing here reads files or talks to AWS."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from ..core.text import normalize_key
from ..portfolio.rows import FIELDS as PORTFOLIO_FIELDS
from ..portfolio.rows import Columns, FieldError, Header, Problem, parse_amount, parse_date
from .rules import METHODS, Installment, Payment, Promise, promise_of

#: canonical field -> (required, header aliases after normalize_key)
PAYMENT_COLUMNS = Columns({
    "payment_id": (True, ("folio", "id_pago", "referencia_pago", "folio_pago", "numero_pago")),
    "account_id": (True, PORTFOLIO_FIELDS["account_id"][1]),
    "amount": (True, ("monto", "importe", "pago", "monto_pago", "importe_pago")),
    "paid_at": (True, ("fecha_pago", "fecha", "fecha_de_pago", "fecha_hora_pago")),
    "method": (False, ("forma_pago", "metodo_pago", "medio_pago", "forma_de_pago")),
    "reverses": (False, ("reversa", "cancela", "reverses_payment_id")),
}, what="SPEC §6b")

#: What a lender writes for a method, after normalize_key -> the method.
_METHOD_ALIASES = {"spei": "spei", "transferencia_spei": "spei", "oxxo": "oxxo", "oxxo_pay": "oxxo",
                   "tarjeta": "card", "card": "card", "tarjeta_credito": "card", "tarjeta_debito": "card",
                   "efectivo": "cash", "cash": "cash", "transferencia": "transfer", "transfer": "transfer",
                   "deposito": "transfer", "otro": "other", "other": "other"}
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_ID = re.compile(r"[^\x00-\x1f\x7f]{1,128}")


def parse_paid_at(raw: Any, zone: str, epoch: date | None = None) -> datetime:
    """A date or a date-time, in UTC: with an offset as given, else in the tenant's ``zone``; a
    date alone is noon there (the day stays the same in any zone of the Americas)."""
    if isinstance(raw, datetime):
        return (raw if raw.tzinfo else raw.replace(tzinfo=ZoneInfo(zone))).astimezone(timezone.utc)
    text = str(raw).strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is not None and (parsed.tzinfo is not None or _TIME.search(text)):
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(zone))).astimezone(timezone.utc)
    day = parse_date(raw, epoch)
    clock = _TIME.search(text.split(" ", 1)[1]) if " " in text else None
    at = time(int(clock[1]), int(clock[2]), int(clock[3] or 0)) if clock and int(clock[1]) < 24 else time(12)
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def parse_method(raw: Any) -> str:
    key = normalize_key(str(raw))
    method = _METHOD_ALIASES.get(key, key)
    if method not in METHODS:
        raise FieldError("invalid_method", "method must be one of " + ", ".join(METHODS))
    return method


def parse_id(raw: Any, what: str) -> str:
    text = str(raw).strip() if raw is not None else ""
    if not text:
        raise FieldError("required", f"{what} is required")
    if not _ID.fullmatch(text):
        raise FieldError("invalid_id", f"{what}: at most 128 printable characters")
    return text


def to_payment(fields: Mapping[str, Any], zone: str, epoch: date | None = None,
               today: date | None = None) -> tuple[Payment | None, list[tuple[str, FieldError]]]:
    """The payment of one row or API item (its values by canonical field), or the errors of
    each field that broke a rule (all of them, so the lender fixes a row once). ``today`` (the
    tenant's date) refuses a payment dated after it."""
    errors: list[tuple[str, FieldError]] = []
    values: dict[str, Any] = {}
    parsers: dict[str, Callable[[Any], Any]] = {
        "payment_id": lambda v: parse_id(v, "payment_id"), "account_id": lambda v: parse_id(v, "account_id"),
        "amount": _positive_amount, "paid_at": lambda v: _not_after(parse_paid_at(v, zone, epoch), zone, today)}
    for name, parse in parsers.items():
        raw = fields.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            errors.append((name, FieldError("required", f"{name} is required")))
            continue
        try:
            values[name] = parse(raw)
        except FieldError as exc:
            errors.append((name, exc))
    optional: tuple[tuple[str, Callable[[Any], Any]], ...] = (
        ("method", parse_method), ("reverses", lambda v: parse_id(v, "reverses")))
    for name, parse in optional:
        raw = fields.get(name)
        if raw is not None and str(raw).strip():
            try:
                values[name] = parse(raw)
            except FieldError as exc:
                errors.append((name, exc))
    if errors:
        return None, errors
    return Payment(values["payment_id"], values["account_id"], values["amount"], values["paid_at"],
                   values.get("method"), values.get("reverses")), []


def _not_after(paid_at: datetime, zone: str, today: date | None) -> datetime:
    if today is not None and paid_at.astimezone(ZoneInfo(zone)).date() > today:
        raise FieldError("in_future", f"paid_at is after today ({today.isoformat()}, the tenant's zone)")
    return paid_at


def _positive_amount(raw: Any) -> Decimal:
    amount = parse_amount(raw)
    if amount <= 0:
        raise FieldError("not_positive", "amount must be more than zero")
    return amount


def validate_row(header: Header, row_number: int, values: Sequence[Any], zone: str,
                 epoch: date | None = None, today: date | None = None) -> tuple[Payment | None, list[Problem]]:
    """One row of a payments file: its payment, or its problems (rows numbered as in the file)."""
    fields = {name: value for name, value in zip(header.fields, values) if name}
    payment, errors = to_payment(fields, zone, epoch, today)
    account = str(fields.get("account_id") or "").strip()
    return payment, [Problem(row_number, "error", account, name, exc.code, exc.message, str(fields.get(name) or ""))
                     for name, exc in errors]


# ---------------------------------------------------------------- promises (SPEC §6b)
#: A single promise is due within a month; an installment plan (convenio) within a year.
MAX_PROMISE_DAYS = 30
MAX_PLAN_DAYS = 366
MAX_INSTALLMENTS = 24
PROMISE_SOURCES = ("api", "phone", "visit", "debtor_link", "agent", "branch", "email", "sms", "whatsapp", "other")


def to_promise(body: Mapping[str, Any], owed: Decimal, today: date,
               field: str = "") -> tuple[Promise | None, list[dict[str, str]]]:
    """A promise from an API body (``amount``, ``due_on`` (or ``date``), ``installments``?), made
    ``today`` on an account that owes ``owed``, or every problem found (``field`` prefixes their
    names). The amount is positive and at most what is owed; a single promise is due from today
    to MAX_PROMISE_DAYS ahead; a plan's installments are positive, on distinct dates from today to
    MAX_PLAN_DAYS ahead, add up to the amount and end on the due date (either may be left out:
    the plan gives it)."""
    problems: list[dict[str, str]] = []

    def problem(name: str, message: str) -> None:
        problems.append({"field": field + name, "message": message})

    plan = _plan(body.get("installments"), today, problem)
    due_name = "date" if "date" in body and "due_on" not in body else "due_on"  # the debtor's form says date
    amount = _promise_amount(body.get("amount"))
    due_on = _promise_day(body.get(due_name), today, MAX_PLAN_DAYS if plan else MAX_PROMISE_DAYS)
    if amount is None and (body.get("amount") is not None or plan is None):
        problem("amount", "a positive amount, at most the balance")
    if due_on is None and (body.get(due_name) is not None or plan is None):
        problem(due_name, f"an ISO date from today to {MAX_PLAN_DAYS if plan else MAX_PROMISE_DAYS} days ahead")
    if plan:
        total, last = sum((i.amount for i in plan), Decimal(0)), plan[-1].due_on
        if amount is not None and amount != total:
            problem("amount", f"the installments add up to {total:.2f}")
        if due_on is not None and due_on != last:
            problem(due_name, f"the last installment is due on {last.isoformat()}")
        amount, due_on = total, last
    if amount is not None and amount > owed:
        problem("amount", f"at most the balance ({owed:.2f})")
    if problems or amount is None or due_on is None:
        return None, problems
    return promise_of(today, amount, due_on, plan or ()), []


def _plan(raw: Any, today: date, problem: Callable[[str, str], None]) -> list[Installment] | None:
    """A plan's installments in date order (None: no plan given; [] when it has problems)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_INSTALLMENTS:
        problem("installments", f"a list of 1 to {MAX_INSTALLMENTS} installments {{amount, due_on}}")
        return []
    plan, broken = [], False
    for n, item in enumerate(entry if isinstance(entry, dict) else {} for entry in raw):
        amount, on = _promise_amount(item.get("amount")), _promise_day(item.get("due_on"), today, MAX_PLAN_DAYS)
        if amount is None:
            problem(f"installments[{n}].amount", "a positive amount")
        if on is None:
            problem(f"installments[{n}].due_on", f"an ISO date from today to {MAX_PLAN_DAYS} days ahead")
        if amount is None or on is None:
            broken = True
        else:
            plan.append(Installment(amount, on))
    if len({i.due_on for i in plan}) != len(plan):
        problem("installments", "one installment per date")
    return [] if broken else sorted(plan, key=lambda i: i.due_on)


def _promise_amount(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    try:
        amount = parse_amount(raw)
    except FieldError:
        return None
    return amount if amount > 0 else None


def _promise_day(raw: Any, today: date, max_days: int) -> date | None:
    if raw is None:
        return None
    try:
        on = date.fromisoformat(str(raw))
    except ValueError:
        return None
    return on if today <= on <= today + timedelta(days=max_days) else None
