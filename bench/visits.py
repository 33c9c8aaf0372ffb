"""Field-visit result benchmarks (SPEC §6).

- ``aws_requests_per_result``: every AWS request our code makes per visit result, end to end
  (goal: at most 4: the verification, the visit, the account update and the notification written
  together). On moto in process, with the template's resources: a tenant with a notification
  address, ``N_RESULTS`` accounts with coordinates, agents created by the admin command and signed
  in to the pool, one visit per account assigned to them, a share of the photos uploaded and
  registered by PhotoFunction beforehand (setup, not counted). The results are posted through the
  Chalice app with the agents' bearer tokens (API side), the visits stream is forwarded to
  NotificationsQueue as VisitResultsPipe does, and NotifyFunction's handler runs on the queued
  records in batches of 10 (notify side). ``cobranza.core.aws.request_counts`` counts both sides
  separately; the pipe's stream reads and queue writes (EventBridge Pipes in AWS, not our code) are
  reported apart, and so is the event source mapping's polling (not counted at all).
- ``cpu_ms_per_result``: the API handler's own CPU time per result without its AWS calls: the
  thread time of each API call minus the thread time spent between botocore's ``before-call`` and
  ``after-call`` events (the HTTP exchange, moto's own work inside it, and parsing the answer).
  The median (steady state); the mean, the first (cold) result and the JWT verification's share
  are reported too, and ``cpu_ms_per_result_incl_botocore`` takes off only moto's work (botocore's
  request building and answer parsing left in, as a Lambda pays them).
- ``results_per_s``, ``p50_ms``, ``p99_ms``, ``errors``: sustained result submissions against the
  local stack (``infra.local.stack.LocalStack``, default ``api_workers=2``: moto server, the API on
  127.0.0.1, handlers in warm worker processes, the pipe and NotifyFunction running behind) on this
  machine. A load script in its own process posts a bounded number of results (``LOAD_RESULTS``
  over ``LOAD_CONCURRENCY`` connections, one agent per connection posting its visits one after
  another, as a phone does), after a warm-up request per connection and ``SOLO_PER_AGENT`` results
  per agent posted with nothing else in flight (``p50_ms_alone``: the latency without queueing).
  Keep-alive is asked for, but the local API's werkzeug server closes every connection.
  moto's TransactWriteItems deep-copies every table it touches before writing; the local stack
  backs up only the items each transaction names instead (``infra/local/moto_transactions.py``),
  so a result costs the emulator what it touches, whatever the tables hold.
"""
from __future__ import annotations

import contextlib
import http.client
import io
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
TENANT = "bench-visitas"
NOTIFY = "equipo@bench-visitas.mx"
PASSWORD = "Campo2026seguro"
ZONE = ZoneInfo("America/Mexico_City")
CENTER = (19.4326, -99.1332)  # the Zócalo; accounts within ~3 km
M_PER_DEG_LAT = 6_371_008.8 * math.pi / 180

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)  # 11:00 in Mexico City (in process)
N_RESULTS = 200
AGENTS = 4
PHOTO_SHARE = 0.35
LOAD_RESULTS = 400
LOAD_CONCURRENCY = 8
SOLO_PER_AGENT = 2  # results posted with no other request in flight: the latency without queueing
API_WORKERS = 2  # LocalStack's default
CAPTURE_SPACING = timedelta(minutes=9)  # between one agent's results

# Realistic mixes (weights): outcomes of an address-verification visit, and where the phone was.
OUTCOMES = (("not_home", 28), ("promise_to_pay", 22), ("refused", 12), ("relative_contacted", 8),
            ("paid_reported", 7), ("dispute", 6), ("partial_payment_reported", 5), ("wrong_address", 5),
            ("moved", 4), ("abandoned_property", 3))
CHECKS = (("verified", 80), ("outside_radius", 8), ("low_accuracy", 4), ("far_away", 5), ("mock_location", 3))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(60_000)


