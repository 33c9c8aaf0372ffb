"""The channels an account is reminded on without a person (SPEC §5), and the account field
that holds each one's address. Pure."""
from __future__ import annotations

ADDRESS_FIELD = {"email": "email", "sms": "phone", "whatsapp": "phone"}
AUTOMATED_CHANNELS = frozenset(ADDRESS_FIELD)
#: Every channel that reaches the debtor at an address of the account: the reminders and the
#: phone team's calls (SPEC §6b).
CONTACT_ADDRESS = {**ADDRESS_FIELD, "call": "phone"}
