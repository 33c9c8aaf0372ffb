"""The debtor's page (SPEC §9): what the self-service link shows in a phone's browser, in es-MX.

Pure rendering: the use cases (debtor.selfservice) gather a ``Page`` and the API edge sends what
``render`` returns. Jinja2 templates in ``templates/`` next to this module (shipped in the layer),
autoescaped, so a lender name or a payment reference never becomes markup. The page is one HTML
document: inline CSS (allowed by its hash in the Content-Security-Policy), no script, no external
asset; its forms post without JavaScript, with the form token of ``links.form_token``.

Form fields (stable names, for the browser tests): the promise form posts ``csrf``, ``amount``,
``date``; the opt-out form posts ``csrf`` and a checkbox ``channel_<name>`` (value ``1``) per
channel the debtor still receives.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Mapping, Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined

#: The automated channels, in the order the page lists them, and their names in Spanish.
CHANNEL_LABELS = {"email": "Correo electrónico", "sms": "SMS (mensajes de texto)", "whatsapp": "WhatsApp"}
#: The same, inside a sentence.
CHANNEL_NAMES = {"email": "correo electrónico", "sms": "SMS", "whatsapp": "WhatsApp"}
CHANNEL_FIELD = "channel_"
MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
          "noviembre", "diciembre")
#: What the page says after a form worked (the ``hecho`` query parameter of the redirect).
DONE = ("promesa", "baja")

#: A status that takes no promise, and what the page says instead of the promise form.
STATUS_NOTES = {
    "paid": "Tu cuenta no tiene saldo pendiente. ¡Gracias por tu pago!",
    "settled": "Tu cuenta no tiene saldo pendiente. ¡Gracias!",
    "withdrawn": "Esta cuenta ya no está en gestión de cobranza. Si tienes dudas, comunícate con {lender} directamente.",
    "disputed": "Tu cuenta está en aclaración. Mientras tanto no es posible registrar promesas de pago aquí.",
    "legal": "Tu cuenta está en proceso legal. Comunícate con {lender} para acordar tu pago.",
}
PAYMENT_REPORTED_NOTE = "Recibimos el aviso de tu pago y lo estamos confirmando."

#: What the page says over the forms when one was refused (403, 409).
NOTICES = {
    "stale_form": "Por seguridad, tu formulario venció o no vino de esta página. Revisa los datos y envíalo de nuevo.",
    "no_promise": "Tu cuenta ya no acepta promesas de pago, así que no registramos ninguna.",
}

#: The error pages: (title, message) by kind.
PROBLEMS = {
    "invalid_link": ("Este enlace no es válido",
                     "Revisa que lo hayas abierto completo desde tu mensaje, o usa el enlace de tu mensaje más reciente."),
    "expired_link": ("Este enlace ya venció",
                     "Por seguridad, los enlaces duran 30 días. Usa el enlace de tu mensaje más reciente o comunícate "
                     "con tu acreedor."),
    "not_found": ("Esta cuenta ya no está disponible",
                  "No encontramos la cuenta de este enlace. Si tienes dudas, comunícate con tu acreedor."),
    "bad_request": ("No pudimos leer tu solicitud", "Vuelve a abrir tu enlace e inténtalo de nuevo."),
    "forbidden": ("No pudimos registrar tu solicitud", "Vuelve a abrir tu enlace e inténtalo de nuevo."),
}


@dataclass(frozen=True)
class Promise:
    amount: Decimal
    on: date


@dataclass(frozen=True)
class Page:
    """Everything the page shows. ``root`` is the page's address relative to the document's own
    URL (the token itself for the page, ``../<token>`` for an answer to one of its forms), so the
    forms and links work under any stage prefix or custom domain."""
    root: str
    form_token: str
    lender: str
    today: date
    max_promise_date: date
    balance: Decimal = Decimal(0)
    currency: str = "MXN"
    due_date: date | None = None
    payment_reference: str | None = None
    payment_instructions: str | None = None
    status: str = "active"
    promise: Promise | None = None
    opted_out: frozenset[str] = frozenset()
    #: The link is past its expiry: only opting out is offered (it never expires).
    expired: bool = False
    done: str | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)
    notice: str | None = None


# ---------------------------------------------------------------- formatting (es-MX)
def money(amount: Decimal, currency: str = "MXN") -> str:
    """``$12,345.67 MXN``: Mexico's marks (comma thousands, point decimals)."""
    return f"${amount:,.2f} {currency}"


