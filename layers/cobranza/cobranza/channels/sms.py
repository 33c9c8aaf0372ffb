"""SMS through Amazon SNS (the AWS End User Messaging SMS origination identities behind it).

Texts are kept in the GSM-7 alphabet when they can be: one GSM-7 segment holds 160 characters,
one UCS-2 segment only 70, and a single accented letter outside GSM-7 (á, í, ó, ú) would switch
the whole message to UCS-2. Letters outside GSM-7 are replaced by their unaccented form.
"""
from __future__ import annotations

import unicodedata
from typing import Any

from ..core import aws
from . import PermanentFailure, Reminder, classify_aws_error

#: The GSM 03.38 basic character set (the extension table's characters count double).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
#: SNS error codes that mean "this number will never work".
PERMANENT = {"InvalidParameter": "address_invalid", "OptedOut": "opted_out_at_provider"}


def to_gsm7(text: str) -> str:
    """``text`` with every character outside GSM-7 replaced (accents dropped, others as '?')."""
    out = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(c in GSM7_BASIC for c in base) else "?")
    return "".join(out)


def segments(text: str) -> int:
    """How many SMS parts the text takes (GSM-7: 160, or 153 per part; else UCS-2: 70, or 67)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        return 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return 1 if units <= 70 else -(-units // 67)


def render(locale: str, context: dict[str, Any]) -> str:
    from .email import LOCALES, templates

    locale = locale if locale in LOCALES else "es-MX"
    context = {"self_service_url": None, "payment_reference": None, **context}
    text = templates().get_template(f"reminder_{locale}.sms").render(**context).strip()
    return to_gsm7(" ".join(text.split()))


class SmsChannel:
    name = "sms"

    def send(self, reminder: Reminder) -> str:
        if not reminder.to.startswith("+"):
            raise PermanentFailure("address_invalid", "not an E.164 number")
        text = render(reminder.locale, reminder.context)
        try:
            response = aws.send_client("sns").publish(
                PhoneNumber=reminder.to, Message=text,
                MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
            )
        except Exception as exc:
            raise classify_aws_error(exc, PERMANENT) from exc
        message_id: str = response["MessageId"]
        return message_id


CHANNEL = SmsChannel()