# ---------------------------------------------------------------- the workload
def _portfolio(n: int, due: date, seed: int) -> tuple[bytes, list[dict]]:
    rng = random.Random(seed)
    lines = ["cuenta,nombre,saldo,vencimiento,telefono,estado,ciudad,cp,domicilio,latitud,longitud"]
    accounts = []
    for i in range(n):
        lat = round(CENTER[0] + rng.uniform(-0.027, 0.027), 6)
        lon = round(CENTER[1] + rng.uniform(-0.028, 0.028), 6)
        balance = rng.choice((4500, 8000, 12500, 18000, 25000, 42000))
        account_id = f"C{i:05d}"
        lines.append(f"{account_id},Persona Número {i},{balance},{due.isoformat()},55{rng.randrange(10**8):08d},CDMX,"
                     f"Cuauhtémoc,06700,Calle {i} número {rng.randrange(1, 300)},{lat},{lon}")
        accounts.append({"account_id": account_id, "lat": lat, "lon": lon, "balance": balance})
    return ("\n".join(lines) + "\n").encode(), accounts


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _moved(point: tuple[float, float], metres: float, bearing: float) -> tuple[float, float]:
    lat = point[0] + metres * math.cos(bearing) / M_PER_DEG_LAT
    lon = point[1] + metres * math.sin(bearing) / (M_PER_DEG_LAT * math.cos(math.radians(point[0])))
    return round(lat, 7), round(lon, 7)


def _result_body(rng: random.Random, key: str, account: dict, captured: datetime, photo: str | None) -> tuple[dict, str, str]:
    """A result as the app sends it; (body, outcome, where the phone was)."""
    outcome, check = _pick(rng, OUTCOMES), _pick(rng, CHECKS)
    metres, accuracy = {"verified": (rng.uniform(5, 110), rng.uniform(4, 35)),
                        "outside_radius": (rng.uniform(200, 600), rng.uniform(6, 30)),
                        "low_accuracy": (rng.uniform(20, 90), rng.uniform(120, 300)),
                        "far_away": (rng.uniform(1300, 3000), rng.uniform(6, 30)),
                        "mock_location": (rng.uniform(5, 60), rng.uniform(3, 10))}[check]
    lat, lon = _moved((account["lat"], account["lon"]), metres, rng.uniform(0, 2 * math.pi))
    who = "nadie" if outcome in ("not_home", "abandoned_property") else \
        "familiar" if outcome == "relative_contacted" else rng.choice(("titular", "titular", "familiar", "vecino"))
    answers: dict[str, Any] = {"holder_lives_here": outcome not in ("moved", "wrong_address", "abandoned_property"),
                               "who_answered": who, "property_condition": rng.choice(("buena", "buena", "regular", "mala")),
                               "zone_risk": rng.choice(("bajo", "bajo", "medio", "alto"))}
    if who == "familiar":
        answers["relationship"] = rng.choice(("madre", "esposo", "hija", "hermano"))
    if who in ("titular", "familiar", "vecino"):
        answers["seemed_truthful"] = rng.random() < 0.8
        answers["best_contact_time"] = rng.choice(("mañana", "tarde", "noche"))
    if photo:
        answers["facade_photo"] = photo
    body: dict[str, Any] = {
        "idempotency_key": key, "captured_at": captured.isoformat().replace("+00:00", "Z"),
        "location": {"lat": lat, "lon": lon, "accuracy_m": round(accuracy, 1), "is_mock": check == "mock_location",
                     "provider": "gps"},
        "battery_pct": rng.randrange(15, 100), "outcome": outcome, "answers": answers,
    }
    if photo:
        body["photos"] = [photo]
    if outcome == "promise_to_pay":
        visited_on = captured.astimezone(ZONE).date()
        body["promise"] = {"amount": str(min(account["balance"], rng.choice((500, 1000, 1500, 2500, 4000)))),
                           "date": (visited_on + timedelta(days=rng.choice((3, 7, 14)))).isoformat()}
    if rng.random() < 0.3:
        body["notes"] = "El titular pide que se le llame por la tarde; el domicilio coincide con la fachada."
    return body, outcome, check


def _say(message: str, started: float = 0.0) -> None:
    print(f"[bench.visits] {message}" + (f" ({time.perf_counter() - started:.1f} s)" if started else ""),
          file=sys.stderr, flush=True)


def _percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------- in process (moto)
class _ThreadClock:
    """Thread CPU time spent between two events (nesting-safe)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._depth = 0
        self._started = 0.0

    def enter(self, **_: Any) -> None:
        if self._depth == 0:
            self._started = time.thread_time()
        self._depth += 1

    def exit(self, **_: Any) -> None:
        if self._depth:
            self._depth -= 1
            if self._depth == 0:
                self.total += time.thread_time() - self._started


@contextlib.contextmanager
def _timed_moto(meter: _ThreadClock, by_operation: Counter[str] | None = None):
    """moto's own work: the time inside its botocore stub (a ``before-send`` handler)."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__

    def timed(self, event_name, *args, **kwargs):
        before = meter.total
        meter.enter()
        try:
            return original(self, event_name, *args, **kwargs)
        finally:
            meter.exit()
            if by_operation is not None:
                by_operation[event_name.split(".", 1)[1]] += meter.total - before

    BotocoreStubber.__call__ = timed
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original


