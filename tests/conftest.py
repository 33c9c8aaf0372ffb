"""The suite's own option: ``--shift-days N`` runs every test with the clock N days away (N may be
negative), the proof that no test depends on the day it runs (``make test-shifted``).

- Unit and integration tests run in this process: each one, fixtures included, runs inside a
  ``time_machine.travel`` to now + N days (ticking), so ``datetime.now``, ``date.today`` and
  ``time.time`` move for the test code, the platform code, moto and botocore alike. (Integration
  tests also fix the platform's clock, ``cobranza.core.clock.utcnow``, with their ``clock`` fixture.)
- Local-stack tests (tests/local) drive workers that are other processes: for them the variable
  ``COBRANZA_CLOCK_SHIFT_DAYS`` moves the platform's clock (``cobranza.core.clock.utcnow``) in this
  process, in every worker and in the admin command, while AWS (moto, Cognito's tokens, botocore's
  signatures) stays on the real clock, as it does for the real platform.

libfaketime would shift every process at once, but Debian's 0.9.10 breaks Python 3.12: with the
monotonic clock faked, lock and event timeouts hang (``sem_clockwait``); without, ``time.sleep``
fails with EINVAL (``clock_nanosleep`` with ``TIMER_ABSTIME``; libfaketime issues #390 and #426).
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

SHIFT_ENV = "COBRANZA_CLOCK_SHIFT_DAYS"  # read by cobranza.core.clock.utcnow
LOCAL_TESTS = Path(__file__).resolve().parent / "local"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--shift-days", type=float, default=None, metavar="DAYS",
                     help="run every test with the clock DAYS days away from today (negative: in the past)")


def _shift_days(config: pytest.Config) -> float | None:
    return config.getoption("shift_days") or None


def pytest_configure(config: pytest.Config) -> None:
    days = _shift_days(config)
    if days:  # before any local stack starts: its workers inherit the environment
        os.environ[SHIFT_ENV] = format(days, "g")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _shift_days(config):
        os.environ.pop(SHIFT_ENV, None)


def pytest_report_header(config: pytest.Config) -> str | None:
    days = _shift_days(config)
    if not days:
        return None
    shifted = datetime.now(timezone.utc) + timedelta(days=days)
    return f"clock shifted by {days:g} days: tests run on {shifted:%Y-%m-%d %H:%M} UTC"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    days = _shift_days(item.config)
    if not days or Path(item.path).resolve().is_relative_to(LOCAL_TESTS):
        return (yield)
    import time_machine

    # In this process time itself moves, so the platform's clock must not move a second time.
    saved = os.environ.pop(SHIFT_ENV, None)
    try:
        with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=days), tick=True):
            return (yield)
    finally:
        if saved is not None:
            os.environ[SHIFT_ENV] = saved
