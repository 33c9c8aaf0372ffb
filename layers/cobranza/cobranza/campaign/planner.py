"""The nightly campaign planner (SPEC §5).

Per tenant, "today" is the event's ``time`` in the tenant's time zone. Only the accounts whose
next-action date has come are read (the sparse due-index, never a scan). For each one:

1. its stage, bucket and segment are recomputed as of today;
2. the cadence steps due today are decided against the contact rules (campaign.contact_rules):
   ``planned`` (send now), ``deferred`` (outside hours: sent when the window opens) or
   ``skipped`` with the reason; field-visit steps become visit tasks; an account that reaches the
   judicial stage is handed off to legal (alarm and timeline entry) and gets no reminders;
3. each attempt is stored in the account's timeline under a deterministic key *before* anything
   is queued (a conditional put: a rerun of the same night finds it and plans nothing new; an
   attempt it finds still open is queued again, and the sender sends it at most once);
4. reminders are queued to their channel's queue in batches of ten;
5. the account's derived fields and next-action date are updated (only those fields), after its
   reminders are queued, so a crash in between replans the same attempts on the rerun.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable

from ..accounts import alarms as alarms_repo
from ..accounts import segmentation
from ..accounts import status as account_status
from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..accounts.service import needs_legal_handoff, refresh_derived
from ..core import clock, queues
from ..core.instants import local_date, utc_stamp
from ..core.observability import logger, metrics
from ..core.settings import get_settings
from ..kpis import rules as kpi_rules
from ..kpis import store as kpis_repo
from ..payments import promises
from ..payments import rules as promise_rules
from ..payments.rules import money_of
from ..tenants import store as tenants_repo
from ..tenants.policy import effective_policy
from ..visits import store as visits_repo
from ..visits import tasks as visits
from . import calls, contact_rules

REMINDER_CHANNELS = ("email", "sms", "whatsapp")
SQS_BATCH = 10
#: Accounts handled together: their attempts are written in parallel, then queued, then updated.
CHUNK = 200
WRITERS = 16
OPEN_STATUSES = ("planned", "deferred")


def attempt_id(tenant_id: str, account_id: str, step_id: str, on: date) -> str:
    seed = f"{tenant_id}|{account_id}|{step_id}|{on.isoformat()}"
    return "att_" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def run_nightly(event_time: datetime, tenant_ids: Iterable[str] | None = None,
                real_now: datetime | None = None) -> dict[str, Any]:
    """Every tenant's whole night in this process (tests and benchmarks). The platform never runs
    a night in one invocation: the schedule starts each tenant's night in parts (campaign.nights)."""
    results = {}
    for tenant_id in tenant_ids or tenants_repo.list_tenant_ids():
        results[tenant_id] = run_for_tenant(tenant_id, event_time, real_now or clock.utcnow())
    return {"tenants": results}


class Outbox:
    """Reminder messages per channel, sent in full batches of ten. ``on_sent`` callbacks run once
    every message added with them is in SQS (an account is updated only after that)."""

    def __init__(self) -> None:
        self._pending: dict[str, list[tuple[dict[str, Any], Callable[[], None] | None]]] = defaultdict(list)
        self.sent = 0

    def add(self, message: dict[str, Any], on_sent: Callable[[], None] | None = None) -> None:
        channel = message["channel"]
        self._pending[channel].append((message, on_sent))
        if len(self._pending[channel]) >= SQS_BATCH:
            self._send(channel)

    def flush(self) -> None:
        for channel in list(self._pending):
            while self._pending[channel]:
                self._send(channel)

    def _send(self, channel: str) -> None:
        batch, self._pending[channel] = self._pending[channel][:SQS_BATCH], self._pending[channel][SQS_BATCH:]
        self.sent += queues.send_messages(get_settings().queue_url(channel), [message for message, _ in batch])
        for _, on_sent in batch:
            if on_sent:
                on_sent()