@contextlib.contextmanager
def _timed_jwt(meter: _ThreadClock):
    from cobranza.tenants import auth

    original = auth.verify_token

    def timed(*args, **kwargs):
        meter.enter()
        try:
            return original(*args, **kwargs)
        finally:
            meter.exit()

    auth.verify_token = timed
    try:
        yield
    finally:
        auth.verify_token = original


@contextlib.contextmanager
def _quiet_logs():
    """The handlers log (and flush metrics) as deployed, into a buffer instead of our output."""
    from cobranza.core.observability import logger

    out = io.StringIO()
    handler = getattr(logger, "registered_handler", None)
    previous = handler.setStream(out) if handler is not None else None
    try:
        with contextlib.redirect_stdout(out):
            yield out
    finally:
        if handler is not None:
            handler.setStream(previous)


@contextlib.contextmanager
def _environment():
    """The process environment as it was, afterwards (the local stack's workers inherit it)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _reset_caches() -> None:
    from cobranza.core import aws
    from cobranza.core.settings import get_settings
    from cobranza.core.tables import unbind_models
    from cobranza.tenants import store as tenants

    get_settings.cache_clear()
    aws.reset()
    unbind_models()
    tenants.clear_key_cache()
    tenants._tenant_cache.clear()  # a cold container: the tenant is read again (then cached for a minute)


def _call(api, method: str, path: str, body: Any = None, key: str | None = None, token: str | None = None) -> tuple[int, Any]:
    headers = {}
    if key:
        headers["x-api-key"] = key
    if token:
        headers["authorization"] = f"Bearer {token}"
    if body is not None:
        headers["content-type"] = "application/json"
    response = getattr(api, method)(path, headers=headers, body=json.dumps(body) if body is not None else None)
    return response.status_code, json.loads(response.body) if response.body else None


def _in_process(n: int = N_RESULTS, agents_count: int = AGENTS) -> dict:
    import boto3
    from chalice.test import Client
    from moto.backends import get_backend
    from moto.utilities.utils import load_resource

    from bench.campaign import moto_stack
    from cobranza.core import aws, clock
    from cobranza.tenants import auth
    from cobranza.tenants import store as tenants_repo
    from infra.admin import commands
    from infra.admin.target import Target
    from infra.local.pipes import forward_once, pipe_specs, streams_client
    from tests.helpers import LambdaContext, load_function, s3_put_event

    rng = random.Random(20261123)
    original_utcnow, original_fetch = clock.utcnow, auth.signing_keys.fetch
    with _environment(), moto_stack() as template, _quiet_logs(), contextlib.ExitStack() as restore:
        restore.callback(setattr, clock, "utcnow", original_utcnow)
        restore.callback(setattr, auth.signing_keys, "fetch", original_fetch)
        restore.callback(auth.signing_keys.reset)
        clock.utcnow = lambda: NOW
        functions_env = {}
        for function in ("IngestFunction", "PhotoFunction", "NotifyFunction", "ApiFunction"):
            functions_env.update(template.function_environment(function))
        assert functions_env["AGENT_POOL_ID"] == template.physical_name("AgentPool")
        auth.signing_keys.reset()
        auth.signing_keys.fetch = lambda url: load_resource("cognitoidp/resources/jwks-public.json")

        # ---- setup (not counted): tenant, agents, portfolio, visits, photos
        sender = str(template.parameters.get("SenderEmail", "no-reply@example.com"))
        target = Target("local", template.names(), None, template.region, sender)
        tenant = commands.create_tenant(target, TENANT, "Financiera Bench", [NOTIFY], "America/Mexico_City")
        homes = [_moved(CENTER, 2500, k * 2 * math.pi / agents_count) for k in range(agents_count)]
        made = [commands.create_agent(target, TENANT, f"gestor{k}@bench-visitas.mx", PASSWORD, False,
                                      f"{homes[k][0]},{homes[k][1]}", ["CDMX"], 100, f"Gestor {k}")
                for k in range(agents_count)]
        os.environ.update(functions_env)
        _reset_caches()
        cognito = boto3.client("cognito-idp")
        tokens = [cognito.initiate_auth(ClientId=a["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                        AuthParameters={"USERNAME": a["username"], "PASSWORD": PASSWORD})
                  ["AuthenticationResult"]["IdToken"] for a in made]
        extra = 10  # visits for the side figures (replays, photos not yet registered)
        data, accounts = _portfolio(n + extra, NOW.date() - timedelta(days=45), seed=7)
        s3 = boto3.client("s3")
        bucket = template.physical_name("DataBucket")
        etag = s3.put_object(Bucket=bucket, Key=f"portfolios/{TENANT}/cartera.csv", Body=data)["ETag"].strip('"')
        load_function("ingest").handler(s3_put_event(bucket, f"portfolios/{TENANT}/cartera.csv", len(data), etag, "0A1"),
                                        LambdaContext())
        photo = load_function("photo")
        with Client(load_function("api").app) as client:
            api = client.http
            plan = []
            for i, account in enumerate(accounts):
                k = i % agents_count
                status, visit = _call(api, "post", "/v1/visits", {"account_id": account["account_id"],
                                                                  "agent_id": made[k]["agent_id"]}, key=tenant["api_key"])
                assert status == 201 and visit["status"] == "assigned", visit
                key = None
                if rng.random() < PHOTO_SHARE or i >= n + extra // 2:
                    key = f"visits/{TENANT}/{visit['visit_id']}/ph_{i:016x}.jpg"  # the API's photo key pattern
                    tag = s3.put_object(Bucket=bucket, Key=key, Body=JPEG)["ETag"].strip('"')
                    if i < n:  # uploaded and registered before the result is posted
                        assert photo.handler(s3_put_event(bucket, key, len(JPEG), tag, f"{i:06X}"),
                                             LambdaContext()) == {"photos": ["registered"]}
                plan.append((k, visit["visit_id"], account, key))
            bodies = _result_bodies(rng, plan, n, extra)

            pipe = pipe_specs(template)[0]
            streams, pipe_sqs = streams_client(), boto3.client("sqs")
            pipe_requests: Counter[str] = Counter()
            for piped in (streams, pipe_sqs):
                piped.meta.events.register("before-send.*.*", lambda event_name, **_: pipe_requests.update(
                    [".".join(event_name.split(".")[1:])]))
            pipe_state: dict = {}
            forward_once(streams, pipe_sqs, pipe, pipe_state)  # the setup's records (filtered out)
            pipe_requests.clear()

            _say(f"moto in process: {len(plan)} visits planned, {sum(1 for *_, key in plan if key)} photos")
            # ---- the results (API side), one after another, as the phones post them
            _reset_caches()
            session = aws.botocore_session()  # before any client: clients copy the session's handlers
            in_aws, in_moto, in_jwt = _ThreadClock(), _ThreadClock(), _ThreadClock()
            session.register("before-call.*.*", in_aws.enter)
            session.register("after-call.*.*", in_aws.exit)
            session.register("after-call-error.*.*", in_aws.exit)
            per_result, cpu, cpu_botocore, jwt_cpu, wall = [], [], [], [], []
            outcomes, checks, verification = Counter(), Counter(), Counter()
            moto_by_operation: Counter[str] = Counter()
            with _timed_moto(in_moto, moto_by_operation), _timed_jwt(in_jwt):
                for i in range(n):
                    k, visit_id, _, key = plan[i]
                    body, outcome, check = bodies[i]
                    before = Counter(aws.request_counts)
                    aws0, moto0, jwt0 = in_aws.total, in_moto.total, in_jwt.total
                    started, t0 = time.perf_counter(), time.thread_time()
                    status, answer = _call(api, "post", f"/v1/me/visits/{visit_id}/result", body, token=tokens[k])
                    spent = time.thread_time() - t0
                    wall.append(time.perf_counter() - started)
                    assert status == 201, (status, answer)
                    cpu.append(spent - (in_aws.total - aws0))
                    cpu_botocore.append(spent - (in_moto.total - moto0))
                    jwt_cpu.append(in_jwt.total - jwt0)
                    per_result.append(sum((aws.request_counts - before).values()))
                    outcomes[outcome] += 1
                    checks[check] += 1
                    verification[answer["verification"]["status"]] += 1
            api_requests = dict(aws.request_counts)

            # ---- the notifications: stream -> queue (the pipe), queue -> NotifyFunction in batches of 10
            forwarded = _forward_all(streams, pipe_sqs, pipe, pipe_state)
            queue = template.physical_name("NotificationsQueue")
            esm = boto3.client("sqs")  # the event source mapping's polling: AWS's, not counted
            notify = load_function("notify")
            tenants_repo._tenant_cache.clear()  # NotifyFunction is another container: its own cache
            aws.request_counts.clear()
            notify_aws0, notify_cpu0 = in_aws.total, time.thread_time()
            batches, failures = _drain_notifications(esm, queue, template.base_name("NotificationsQueue"), notify)
            notify_cpu = (time.thread_time() - notify_cpu0) - (in_aws.total - notify_aws0)
            # botocore's "max_attempts" counts retries: total attempts above 1 may deliver an email twice
            send_attempts = aws.send_client("ses").meta.config.retries.get("total_max_attempts")
            notify_requests = dict(aws.request_counts)
            emails = [m for m in get_backend("ses")[template.account_id][template.region].sent_messages
                      if NOTIFY in m.destinations.get("ToAddresses", [])]

            # ---- side figures: an offline phone resending a result; a photo not yet registered
            def requests_of(i: int) -> int:
                k, visit_id, _, _ = plan[i]
                before = Counter(aws.request_counts)
                status, answer = _call(api, "post", f"/v1/me/visits/{visit_id}/result", bodies[i][0], token=tokens[k])
                assert status == 201, answer
                return sum((aws.request_counts - before).values())

            replay = [requests_of(i) for i in range(5)]
            photo_pending = [requests_of(i) for i in range(n + extra // 2, n + extra)]

    api_total, notify_total = sum(api_requests.values()), sum(notify_requests.values())
    photos = sum(1 for _, _, _, key in plan[:n] if key)
    return {
        "aws_requests_per_result": round((api_total + notify_total) / n, 3),
        "aws_requests_per_result_api": round(api_total / n, 3),
        "aws_requests_per_result_notify": round(notify_total / n, 3),
        "aws_requests_per_result_steady": statistics.mode(per_result) + round(notify_total / n),
        "api_requests_per_result_distribution": {str(k): v for k, v in sorted(Counter(per_result).items())},
        "requests_breakdown": {"api": dict(sorted(api_requests.items())), "notify": dict(sorted(notify_requests.items()))},
        "pipe_requests_not_ours": dict(sorted(pipe_requests.items())),
        "pipe_records_forwarded": forwarded,
        "notify_batches": batches,
        "notify_failures": failures,
        "emails_sent": len(emails),
        "ses_send_client_total_max_attempts": send_attempts,
        "results": n,
        "agents": agents_count,
        "photos_per_result": round(photos / n, 3),
        "outcomes": dict(outcomes.most_common()),
        "phone_position": dict(checks.most_common()),
        "verification": dict(verification.most_common()),
        "requests_per_replayed_result": max(replay),
        "api_requests_per_result_photo_not_yet_registered": max(photo_pending),
        "cpu_ms_per_result": round(statistics.median(cpu) * 1000, 2),
        "cpu_ms_mean": round(statistics.fmean(cpu) * 1000, 2),
        "cpu_ms_p90": round(_percentile(cpu, 90) * 1000, 2),
        "cpu_ms_first_result": round(cpu[0] * 1000, 1),
        "cpu_ms_per_result_incl_botocore": round(statistics.median(cpu_botocore) * 1000, 2),
        "cpu_ms_jwt_median": round(statistics.median(jwt_cpu) * 1000, 2),
        "jwt_share_of_cpu": round(statistics.median(jwt_cpu) / statistics.median(cpu), 3),
        "notify_cpu_ms_per_result": round(notify_cpu * 1000 / n, 2),
        "in_process_wall_ms_p50_on_moto": round(statistics.median(wall) * 1000, 1),
        "moto_cpu_ms_per_call_in_process": {op: round(seconds * 1000 / api_requests[op], 1)
                                            for op, seconds in sorted(moto_by_operation.items())
                                            if api_requests.get(op)},
    }


def _result_bodies(rng: random.Random, plan: list[tuple], n: int, extra: int) -> list[tuple]:
    """`_result_body` of every planned visit: each agent's results captured CAPTURE_SPACING apart,
    the last of the first `n` (plus `extra`) spacings before NOW."""
    per_agent = Counter(k for k, *_ in plan[:n])
    seen: Counter[int] = Counter()
    bodies = []
    for i, (k, _visit_id, account, key) in enumerate(plan):
        seen[k] += 1
        captured = NOW - CAPTURE_SPACING * (per_agent[k] + extra - seen[k] + 1)
        bodies.append(_result_body(rng, f"r-{i}", account, captured, key))
    return bodies


def _forward_all(streams: Any, sqs: Any, pipe: Any, pipe_state: dict) -> int:
    """The pipe run until the stream has nothing new: how many records it forwarded."""
    from infra.local.pipes import forward_once

    forwarded = 0
    while sent := forward_once(streams, sqs, pipe, pipe_state):
        forwarded += sent
    return forwarded


def _drain_notifications(esm: Any, queue: str, queue_name: str, notify: Any) -> tuple[int, int]:
    """The queue handed to NotifyFunction in batches of 10, as the event source mapping polls it,
    until empty: `(batches, failed items)`."""
    from tests.helpers import LambdaContext, sqs_event

    batches, failures = 0, 0
    while messages := esm.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        event = sqs_event([json.loads(m["Body"]) for m in messages], queue=queue_name)
        failures += len(notify.handler(event, LambdaContext())["batchItemFailures"])
        batches += 1
        esm.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]}
                                                          for j, m in enumerate(messages)])
    return batches, failures


# ---------------------------------------------------------------- the local stack
class _Http:
    """One keep-alive connection to the local API."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.opened = 0
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None, key: str | None = None,
                token: str | None = None) -> tuple[int, Any]:
        headers = {"content-type": "application/json"} if body is not None else {}
        if key:
            headers["x-api-key"] = key
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.opened += 1
            try:
                self._conn.request(method, path, body=data, headers=headers)
                response = self._conn.getresponse()
                payload = response.read()
                if response.will_close:
                    self.close()
                return response.status, json.loads(payload) if payload else None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # the server closed an idle keep-alive connection: once more, on a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _api_worker_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) of the API function's worker processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(os.readlink(f"/proc/{pid}/cwd")).name != "api":
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextlib.contextmanager
def _moto_transactions():
    """Watches moto's TransactWriteItems in the local stack's moto server (it runs in this process):
    calls, thread CPU time, cancellations, and internal errors (answered 500, retried by botocore).
    The local stack rolls a transaction back item by item (``infra/local/moto_transactions.py``),
    so a result costs the emulator the items it touches, not a copy of every table."""
    from moto.core.exceptions import JsonRESTError, ServiceException
    from moto.dynamodb import models as dynamodb_models

    stats = {"calls": 0, "cpu_s": 0.0, "cancelled": 0, "internal_errors": 0}
    lock = threading.Lock()
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict]) -> None:
        started = time.thread_time()
        try:
            return original(self, transact_items)
        except Exception as exc:
            with lock:
                if type(exc).__name__ == "TransactionCanceledException":
                    stats["cancelled"] += 1
                elif not isinstance(exc, (JsonRESTError, ServiceException)):
                    stats["internal_errors"] += 1
            raise
        finally:
            with lock:
                stats["calls"] += 1
                stats["cpu_s"] += time.thread_time() - started

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield stats
    finally:
        dynamodb_models.DynamoDBBackend.transact_write_items = original


