"""Emails to a tenant's own team (visit results, urgent alarms, the daily digest) through SES."""
from __future__ import annotations

from typing import Sequence

from . import aws
from .settings import get_settings

#: SES takes at most 50 addresses in one message.
MAX_RECIPIENTS = 50


def send_team_email(recipients: Sequence[str], subject: str, text: str, html: str) -> None:
    """One email (text and HTML) from the stack's sender to ``recipients``."""
    aws.send_client("ses").send_email(
        Source=get_settings().sender_email,
        Destination={"ToAddresses": list(recipients[:MAX_RECIPIENTS])},
        Message={"Subject": {"Data": subject, "Charset": "UTF-8"},
                 "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}}},
    )
