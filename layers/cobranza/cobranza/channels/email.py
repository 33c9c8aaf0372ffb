"""Email through SES, rendered from Jinja2 templates with autoescaping."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .. import aws

SUBJECTS = {"es-MX": "Recordatorio de pago - {lender}", "en": "Payment reminder - {lender}"}


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("cobranza.channels", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_reminder(to: str, locale: str, context: Mapping[str, Any]) -> Email:
    locale = locale if locale in SUBJECTS else "es-MX"
    env = _env()
    return Email(
        to=to,
        subject=SUBJECTS[locale].format(lender=context["lender"]),
        text=env.get_template(f"reminder_{locale}.txt").render(**context),
        html=env.get_template(f"reminder_{locale}.html").render(**context),
    )


def send(email: Email, sender: str) -> str:
    """Sends through SES; returns the provider's message id."""
    response = aws.client("ses").send_email(
        Source=sender,
        Destination={"ToAddresses": [email.to]},
        Message={
            "Subject": {"Data": email.subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}, "Html": {"Data": email.html, "Charset": "UTF-8"}},
        },
    )
    return response["MessageId"]
