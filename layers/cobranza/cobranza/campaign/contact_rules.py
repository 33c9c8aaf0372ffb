"""Contact rules (SPEC §5): may this account be contacted on this channel, and when?

Pure functions of the account's facts, its recent contacts, the policy and the instant: no
clock reads, no AWS. The planner evaluates them when it plans an attempt; the sender evaluates
them again, against a fresh read of the account, just before it sends.

- **Hours**: 07:00-22:00 in the debtor's time zone (CONDUSEF); a policy may narrow the window.
  An attempt planned outside it is deferred to the next opening, never sent early.
- **Caps**: at most ``max_per_day`` automated contacts per account per local day and
  ``max_per_7_days`` over the rolling seven local days ending today, across every channel.
- **Stops**: statuses paid, settled, disputed, withdrawn and legal; a reported payment (until it
  is confirmed or the file says otherwise); a promise until its date plus the grace days; the
  judicial stage (hand-off, no automatic reminders).
- **Addresses**: the channel's address must exist and not be marked unusable by the provider;
  WhatsApp also needs the debtor's opt-in. An opted-out channel is never used.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from ..accounts import status as account_status
from ..accounts.channels import CONTACT_ADDRESS
from ..core.instants import parse_instant, utc_stamp

LEGAL_WINDOW = (time(7, 0), time(22, 0))
STOP_STATUSES = account_status.STOPS_CONTACT


@dataclass(frozen=True)
class Rules:
    """The policy's contact rules, parsed."""

    window_start: time = LEGAL_WINDOW[0]
    window_end: time = LEGAL_WINDOW[1]
    max_per_day: int = 1
    max_per_7_days: int = 7
    promise_grace_days: int = 2

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> "Rules":
        raw = policy.get("contact_rules") or {}
        start = time.fromisoformat(raw.get("window_start", "07:00"))
        end = time.fromisoformat(raw.get("window_end", "22:00"))
        # The legal window always applies, whatever the document says.
        return cls(max(start, LEGAL_WINDOW[0]), min(end, LEGAL_WINDOW[1]), int(raw.get("max_per_day", 1)),
                   int(raw.get("max_per_7_days", 7)), int(raw.get("promise_grace_days", 2)))

    def summary(self, tz: str | None) -> str:
        """The rules an attempt was judged by, compact (it is stored with every attempt):
        ``07:00-22:00 America/Mexico_City; 1/day; 7/7 days; promise grace 2 days``."""
        return (f"{self.window_start:%H:%M}-{self.window_end:%H:%M} {tz}; {self.max_per_day}/day; "
                f"{self.max_per_7_days}/7 days; promise grace {self.promise_grace_days} days")


# ---------------------------------------------------------------- hours
def _local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def _at(day: date, clock: time, tz: str) -> datetime:
    """``clock`` on ``day`` in ``tz`` as an aware datetime (a wall time skipped by a DST change
    lands after the change, as wall clocks do: zoneinfo's default ``fold=0``)."""
    return datetime.combine(day, clock).replace(tzinfo=ZoneInfo(tz))


def in_window(moment: datetime, tz: str, rules: Rules) -> bool:
    """True when ``moment`` falls inside the contact window in ``tz`` (start inclusive, end exclusive)."""
    local = _local(moment, tz).time()
    return rules.window_start <= local < rules.window_end


def window_opening(moment: datetime, tz: str, rules: Rules) -> datetime:
    """``moment`` itself when inside the window, else the next time the window opens."""
    if in_window(moment, tz, rules):
        return moment
    local = _local(moment, tz)
    day = local.date() if local.time() < rules.window_start else local.date() + timedelta(days=1)
    return _at(day, rules.window_start, tz).astimezone(moment.tzinfo or timezone.utc)


def window_closing(moment: datetime, tz: str, rules: Rules) -> datetime:
    """The end of the window of ``moment``'s local day."""
    return _at(_local(moment, tz).date(), rules.window_end, tz).astimezone(moment.tzinfo or timezone.utc)


# ---------------------------------------------------------------- caps
def cap_reason(contacts: Iterable[datetime], moment: datetime, tz: str, rules: Rules) -> str | None:
    """``daily_cap`` or ``weekly_cap`` when one more automated contact at ``moment`` would break a
    cap, counting ``contacts`` (the account's earlier automated contacts, any channel)."""
    today = _local(moment, tz).date()
    first_day = today - timedelta(days=6)
    days = [_local(c, tz).date() for c in contacts]
    if sum(1 for d in days if d == today) >= rules.max_per_day:
        return "daily_cap"
    if sum(1 for d in days if first_day <= d <= today) >= rules.max_per_7_days:
        return "weekly_cap"
    return None


