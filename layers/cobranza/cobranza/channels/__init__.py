"""Delivery channels behind one interface: ``send(reminder) -> provider message id``.

Each adapter raises one of three errors, and the sender (campaign/sender) decides from it:

- ``PermanentFailure``: the provider refused this address for good (invalid, opted out at the
  provider); the channel is marked unusable for the account and the attempt fails.
- ``TransientFailure``: the provider did not take the message (throttled, down, misconfigured);
  the attempt is retried later with backoff, and reaches the DLQ if it keeps failing.
- ``UnknownOutcome``: the request may have reached the provider (a read timeout); the attempt
  fails without a retry, since a retry could send the reminder twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)


class ChannelError(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class PermanentFailure(ChannelError):
    pass


class TransientFailure(ChannelError):
    pass


class UnknownOutcome(ChannelError):
    pass


@dataclass(frozen=True)
class Reminder:
    """Everything a channel needs to write and address one reminder."""

    channel: str
    to: str
    locale: str
    attempt_id: str
    context: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def send(self, reminder: Reminder) -> str: ...


def classify_aws_error(exc: Exception, permanent_codes: dict[str, str]) -> ChannelError:
    """A botocore error as one of the channel errors (``permanent_codes``: error code -> reason)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in permanent_codes:
            return PermanentFailure(permanent_codes[code], code)
        return TransientFailure("provider_error", code)
    if isinstance(exc, (ConnectTimeoutError, EndpointConnectionError)):
        return TransientFailure("provider_unreachable", type(exc).__name__)
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
        return UnknownOutcome("provider_timeout", type(exc).__name__)
    return TransientFailure("provider_error", type(exc).__name__)


def get_channel(name: str) -> Channel:
    from . import email, sms, whatsapp

    channels: dict[str, Channel] = {"email": email.CHANNEL, "sms": sms.CHANNEL, "whatsapp": whatsapp.CHANNEL}
    return channels[name]