def _emails(stack: Any) -> dict:
    """The tenant's emails in the local stack's moto (this process): sent, and sent twice (one
    subject per visit: each planned visit is to another account)."""
    from moto.backends import get_backend

    sent = list(get_backend("ses")[stack.template.account_id][stack.template.region].sent_messages)
    subjects = Counter(m.subject for m in sent if NOTIFY in (m.destinations or {}).get("ToAddresses", []))
    return {"sent": sum(subjects.values()), "distinct": len(subjects),
            "sent_twice": sorted(subject for subject, count in subjects.items() if count > 1)[:5]}


def _local_stack(results: int = LOAD_RESULTS, concurrency: int = LOAD_CONCURRENCY) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from infra.admin import commands
    from infra.local.demo import _target
    from infra.local.stack import LocalStack

    rng = random.Random(20261124)
    per_worker = math.ceil(results / concurrency)
    t0 = time.perf_counter()
    with _environment(), _moto_transactions() as moto_stats:
        logs = ROOT / ".local" / "bench-logs"
        with LocalStack(ROOT, aws_port=0, api_port=0, log_dir=logs, api_workers=API_WORKERS) as stack:
            _say("local stack up", t0)
            t0 = time.perf_counter()
            target = _target(stack)
            now = datetime.now(timezone.utc)
            tenant = commands.create_tenant(target, TENANT, "Financiera Bench", [NOTIFY], "America/Mexico_City")
            homes = [_moved(CENTER, 2500, k * 2 * math.pi / concurrency) for k in range(concurrency)]
            made = [commands.create_agent(target, TENANT, f"gestor{k}@bench-visitas.mx", PASSWORD, False,
                                          f"{homes[k][0]},{homes[k][1]}", ["CDMX"], 100, f"Gestor {k}")
                    for k in range(concurrency)]
            data, accounts = _portfolio(concurrency * (per_worker + 1 + SOLO_PER_AGENT), now.astimezone(ZONE).date() - timedelta(days=45), seed=8)
            s3 = stack.client("s3")
            s3.put_object(Bucket=stack.bucket, Key=f"portfolios/{TENANT}/cartera.csv", Body=data)
            stack.wait_idle(timeout=300)
            _say(f"tenant, {concurrency} agents and {len(accounts)} accounts", t0)
            t0 = time.perf_counter()
            cognito = stack.client("cognito-idp")
            tokens = [cognito.initiate_auth(ClientId=a["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": a["username"], "PASSWORD": PASSWORD})
                      ["AuthenticationResult"]["IdToken"] for a in made]
            port = int(stack.api_endpoint.rsplit(":", 1)[1])

            def plan_agent(k: int) -> list[dict]:
                connection, items = _Http(port), []
                for account in accounts[k::concurrency]:
                    status, visit = connection.request("POST", "/v1/visits", {"account_id": account["account_id"],
                                                                              "agent_id": made[k]["agent_id"]},
                                                       key=tenant["api_key"])
                    assert status == 201 and visit["status"] == "assigned", visit
                    items.append({"visit_id": visit["visit_id"], "account": account})
                connection.close()
                return items

            with ThreadPoolExecutor(4) as pool:
                planned = list(pool.map(plan_agent, range(concurrency)))
            photos = 0
            workers = []
            for k, items in enumerate(planned):
                bodies = []
                for j, item in enumerate(items):
                    key = None
                    if rng.random() < PHOTO_SHARE:
                        key = f"visits/{TENANT}/{item['visit_id']}/ph_{k:08x}{j:08x}.jpg"  # the API's photo key pattern
                        s3.put_object(Bucket=stack.bucket, Key=key, Body=JPEG)  # PhotoFunction registers it
                        photos += j > SOLO_PER_AGENT
                    captured = now - CAPTURE_SPACING * (len(items) - j + 1)
                    body, _, _ = _result_body(rng, f"load-{k}-{j}", item["account"], captured, key)
                    bodies.append({"path": f"/v1/me/visits/{item['visit_id']}/result", "body": body})
                workers.append({"token": tokens[k], "warmup": bodies[:1], "solo": bodies[1:1 + SOLO_PER_AGENT],
                                "items": bodies[1 + SOLO_PER_AGENT:]})
            measured = sum(len(w["items"]) for w in workers)
            stack.wait_idle(timeout=300)
            _say(f"{sum(len(p) for p in planned)} visits planned, photos registered", t0)
            t0 = time.perf_counter()

            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
                json.dump({"port": port, "workers": workers}, fh)
                plan_path = fh.name
            stack_cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            workers_cpu0 = _api_worker_cpu(stack.worker_pids())
            moto0 = dict(moto_stats)
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            out = subprocess.run([sys.executable, "-m", "bench.visits", "load", plan_path], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=True)
            os.unlink(plan_path)
            load = json.loads(out.stdout.strip().splitlines()[-1])
            moto = {name: moto_stats[name] - moto0[name] for name in moto_stats}
            workers_cpu = _api_worker_cpu(stack.worker_pids()) - workers_cpu0
            _say(f"load: {load['completed']} results, {load['errors']} errors", t0)
            idle_started = time.perf_counter()
            stack.wait_idle(timeout=300)  # the last emails
            drain = time.perf_counter() - idle_started
            stack_cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            emails = _emails(stack)
    stack_cpu = (stack_cpu1.ru_utime - stack_cpu0.ru_utime) + (stack_cpu1.ru_stime - stack_cpu0.ru_stime)
    done, latencies = load["completed"], load["latencies_ms"]
    tenth = max(1, len(latencies) // 10)
    return {
        "results_per_s": round(done / load["wall_s"], 1),
        "p50_ms": round(_percentile(latencies, 50), 1),
        "p99_ms": round(_percentile(latencies, 99), 1),
        "errors": load["errors"],
        "load": {
            "results": measured, "completed": done, "concurrency": concurrency, "api_workers": API_WORKERS,
            "machine_cpus": os.cpu_count(), "warmup_requests": load["warmup"], "wall_s": round(load["wall_s"], 2),
            "mean_ms": round(statistics.fmean(latencies), 1), "max_ms": round(max(latencies), 1),
            "p50_ms_first_10pct": round(statistics.median(latencies[:tenth]), 1),
            "p50_ms_last_10pct": round(statistics.median(latencies[-tenth:]), 1),
            "results_alone": len(load["solo_ms"]), "p50_ms_alone": round(statistics.median(load["solo_ms"]), 1),
            "max_ms_alone": round(max(load["solo_ms"]), 1),
            "connections_opened": load["connections_opened"],
            "error_samples": load["error_samples"], "verification": load["verification"],
            "photos_per_result": round(photos / measured, 3),
            "emails_sent": emails["sent"], "emails_distinct": emails["distinct"],
            "emails_sent_twice": emails["sent_twice"], "email_backlog_drain_s_after_last_result": round(drain, 2),
            "api_worker_cpu_ms_per_result": round(workers_cpu * 1000 / (done + load["warmup"] + len(load["solo_ms"])), 1),
            "stack_process_cpu_ms_per_result": round(stack_cpu * 1000 / max(1, done), 1),
            "moto_transact_write_calls": moto["calls"],
            "moto_transact_write_cpu_ms_mean": round(moto["cpu_s"] * 1000 / max(1, moto["calls"]), 1),
            "moto_transactions_cancelled": moto["cancelled"],
            "moto_internal_errors_retried": moto["internal_errors"],
            "moto_transaction_backup": "items named by the transaction (infra/local/moto_transactions.py)",
        },
    }


def _post_result(connection: _Http, item: dict, token: str) -> tuple[Any, str | None]:
    """One result posted: the answer, and what went wrong (None: it was created)."""
    try:
        status, answer = connection.request("POST", item["path"], item["body"], token=token)
        problem = None if status == 201 else f"{status} {json.dumps(answer)[:200]}"
    except Exception as exc:  # noqa: BLE001 - every failure is an error of the run
        answer, problem = None, f"{type(exc).__name__}: {exc}"
    return answer, problem


def _in_parallel(run: Callable[[int, str], None], count: int, phase: str) -> float:
    """`run(k, phase)` for every k below `count`, each in its own thread: the wall time of them all."""
    threads = [threading.Thread(target=run, args=(k, phase)) for k in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _load(plan_path: str) -> dict:
    """The load script (its own process): warm-up, then every result posted, latencies recorded
    in the order they complete."""
    plan = json.loads(Path(plan_path).read_text())
    workers = plan["workers"]
    connections = [_Http(plan["port"]) for _ in workers]
    latencies: list[float] = []
    solo: list[float] = []
    errors: list[str] = []
    verification: Counter[str] = Counter()
    lock = threading.Lock()

    def post(k: int, item: dict, record: list[float] | None) -> None:
        started = time.perf_counter()
        answer, problem = _post_result(connections[k], item, workers[k]["token"])
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            if problem:
                errors.append(problem)
            elif record is latencies:
                verification[answer["verification"]["status"]] += 1
            if record is not None:
                record.append(elapsed)

    def run(k: int, phase: str) -> None:
        for item in workers[k][phase]:
            post(k, item, {"items": latencies, "solo": solo}.get(phase))

    _in_parallel(run, len(workers), "warmup")
    for k in range(len(workers)):  # one connection at a time
        run(k, "solo")
    warmup_errors = len(errors)
    wall = _in_parallel(run, len(workers), "items")
    return {"completed": len(latencies) - (len(errors) - warmup_errors), "errors": len(errors), "wall_s": wall,
            "latencies_ms": latencies, "solo_ms": solo,
            "warmup": sum(len(w["warmup"]) for w in workers),
            "connections_opened": sum(c.opened for c in connections), "error_samples": errors[:5],
            "verification": dict(verification.most_common())}


def run() -> dict:
    figures = _in_process()
    figures.update(_local_stack())
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        print(json.dumps(_load(sys.argv[2])))
    else:  # python -m bench.visits [moto|stack]: one part, printed
        part = sys.argv[1] if len(sys.argv) > 1 else "all"
        result = {"moto": _in_process, "stack": _local_stack, "all": run}[part]()
        print(json.dumps(result, indent=2))