# ---------------------------------------------------------------- stops and addresses
def status_stop_reason(account: Mapping[str, Any], today: date, rules: Rules) -> str | None:
    """Why the account's status or stage stops every contact today, automated or in person."""
    current = account_status.of(account)
    if current in STOP_STATUSES:
        return f"status_{current}"
    if account.get("contact_closed"):  # an outcome closed it for contact (the debtor died)
        return f"closed_{account['contact_closed']}"
    if current == "promised":
        promised_until = account.get("promise_date")
        if not promised_until or today <= date.fromisoformat(promised_until) + timedelta(days=rules.promise_grace_days):
            return "status_promised"
    if account.get("stage") == "judicial":
        return "judicial"
    return None


def paid_since(account: Mapping[str, Any], planned: str) -> bool:
    """True when a payment was recorded on the account at or after ``planned`` (the instant a
    reminder was planned): the reminder speaks of a debt the debtor has just paid toward, so it is not sent (SPEC §6b)."""
    recorded = account.get("payment_recorded_at")
    return bool(recorded) and str(recorded) >= planned


def promise_cutoff(today: date, rules: Rules) -> str:
    """Promises dated before this ISO date are past their grace days today."""
    return (today - timedelta(days=rules.promise_grace_days)).isoformat()


def stop_reason(account: Mapping[str, Any], channel: str, today: date, rules: Rules) -> str | None:
    """Why the account may not be contacted on ``channel`` at all today (None: it may).

    ``account`` holds the stored fields: status, stage, promise_date, opted_out_channels,
    unusable_channels, email, phone, whatsapp_opt_in.
    """
    reason = status_stop_reason(account, today, rules)
    if reason:
        return reason
    if channel in (account.get("opted_out_channels") or ()) or "all" in (account.get("opted_out_channels") or ()):
        return "opted_out"
    field = CONTACT_ADDRESS.get(channel)
    if field is None:
        return "channel_unknown"
    if not account.get(field):
        return "no_address"
    if channel in (account.get("unusable_channels") or ()):
        return "address_invalid"
    if channel == "whatsapp" and account.get("whatsapp_opt_in") is not True:
        return "no_whatsapp_opt_in"
    return None


@dataclass(frozen=True)
class Decision:
    """What to do with one attempt: ``send`` now, ``defer`` until ``send_at``, or ``skip``."""

    action: str
    reason: str | None = None
    send_at: datetime | None = None

    @property
    def status(self) -> str:
        return {"send": "planned", "defer": "deferred", "skip": "skipped"}[self.action]


def decide(account: Mapping[str, Any], channel: str, moment: datetime, contacts: Iterable[datetime],
           rules: Rules) -> Decision:
    """Every rule for one automated contact on ``channel`` at ``moment`` (aware, any zone)."""
    tz = account.get("timezone") or "America/Mexico_City"
    send_at = window_opening(moment, tz, rules)
    today = _local(send_at, tz).date()
    reason = stop_reason(account, channel, today, rules) or cap_reason(contacts, send_at, tz, rules)
    if reason:
        return Decision("skip", reason)
    if not in_window(moment, tz, rules):
        return Decision("defer", "outside_hours", send_at)
    return Decision("send", None, send_at)


# ---------------------------------------------------------------- the account's contact log
# Each automated contact is one entry "<utc iso>|<channel>|<attempt id>" in the account's log.
LOG_DAYS = 8  # the caps look back seven local days; one more covers any time zone


def log_entry(moment: datetime, channel: str, attempt_id: str) -> str:
    return f"{utc_stamp(moment)}|{channel}|{attempt_id}"


def _instant(entry: str) -> datetime:
    return parse_instant(entry.split("|", 1)[0])


def parse_contacts(log: Iterable[str] | None) -> list[datetime]:
    """The instants of the logged contacts."""
    return [_instant(entry) for entry in (log or ())]


def trim_log(log: Iterable[str] | None, moment: datetime) -> list[str]:
    """The entries still relevant to the caps at ``moment`` (what an account keeps)."""
    horizon = moment - timedelta(days=LOG_DAYS)
    return [entry for entry in (log or ()) if _instant(entry) > horizon]


def logged(log: Iterable[str] | None, attempt_id: str) -> bool:
    """True when the attempt was already claimed (its id is in the log)."""
    return claimed_at(log, attempt_id) is not None


def claimed_at(log: Iterable[str] | None, attempt_id: str) -> datetime | None:
    """When the attempt was claimed, if its id is in the log."""
    for entry in log or ():
        if entry.rsplit("|", 1)[-1] == attempt_id:
            return _instant(entry)
    return None
