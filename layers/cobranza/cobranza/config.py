"""Typed settings read from the environment once per cold start.

Every function gets the same variables from the template's Globals; a missing or empty one
fails the cold start with a message naming it, instead of failing later on a request.
"""
from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from functools import lru_cache
from typing import Mapping


class ConfigError(RuntimeError):
    """The function's environment is incomplete."""


@dataclass(frozen=True)
class Settings:
    data_bucket: str
    accounts_table: str
    tenants_table: str
    api_keys_table: str
    uploads_table: str
    idempotency_table: str
    reminder_queue_url: str
    sender_email: str
    region: str = "us-east-1"
    stage: str = "cobranza"
    #: Only set against the local stack or in tests; boto3 also reads it by itself.
    endpoint_url: str | None = None

    _ENV = {
        "data_bucket": "DATA_BUCKET",
        "accounts_table": "ACCOUNTS_TABLE",
        "tenants_table": "TENANTS_TABLE",
        "api_keys_table": "API_KEYS_TABLE",
        "uploads_table": "UPLOADS_TABLE",
        "idempotency_table": "IDEMPOTENCY_TABLE",
        "reminder_queue_url": "REMINDER_QUEUE_URL",
        "sender_email": "SENDER_EMAIL",
        "region": "AWS_REGION",
        "stage": "COBRANZA_STAGE",
        "endpoint_url": "AWS_ENDPOINT_URL",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, str | None] = {}
        missing = []
        for f in fields(cls):
            name = cls._ENV[f.name]
            raw = (env.get(name) or "").strip()
            if f.name == "region" and not raw:
                raw = (env.get("AWS_DEFAULT_REGION") or "").strip()
            if raw:
                values[f.name] = raw
            elif f.default is MISSING:
                missing.append(name)
        if missing:
            raise ConfigError("missing environment variables: " + ", ".join(sorted(missing)))
        if "@" not in values["sender_email"]:
            raise ConfigError("SENDER_EMAIL must be an email address")
        return cls(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings.from_env()
