"""Typed settings read from the environment once per cold start.

Every function gets the same variables from the template's Globals; a missing or empty one
fails the cold start with a message naming it, instead of failing later on a request.
"""
from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from functools import lru_cache
from typing import Any, Mapping


class ConfigError(RuntimeError):
    """The function's environment is incomplete."""


@dataclass(frozen=True)
class Settings:
    data_bucket: str
    accounts_table: str
    tenants_table: str
    api_keys_table: str
    uploads_table: str
    alarms_table: str
    timeline_table: str
    visits_table: str
    agents_table: str
    email_queue_url: str
    sms_queue_url: str
    whatsapp_queue_url: str
    sender_email: str
    region: str = "us-east-1"
    stage: str = "cobranza"
    #: The nights of the campaign (one item per tenant and night) and the queue of their parts.
    nights_table: str = ""
    #: Payments by tenant and payment id (SPEC §6b).
    payments_table: str = ""
    #: The phone team's call tasks and call statistics (SPEC §6b).
    calls_table: str = ""
    #: KPI counters by tenant, month, day and segment (SPEC §8).
    kpis_table: str = ""
    #: The agents' tracks: every location ping, by tenant, agent and day, kept 30 days (SPEC §9).
    tracks_table: str = ""
    night_queue_url: str | None = None
    #: The hourly alarms job's per-tenant messages (AlarmsFunction fans the tick out through it).
    alarms_queue_url: str | None = None
    #: The ingest pipeline's task queue (ingest functions only); without it every file is
    #: processed in one invocation.
    ingest_queue_url: str | None = None
    #: CSV files larger than this are split into chunks of about this size, processed in parallel.
    ingest_chunk_bytes: int = 64 * 1024 * 1024
    #: The most rows one invocation validates or merges (a part of a split upload, or a whole
    #: file): sized by measured time so no part nears the function's limit (docs/architecture.md).
    ingest_part_rows: int = 25_000
    #: Base URL of the public HTTP API, for the debtors' self-service and opt-out links.
    self_service_url: str | None = None
    #: Secrets Manager secret (name or ARN) whose value signs the debtors' links.
    link_secret_id: str | None = None
    #: WhatsApp provider (Meta Cloud API shape): base URL, sender phone number id, token secret.
    whatsapp_api_url: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_token_secret_id: str | None = None
    #: The field agents' Cognito user pool and the mobile app's client (the API checks JWTs).
    agent_pool_id: str | None = None
    agent_pool_client_id: str | None = None
    #: The console's map tiles (an XYZ URL template, e.g. https://tile.example.com/{z}/{x}/{y}.png);
    #: without it the map draws only its own outline of Mexico, with no internet needed (SPEC §9).
    map_tile_url: str | None = None
    #: "real" (AWS): contact hours are judged on the wall clock. "event" (local stacks and
    #: demos only): a replayed night's reminders are judged in that night's time frame.
    clock_mode: str = "real"
    #: Days the timeline keeps a contact attempt (the table's TTL).
    timeline_retention_days: int = 180
    #: Only set against the local stack or in tests; boto3 also reads it by itself.
    endpoint_url: str | None = None

    _ENV = {
        "data_bucket": "DATA_BUCKET",
        "accounts_table": "ACCOUNTS_TABLE",
        "tenants_table": "TENANTS_TABLE",
        "api_keys_table": "API_KEYS_TABLE",
        "uploads_table": "UPLOADS_TABLE",
        "alarms_table": "ALARMS_TABLE",
        "timeline_table": "TIMELINE_TABLE",
        "visits_table": "VISITS_TABLE",
        "agents_table": "AGENTS_TABLE",
        "email_queue_url": "EMAIL_QUEUE_URL",
        "sms_queue_url": "SMS_QUEUE_URL",
        "whatsapp_queue_url": "WHATSAPP_QUEUE_URL",
        "sender_email": "SENDER_EMAIL",
        "region": "AWS_REGION",
        "stage": "COBRANZA_STAGE",
        "nights_table": "NIGHTS_TABLE",
        "payments_table": "PAYMENTS_TABLE",
        "calls_table": "CALLS_TABLE",
        "kpis_table": "KPIS_TABLE",
        "tracks_table": "TRACKS_TABLE",
        "night_queue_url": "NIGHT_QUEUE_URL",
        "alarms_queue_url": "ALARMS_QUEUE_URL",
        "ingest_queue_url": "INGEST_QUEUE_URL",
        "ingest_chunk_bytes": "INGEST_CHUNK_BYTES",
        "ingest_part_rows": "INGEST_PART_ROWS",
        "self_service_url": "SELF_SERVICE_URL",
        "link_secret_id": "LINK_SECRET_ID",  # nosec B105  # an environment variable's name
        "whatsapp_api_url": "WHATSAPP_API_URL",
        "whatsapp_phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
        "whatsapp_token_secret_id": "WHATSAPP_TOKEN_SECRET_ID",  # nosec B105  # an environment variable's name
        "agent_pool_id": "AGENT_POOL_ID",
        "agent_pool_client_id": "AGENT_POOL_CLIENT_ID",
        "map_tile_url": "MAP_TILE_URL",
        "clock_mode": "CLOCK_MODE",
        "timeline_retention_days": "TIMELINE_RETENTION_DAYS",
        "endpoint_url": "AWS_ENDPOINT_URL",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        values = cls._read_env(os.environ if env is None else env)
        if "@" not in values["sender_email"]:
            raise ConfigError("SENDER_EMAIL must be an email address")
        # The constructor's arguments: the strings read, the whole numbers parsed from them.
        arguments: dict[str, Any] = dict(values)
        for name, (minimum, message) in _WHOLE_NUMBERS.items():
            if name in values:
                arguments[name] = _whole_number(values[name], minimum, message)
        if values.get("clock_mode", "real") not in ("real", "event"):
            raise ConfigError("CLOCK_MODE must be real or event")
        return cls(**arguments)

    @classmethod
    def _read_env(cls, env: Mapping[str, str]) -> dict[str, str]:
        """The non-empty variables, stripped, by field name; a missing required one raises."""
        values: dict[str, str] = {}
        missing = []
        for f in fields(cls):
            name = cls._ENV[f.name]
            raw = _variable(env, name)
            if f.name == "region" and not raw:
                raw = _variable(env, "AWS_DEFAULT_REGION")
            if raw:
                values[f.name] = raw
            elif f.default is MISSING:
                missing.append(name)
        if missing:
            raise ConfigError("missing environment variables: " + ", ".join(sorted(missing)))
        return values

    def environment(self) -> dict[str, str]:
        """The environment variables that give these settings (for tools acting on a stack)."""
        return {self._ENV[f.name]: str(getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) not in (None, "")}

    def queue_url(self, channel: str) -> str:
        """The reminder queue of a channel (email, sms, whatsapp)."""
        return {"email": self.email_queue_url, "sms": self.sms_queue_url, "whatsapp": self.whatsapp_queue_url}[channel]


#: The settings given as whole numbers: (least value, the error when a value is not one).
_WHOLE_NUMBERS: dict[str, tuple[int, str]] = {
    "ingest_chunk_bytes": (1024, "INGEST_CHUNK_BYTES must be a whole number of bytes, at least 1024"),
    "ingest_part_rows": (1, "INGEST_PART_ROWS must be a whole number of rows, at least 1"),
    "timeline_retention_days": (1, "TIMELINE_RETENTION_DAYS must be a whole number of days"),
}


def _variable(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def _whole_number(raw: str, minimum: int, message: str) -> int:
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(message)
    return int(raw)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings.from_env()
