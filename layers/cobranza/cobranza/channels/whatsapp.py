"""WhatsApp through a provider HTTP API in the Meta Cloud API shape.

``POST {WHATSAPP_API_URL}/{phone_number_id}/messages`` with a bearer token read from Secrets
Manager (cached five minutes). Business-initiated messages must use an approved template, so
the reminder is the template ``recordatorio_pago`` (``payment_reminder`` in English) with the
lender, amount, as-of date, due date, payment reference and self-service link as body
parameters. The attempt id travels as ``biz_opaque_callback_data`` and comes back in the
provider's status webhooks. Locally the stack points the URL at a recording server.
"""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

from ..core import aws
from ..core.settings import get_settings
from . import PermanentFailure, Reminder, TransientFailure, UnknownOutcome

TEMPLATES = {"es-MX": ("recordatorio_pago", "es_MX"), "en": ("payment_reminder", "en_US")}
TIMEOUT_S = 10
#: Meta error codes: the number can never get the message, or the person blocked the business.
PERMANENT_CODES = {131026: "address_invalid", 131021: "address_invalid", 131030: "address_invalid",
                   131050: "opted_out_at_provider"}
# (code 100, "invalid parameter", also answers a wrong phone number id or template: configuration,
# so it is retried and ends in the DLQ rather than blacklisting every debtor's number.)


def token() -> str:
    secret_id = get_settings().whatsapp_token_secret_id
    if not secret_id:
        raise TransientFailure("channel_not_configured", "WHATSAPP_TOKEN_SECRET_ID is not set")
    return aws.secret(secret_id).strip()


def payload(reminder: Reminder) -> dict[str, Any]:
    name, language = TEMPLATES.get(reminder.locale, TEMPLATES["es-MX"])
    c = reminder.context
    values = [c["lender"], f"{c['amount']} {c['currency']}", c["as_of"], c["due_date"],
              c.get("payment_reference") or "-", c.get("self_service_url") or "-"]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": reminder.to.lstrip("+"),
        "type": "template",
        "template": {"name": name, "language": {"code": language},
                     "components": [{"type": "body", "parameters": [{"type": "text", "text": str(v)} for v in values]}]},
        "biz_opaque_callback_data": reminder.attempt_id,
    }


def _classify(status: int, body: bytes) -> Exception:
    try:
        error = json.loads(body or b"{}").get("error", {})
    except ValueError:
        error = {}
    code = error.get("code")
    if status == 429 or status >= 500 or code in (130429, 131000, 131048, 131056, 4, 80007):
        return TransientFailure("provider_throttled" if status == 429 else "provider_error", f"HTTP {status} code {code}")
    if code in PERMANENT_CODES:
        return PermanentFailure(PERMANENT_CODES[code], f"code {code}")
    return TransientFailure("provider_error", f"HTTP {status} code {code}")  # auth, config: the DLQ shows it


class WhatsAppChannel:
    name = "whatsapp"

    def send(self, reminder: Reminder) -> str:
        settings = get_settings()
        if not settings.whatsapp_api_url or not settings.whatsapp_phone_number_id:
            raise TransientFailure("channel_not_configured", "WHATSAPP_API_URL is not set")
        url = f"{settings.whatsapp_api_url.rstrip('/')}/{settings.whatsapp_phone_number_id}/messages"
        if not url.lower().startswith(("https://", "http://")):  # urlopen would also open file: and others
            raise TransientFailure("channel_not_configured", "WHATSAPP_API_URL is not an http(s) URL")
        request = urllib.request.Request(
            url, data=json.dumps(payload(reminder)).encode(), method="POST",
            headers={"Authorization": f"Bearer {token()}", "Content-Type": "application/json"},
        )
        aws.count_request("whatsapp.SendMessage")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # nosec B310  # http(s) only, checked above
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            raise _classify(exc.code, exc.read()) from exc
        except (socket.timeout, TimeoutError) as exc:
            raise UnknownOutcome("provider_timeout", type(exc).__name__) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                raise UnknownOutcome("provider_timeout", str(exc.reason)) from exc
            raise TransientFailure("provider_unreachable", str(exc.reason)) from exc
        messages = body.get("messages") or [{}]
        return str(messages[0].get("id") or "")


CHANNEL = WhatsAppChannel()
