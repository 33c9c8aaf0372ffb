"""Email through SES: HTML and text bodies from Jinja2 templates (HTML autoescaped), sent as a
raw MIME message so that it carries one-click unsubscribe headers (RFC 8058)."""
from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..core import aws
from ..core.settings import get_settings
from . import Reminder, classify_aws_error

SUBJECTS = {"es-MX": "Recordatorio de pago - {lender}", "en": "Payment reminder - {lender}"}
LOCALES = tuple(SUBJECTS)
#: SES error codes that mean "this address will never work".
PERMANENT = {"InvalidParameterValue": "address_invalid"}


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str | None = None


@lru_cache(maxsize=1)
def templates() -> Environment:
    """The reminder templates: ``.html`` autoescaped, ``.txt`` and ``.sms`` plain."""
    return Environment(
        loader=PackageLoader("cobranza.channels", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_reminder(to: str, locale: str, context: Mapping[str, Any]) -> Email:
    locale = locale if locale in SUBJECTS else "es-MX"
    env = templates()
    context = {"self_service_url": None, "opt_out_url": None, "payment_reference": None, **context}
    return Email(
        to=to,
        subject=SUBJECTS[locale].format(lender=context["lender"]),
        text=env.get_template(f"reminder_{locale}.txt").render(**context),
        html=env.get_template(f"reminder_{locale}.html").render(**context),
        unsubscribe_url=context.get("opt_out_url"),
    )


def mime(email: Email, sender: str, sender_name: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = email.to
    message["Subject"] = email.subject
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message.as_bytes()


def send(email: Email, sender: str, sender_name: str | None = None) -> str:
    """Sends through SES; returns the provider's message id (raises a channel error)."""
    try:
        response = aws.send_client("ses").send_raw_email(
            Source=sender, Destinations=[email.to], RawMessage={"Data": mime(email, sender, sender_name)})
    except Exception as exc:  # every provider error becomes a channel error
        raise classify_aws_error(exc, PERMANENT) from exc
    message_id: str = response["MessageId"]
    return message_id


class EmailChannel:
    name = "email"

    def send(self, reminder: Reminder) -> str:
        email = render_reminder(reminder.to, reminder.locale, reminder.context)
        return send(email, get_settings().sender_email, reminder.context.get("lender"))


CHANNEL = EmailChannel()