class _Pending:
    """An account update waiting for its reminders to be queued."""

    def __init__(self, update: Callable[[], None], waiting: int, ready: list[Callable[[], None]]):
        self.update, self.waiting, self._ready = update, waiting, ready
        if waiting == 0:
            ready.append(update)

    def one_sent(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self._ready.append(self.update)


def run_for_tenant(tenant_id: str, event_time: datetime, real_now: datetime,
                   shards: list[int] | None = None) -> dict[str, Any]:
    """Plans the tenant's due accounts of the given due-index shards (default: all) for the night
    of ``event_time``; returns the counts."""
    tenant = tenants_repo.get_tenant(tenant_id)
    if tenant is None:
        return {"error": "unknown tenant"}
    policy = effective_policy(tenant.policy)
    rules = contact_rules.Rules.from_policy(policy)
    today = local_date(event_time, tenant.timezone)
    offset = clock.frame_offset(event_time, real_now)
    logger.append_keys(tenant_id=tenant_id, run_date=today.isoformat())
    planner = _Planner(tenant_id, tenant.name, policy, rules, today, event_time, offset)
    with ThreadPoolExecutor(WRITERS) as pool:
        chunk: list[dict[str, Any]] = []
        for item in accounts_repo.due_accounts(tenant_id, today, shards):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                planner.handle(chunk, pool)
                chunk = []
        planner.handle(chunk, pool)
        planner.finish(pool)
    counts = planner.counts
    metrics.add_metric(name="RemindersQueued", unit="Count", value=counts["messages_queued"])
    logger.info("night planned", extra={"counts": dict(counts), "shards": "all" if shards is None else shards})
    return {"date": today.isoformat(), **dict(sorted(counts.items())),
            "by_channel": dict(sorted(planner.by_channel.items())),
            "by_status": dict(sorted(planner.by_status.items())),
            "by_stage": dict(sorted(planner.by_stage.items())),
            "skipped_by_reason": dict(sorted(planner.skipped.items()))}


class _Planner:
    def __init__(self, tenant_id: str, tenant_name: str, policy: dict[str, Any], rules: contact_rules.Rules,
                 today: date, event_time: datetime, offset: float) -> None:
        self.tenant_id, self.tenant_name = tenant_id, tenant_name
        self.policy, self.rules, self.today = policy, rules, today
        self.event_time, self.offset = event_time, offset
        self.outbox = Outbox()
        self.kpis = kpis_repo.Batch(tenant_id)  # bucket moves: roll rates and the portfolio's level
        self.assigner = visits.Assigner(tenant_id, policy)  # reads the agents on the first visit task
        retention = timedelta(days=get_settings().timeline_retention_days)
        self.expires_at = int((event_time + retention).timestamp())
        self._ready: list[Callable[[], None]] = []
        self.counts: Counter[str] = Counter({"accounts_due": 0, "accounts_moved": 0, "attempts": 0,
                                             "messages_queued": 0, "visits_created": 0, "visits_assigned": 0,
                                             "legal_handoffs": 0, "promises_broken": 0})
        self.by_channel: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.by_stage: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()

    # ------------------------------------------------------------ per chunk
    def handle(self, chunk: list[dict[str, Any]], pool: ThreadPoolExecutor) -> None:
        if not chunk:
            return
        plans = [self._plan(item) for item in chunk]
        entries = [entry for _, entries, _ in plans for entry in entries]
        stored = iter(list(pool.map(timeline_repo.put_new, entries)))  # None: new; else what was there
        for item, entries, update in plans:
            queued = []
            for entry in entries:
                found = next(stored)
                status = entry["status"] if found is None else found.get("status")
                if found is None:
                    self._count(entry)
                if entry["channel"] in REMINDER_CHANNELS and status in OPEN_STATUSES:
                    queued.append(self._message(item, entry))
            pending = _Pending(update, len(queued), self._ready)
            for message in queued:
                self.outbox.add(message, pending.one_sent)
        self._run_ready(pool)
        self.kpis.flush()  # after the chunk's accounts are written

    def finish(self, pool: ThreadPoolExecutor) -> None:
        self.outbox.flush()
        self._run_ready(pool)
        self.kpis.flush()  # the rolls of the accounts written last
        self.counts["messages_queued"] = self.outbox.sent

    def _run_ready(self, pool: ThreadPoolExecutor) -> None:
        ready, self._ready[:] = list(self._ready), []
        for _ in pool.map(lambda update: update(), ready):
            pass

    # ------------------------------------------------------------ per account
    def _plan(self, item: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], Callable[[], None]]:
        self.counts["accounts_due"] += 1
        promised = dict(item) if promise_rules.is_broken(item, self.today, self.rules.promise_grace_days) else None
        if promised is not None:  # broken tonight: the cadence resumes from where the account stands
            self.counts["promises_broken"] += 1
            item["status"] = account_status.DEFAULT
            item["promise_broken_on"] = self.today.isoformat()  # tonight's call list puts it first
        before = {name: item.get(name) for name in accounts_repo.PLANNER_FIELDS}
        previous = (item.get("stage"), item.get("aging_bucket"))
        since = date.fromisoformat(item["next_action_on"]) if item.get("next_action_on") else self.today
        refresh_derived(item, self.policy, self.today, next_from=self.today + timedelta(days=1))
        if (item["stage"], item["aging_bucket"]) != previous:
            self.counts["accounts_moved"] += 1
        moved = ((dict(before), dict(item)) if (before.get("aging_bucket"), before.get("segment"))
                 != (item.get("aging_bucket"), item.get("segment")) else None)
        escalated = segmentation.escalated_high_tier(previous[0], item)
        entries: list[dict[str, Any]] = []
        handoff = needs_legal_handoff(item)
        if handoff:
            item["legal_handoff_on"] = self.today.isoformat()
            refresh_derived(item, self.policy, self.today, next_from=self.today + timedelta(days=1))
            entries.append(self._handoff(item))
        elif account_status.of(item) in account_status.ON_SCHEDULE:
            contacts = contact_rules.parse_contacts(item.get("contact_log"))
            for step in segmentation.steps_due(self.policy, date.fromisoformat(item["due_date"]), self.today,
                                               item["amount_tier"], item.get("lat") is not None, since=since,
                                               segment=item.get("segment")):
                entries.append(self._attempt(item, step, contacts))
        # Only what changed: the item is never rewritten (an opt-out or payment recorded meanwhile stays).
        fields = {name: item.get(name) for name in accounts_repo.PLANNER_FIELDS if item.get(name) != before[name]}
        tenant_id, account_id, seen_rev = item["tenant_id"], item["account_id"], item.get(accounts_repo.REV)
        planned_from = item.get("row_hash")

        def update() -> None:
            if promised is not None:  # before the derived fields: their write then sees the new status
                promises.break_if_due(tenant_id, promised, self.today, self.rules.promise_grace_days, self.event_time)
            self._raise_alarms(account_id, handoff, escalated)
            if fields:
                self._save_derived(tenant_id, account_id, fields, seen_rev, handoff, planned_from)
            if moved:  # counted once written: a rerun of the night finds the account moved already
                self._count_move(*moved)

        return item, entries, update

    def _raise_alarms(self, account_id: str, handoff: bool, escalated: str | None) -> None:
        """Before the account records what raised them: a failed alarm write is retried by the rerun."""
        if handoff:
            alarms_repo.raise_alarm(self.tenant_id, "judicial_handoff", f"account#{account_id}",
                                    f"account {account_id} reached the judicial stage and joins the legal "
                                    "hand-off list", utc_stamp(self.event_time), {"account_id": account_id})
        if escalated:
            alarms_repo.raise_alarm(self.tenant_id, "high_tier_stage_change", f"account#{account_id}#{escalated}",
                                    f"account {account_id} of high amount tier entered the {escalated} stage",
                                    utc_stamp(self.event_time), {"account_id": account_id})

    def _count_move(self, before: dict[str, Any], item: dict[str, Any]) -> None:
        """An account the night saw change aging bucket (a roll) or segment: the level's move."""
        source, target = before.get("aging_bucket"), item.get("aging_bucket")
        if not source or not target:
            return
        segment = item.get("segment") or "general"
        owed = money_of(item).balance
        if source != target:  # a roll; a change of segment alone only moves the level
            self.kpis.count(self.today.isoformat(), segment, {kpi_rules.roll_counter(str(source), str(target)): 1})
        self.kpis.move_level(before.get("segment") or "general", str(source), -1, -owed)
        self.kpis.move_level(segment, str(target), 1, owed)

    def _save_derived(self, tenant_id: str, account_id: str, fields: dict[str, Any], seen_rev: Any,
                      handoff: bool, planned_from: Any) -> None:
        """Writes the derived fields if nobody wrote the account since it was read. If a file
        changed the account meanwhile (another ``row_hash``), the file's own derivation stands
        (its next date counts from today, so the next night catches up on the new facts); after
        any other writer, the fields are derived again from the account as it is now."""
        for _ in range(accounts_repo.MAX_REDERIVE):
            if not fields or accounts_repo.update_fields(tenant_id, account_id, fields, seen_rev=seen_rev):
                return
            fresh = accounts_repo.read_account(tenant_id, account_id)
            if fresh is None or fresh.get("row_hash") != planned_from:
                return
            before = {name: fresh.get(name) for name in accounts_repo.PLANNER_FIELDS}
            if handoff and needs_legal_handoff(fresh):
                fresh["legal_handoff_on"] = self.today.isoformat()
            refresh_derived(fresh, self.policy, self.today, next_from=self.today + timedelta(days=1))
            fields = {name: fresh.get(name) for name in accounts_repo.PLANNER_FIELDS if fresh.get(name) != before[name]}
            seen_rev = fresh.get(accounts_repo.REV)
        raise RuntimeError(f"account kept changing while the night derived it ({accounts_repo.MAX_REDERIVE} reads)")

    def _entry(self, item: dict[str, Any], step_id: str, channel: str) -> dict[str, Any]:
        return {
            "account_key": timeline_repo.account_key(item["tenant_id"], item["account_id"]),
            "entry_id": timeline_repo.attempt_entry_id(self.today.isoformat(), step_id),
            "kind": "contact",
            "attempt_id": attempt_id(item["tenant_id"], item["account_id"], step_id, self.today),
            "channel": channel, "step": step_id, "stage": item["stage"], "segment": item.get("segment"),
            "planned_for": self.today.isoformat(), "planned_at": utc_stamp(self.event_time),
            "expires_at": self.expires_at,  # the table's TTL: the timeline keeps attempts this long
        }

    def _attempt(self, item: dict[str, Any], step: segmentation.Step, contacts: list[datetime]) -> dict[str, Any]:
        entry = self._entry(item, step.step_id, step.channel)
        if step.channel == "field_visit":
            stop = contact_rules.status_stop_reason(item, self.today, self.rules)
            if stop:  # no visit to a debtor who paid, disputes or promised
                return dict(entry, status="skipped", reason=stop)
            task = visits.new_task(item["tenant_id"], item, visits.campaign_visit_id(
                item["tenant_id"], item["account_id"], step.step_id, self.today), self.today,
                f"cadence:{step.step_id}", clock.utcnow(), self.policy)
            created = visits_repo.create_task(task)  # unassigned first: a rerun never takes a second slot
            if created:
                self.counts["visits_created"] += 1
                if self.assigner.assign(task)["status"] == "assigned" and visits_repo.save_assignment(task):
                    self.counts["visits_assigned"] += 1
            return dict(entry, status="visit_created", visit_id=task["visit_id"], agent_id=task.get("agent_id"))
        if step.channel == "call":  # the phone team's list of the day (campaign.calls)
            stop = contact_rules.stop_reason(item, "call", self.today, self.rules)
            if stop:
                return dict(entry, status="skipped", reason=stop)
            return dict(entry, status="call_listed", task_id=calls.plan_call(item, self.today, step.step_id))
        decision = contact_rules.decide(item, step.channel, self.event_time, contacts, self.rules)
        entry.update(status=decision.status, reason=decision.reason,
                     send_at=utc_stamp(decision.send_at) if decision.send_at else None,
                     rules=self.rules.summary(item.get("timezone")))
        return entry

    def _handoff(self, item: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(item, "legal_handoff", "legal")
        return dict(entry, kind="legal_handoff", status="handed_off", reason="judicial_stage",
                    entry_id=f"{self.today.isoformat()}#legal_handoff")

    def _message(self, item: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        message = {"tenant_id": item["tenant_id"], "account_id": item["account_id"],
                   **{k: entry.get(k) for k in ("attempt_id", "entry_id", "channel", "step", "stage", "planned_for",
                                                "send_at")}}
        if self.offset:
            message["clock_offset_s"] = round(self.offset)
        return message

    def _count(self, entry: dict[str, Any]) -> None:
        if entry["kind"] == "legal_handoff":
            self.counts["legal_handoffs"] += 1
            return
        self.counts["attempts"] += 1
        self.by_channel[entry["channel"]] += 1
        self.by_status[entry["status"]] += 1
        self.by_stage[entry["stage"]] += 1
        if entry["status"] == "skipped":
            self.skipped[entry["reason"]] += 1
