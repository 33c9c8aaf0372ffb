"""Shared by the core.aws tests that go through a real botocore client (no network: every request
is answered by a `before-send` handler)."""
from __future__ import annotations

import pytest

from cobranza.core import aws


@pytest.fixture
def own_clients(monkeypatch):
    """core.aws with credentials and clients of this test's own, forgotten after it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset()
    monkeypatch.setattr(aws, "_clients", {})