def spanish_date(day: date) -> str:
    """``11 de diciembre de 2026``."""
    return f"{day.day} de {MONTHS[day.month - 1]} de {day.year}"


def join_spanish(words: Sequence[str]) -> str:
    """``a``, ``a y b``, ``a, b y c``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " y " + words[-1]


def field_errors(problems: Sequence[Mapping[str, Any]], page: Page) -> dict[str, str]:
    """The message shown next to each form field, from a use case's problems (their ``field``)."""
    messages = {
        "amount": f"Escribe un monto mayor a $0.00 y de hasta {money(page.balance, page.currency)}.",
        "date": f"Elige una fecha entre el {spanish_date(page.today)} y el {spanish_date(page.max_promise_date)}.",
        "channels": "Elige al menos un canal.",
    }
    errors: dict[str, str] = {}
    for problem in problems:
        name = str(problem.get("field") or "")
        name = name if name in messages else "form"
        errors.setdefault(name, messages.get(name, "Revisa los datos del formulario."))
    return errors


# ---------------------------------------------------------------- rendering
@lru_cache(maxsize=1)
def templates() -> Environment:
    return Environment(loader=PackageLoader("cobranza.debtor", "templates"), autoescape=True,
                       undefined=StrictUndefined)


@lru_cache(maxsize=1)
def _style() -> str:
    return templates().get_template("page.css").render()


def content_security_policy() -> str:
    """The page's policy: nothing loads, only its own inline style (by hash) applies, forms post
    to this origin only, and no site frames it."""
    digest = base64.b64encode(hashlib.sha256(_style().encode("utf-8")).digest()).decode()
    return (f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")


def _channels(page: Page) -> list[dict[str, Any]]:
    return [{"name": name, "field": CHANNEL_FIELD + name, "label": label, "opted_out": name in page.opted_out,
             "checked": page.values.get(CHANNEL_FIELD + name) == "1"}
            for name, label in CHANNEL_LABELS.items()]


def _done_message(page: Page) -> str | None:
    if page.done == "promesa" and page.promise is not None:
        return (f"Registramos tu promesa de pago de {money(page.promise.amount, page.currency)} "
                f"para el {spanish_date(page.promise.on)}.")
    if page.done == "baja" and page.opted_out:
        names = [CHANNEL_NAMES[c] for c in CHANNEL_LABELS if c in page.opted_out]
        return f"Listo. Ya no te enviaremos mensajes automáticos por {join_spanish(names)}."
    return None


def render(page: Page) -> str:
    """The debtor's page as an HTML document."""
    can_promise = not page.expired and page.status not in STATUS_NOTES and page.balance > 0
    note = STATUS_NOTES.get(page.status, PAYMENT_REPORTED_NOTE if page.status == "payment_reported" else "")
    context = {
        "page": page, "style": _style(), "title": f"Tu cuenta con {page.lender}",
        "balance": money(page.balance, page.currency), "as_of": spanish_date(page.today),
        "due_date": spanish_date(page.due_date) if page.due_date else None,
        "overdue": page.due_date is not None and page.due_date < page.today,
        "instructions": (page.payment_instructions or "").splitlines(),
        "promise": None if page.promise is None else {"amount": money(page.promise.amount, page.currency),
                                                      "on": spanish_date(page.promise.on)},
        "can_promise": can_promise, "status_note": note.format(lender=page.lender) if note else None,
        "min_date": page.today.isoformat(), "max_date": page.max_promise_date.isoformat(),
        "max_date_text": spanish_date(page.max_promise_date),
        "channels": _channels(page), "all_opted_out": all(c in page.opted_out for c in CHANNEL_LABELS),
        "done_message": _done_message(page), "errors": page.errors, "values": page.values,
    }
    return templates().get_template("page.html").render(**context)


def render_problem(kind: str, lender: str | None = None, back: str | None = None) -> str:
    """An error page (PROBLEMS), with a link back to the page when there is one to go back to."""
    title, message = PROBLEMS.get(kind, PROBLEMS["bad_request"])
    return templates().get_template("problem.html").render(style=_style(), title=title, message=message,
                                                          lender=lender, back=back)
