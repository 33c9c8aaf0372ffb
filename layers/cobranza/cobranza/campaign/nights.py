"""A tenant's night, fanned out (SPEC §10): the schedule only starts nights; parts plan them.

- ``start_nights`` (CampaignFunction, an hourly EventBridge tick): each tenant whose local time
  is within its night window (``NIGHT_STARTS_AT`` to ``NIGHT_ENDS_AT``) and whose night (its local
  date) has not started gets a night record and one part per due-index shard on NightQueue. A
  night missed altogether (the schedule disabled all morning) is not run late in the day: the
  next night catches its steps up (the planner plans every step whose day has come). Each tenant's night thus starts in its
  own zone, once, whatever the ticks or their retries: the record is ``queuing`` until every
  part is on the queue, and a tick that finds it still ``queuing`` (the one before stopped half
  way) queues the parts again. An event whose detail says
  ``{"replay": true}`` (``python -m infra.local invoke CampaignFunction``, an operator) starts
  the night again: planning is idempotent, so a replay plans only what is still missing.
- ``run_part`` (NightFunction, SQS, ``MaximumConcurrency`` parts at once): plans one shard's due
  accounts (``planner.run_for_tenant``, idempotent: attempt ids are deterministic and stored with
  a conditional put, so a redelivered part plans nothing twice), records the part's counts, and
  the part that finds every part recorded writes the night's summary.
"""
from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from ..accounts.store import DUE_SHARDS
from ..core import clock
from ..core.instants import parse_instant, utc_stamp
from ..core.observability import logger, metrics
from ..kpis import store as kpis_repo
from ..tenants import store as tenants_repo
from . import planner
from . import store as nights_repo

#: A tenant's night starts on the first tick at or after NIGHT_STARTS_AT local time, and no
#: later than NIGHT_ENDS_AT (replays aside).
NIGHT_STARTS_AT = time(2, 0)
NIGHT_ENDS_AT = time(14, 0)
#: A night whose parts may still run (queued, or being queued by a tick that may have stopped).
OPEN = ("queuing", "running")


def start_nights(event_time: datetime, tenant_ids: Iterable[str] | None = None,
                 real_now: datetime | None = None, replay: bool = False) -> dict[str, Any]:
    """Starts the night of every tenant that is due one (see the module docstring)."""
    real_now = real_now or clock.utcnow()
    return {"tenants": {tenant_id: _start(tenant_id, event_time, real_now, replay)
                        for tenant_id in tenant_ids or tenants_repo.list_tenant_ids()}}


def _start(tenant_id: str, event_time: datetime, real_now: datetime, replay: bool) -> dict[str, Any]:
    tenant = tenants_repo.get_tenant(tenant_id)
    if tenant is None:
        return {"started": False, "reason": "unknown_tenant"}
    local = event_time.astimezone(ZoneInfo(tenant.timezone))
    night = local.date().isoformat()
    if not replay and not NIGHT_STARTS_AT <= local.time() < NIGHT_ENDS_AT:
        reason = "before_night_start" if local.time() < NIGHT_STARTS_AT else "night_window_over"
        return {"date": night, "started": False, "reason": reason}
    if not nights_repo.start(tenant_id, night, DUE_SHARDS, utc_stamp(real_now), utc_stamp(event_time), replay):
        existing = nights_repo.get_night(tenant_id, night) or {}
        if existing.get("status") != "queuing":
            return {"date": night, "started": False, "reason": "already_started"}
        # a tick that stopped between the record and the last part: queue them all again (a part
        # already planned is dropped by run_part), with the frame the night started in
        event_time, real_now = parse_instant(existing["event_time"]), parse_instant(existing["started_at"])
    kpis_repo.snapshot_level(tenant_id, night)  # the portfolio as the night starts: the KPIs' day start
    nights_repo.queue_parts([{"tenant_id": tenant_id, "night": night, "part": part, "event_time": utc_stamp(event_time),
                              "real_now": utc_stamp(real_now)} for part in range(DUE_SHARDS)])
    nights_repo.mark_queued(tenant_id, night)
    logger.info("night started", extra={"tenant_id": tenant_id, "night": night, "parts": DUE_SHARDS})
    return {"date": night, "started": True, "parts": DUE_SHARDS}


def run_part(message: Mapping[str, Any]) -> dict[str, Any]:
    """Plans one part of a night; returns its counts (and the night's summary if it ended it)."""
    tenant_id, night, part = str(message["tenant_id"]), str(message["night"]), int(message["part"])
    if not 0 <= part < DUE_SHARDS:
        raise ValueError(f"part {part} is not a due-index shard")
    state = nights_repo.part_state(tenant_id, night, part)
    if state is None or state["status"] not in OPEN or state["recorded"]:
        logger.info("night part dropped", extra={"tenant_id": tenant_id, "night": night, "part": part,
                                                 "reason": "unknown_night" if state is None else "already_planned"})
        if state is not None and state["status"] in OPEN and state["parts_done"] >= state["parts_total"]:
            _finish(tenant_id, night)  # the part that completed it may have died before
        return {"tenant_id": tenant_id, "night": night, "part": part, "dropped": True}
    counts = planner.run_for_tenant(tenant_id, parse_instant(message["event_time"]), parse_instant(message["real_now"]),
                                    shards=[part])
    parts_done = nights_repo.record_part(tenant_id, night, part, counts)
    result: dict[str, Any] = {"tenant_id": tenant_id, "night": night, "part": part, "counts": counts}
    summary = _finish(tenant_id, night) if parts_done is not None and parts_done >= state["parts_total"] else None
    if summary is not None:
        result["summary"] = summary
    return result


def _finish(tenant_id: str, night: str) -> dict[str, Any] | None:
    """Writes the night's summary once every part is recorded (once: the write is conditional).
    Reads the whole record, every part's counts: once a night, by the part that completed it."""
    record = nights_repo.get_night(tenant_id, night)
    if record is None or record.get("status") not in OPEN or int(record["parts_done"]) < int(record["parts_total"]):
        return None
    summary = summarise(record["parts"].values())
    if not nights_repo.finish(tenant_id, night, summary, utc_stamp(clock.utcnow())):
        return None
    metrics.add_metric(name="NightsFinished", unit="Count", value=1)
    logger.info("nightly run finished", extra={"tenant_id": tenant_id, "night": night, "summary": summary})
    return summary


def summarise(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The night's counts: every part's numbers added up, key by key (nested counts too)."""
    total: dict[str, Any] = {}
    for counts in parts:
        _add(total, counts)
    return total


def _add(total: dict[str, Any], counts: Mapping[str, Any]) -> None:
    for name, value in counts.items():
        if isinstance(value, Mapping):
            _add(total.setdefault(name, {}), value)
        elif isinstance(value, (int, Decimal)):
            total[name] = total.get(name, 0) + value
        else:
            total.setdefault(name, value)  # the night's date: the same in every part


def night_counts(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary with its numbers as plain ints (stored numbers read back as Decimals)."""
    return {k: night_counts(v) if isinstance(v, Mapping) else (int(v) if isinstance(v, Decimal) else v)
            for k, v in summary.items()}
