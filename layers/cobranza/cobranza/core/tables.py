"""PynamoDB models; table names and region are bound from the settings on first use.

PynamoDB reads ``Meta.table_name``/``Meta.region`` when it builds a model's connection, so the
models are declared without them and ``bind_models()`` fills them in from ``Settings`` before
any request (and again after tests change the settings). PynamoDB is handed the platform's
botocore session, so its requests are counted like every other AWS call.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pynamodb.connection.base as _pynamo_base
from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import NUMBER
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from . import aws
from .settings import Settings, get_settings


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB number read back as an exact Decimal (PynamoDB's NumberAttribute is float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class DueIndex(GlobalSecondaryIndex["AccountModel"]):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta:
        index_name = "due-index"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    next_action_on = UnicodeAttribute(range_key=True)


# The accounts list's filter indexes (accounts.store.LIST_INDEXES): keys only.
class StatusIndex(GlobalSecondaryIndex["AccountModel"]):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta:
        index_name = "status-index"
        projection = KeysOnlyProjection()

    by_status = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute(range_key=True)


class StageIndex(GlobalSecondaryIndex["AccountModel"]):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta:
        index_name = "stage-index"
        projection = KeysOnlyProjection()

    by_stage = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute(range_key=True)


class SegmentIndex(GlobalSecondaryIndex["AccountModel"]):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta:
        index_name = "segment-index"
        projection = KeysOnlyProjection()

    by_segment = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute(range_key=True)


class BucketIndex(GlobalSecondaryIndex["AccountModel"]):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta:
        index_name = "bucket-index"
        projection = KeysOnlyProjection()

    by_bucket = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute(range_key=True)


class AccountModel(Model):
    class Meta:
        table_name: str | None = None
        settings_field = "accounts_table"

    tenant_shard = UnicodeAttribute(hash_key=True)  # "<tenant_id>#<shard>": accounts.store.wire_key
    account_id = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    # facts from the lender's file
    debtor_name = UnicodeAttribute()
    balance = DecimalAttribute()
    currency = UnicodeAttribute()
    due_date = UnicodeAttribute()
    timezone = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    address = UnicodeAttribute(null=True)
    city = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)
    postal_code = UnicodeAttribute(null=True)
    lat = DecimalAttribute(null=True)
    lon = DecimalAttribute(null=True)
    geo_source = UnicodeAttribute(null=True)
    product = UnicodeAttribute(null=True)
    original_amount = DecimalAttribute(null=True)
    given_risk_score = NumberAttribute(null=True)
    whatsapp_opt_in = BooleanAttribute(null=True)
    payment_reference = UnicodeAttribute(null=True)
    attributes: MapAttribute[str, Any] = MapAttribute(null=True)  # type: ignore[no-untyped-call]  # pynamodb's MapAttribute.__init__ is unannotated
    # derived (SPEC §4), as of derived_on
    days_past_due = NumberAttribute()
    aging_bucket = UnicodeAttribute()
    stage = UnicodeAttribute()
    amount_tier = UnicodeAttribute()
    risk_score = NumberAttribute()
    segment = UnicodeAttribute()
    derived_on = UnicodeAttribute()
    # lifecycle
    status = UnicodeAttribute(default="active")
    opted_out_channels = UnicodeSetAttribute(null=True)
    unusable_channels = UnicodeSetAttribute(null=True)  # a provider refused the address for good
    paid_total = DecimalAttribute(null=True)  # payments (payments.rules.money_of)
    paid_seen = DecimalAttribute(null=True)  # the paid_total the file's balance takes in
    credit = DecimalAttribute(null=True)
    promise_date = UnicodeAttribute(null=True)
    promise_amount = DecimalAttribute(null=True)
    contact_log = ListAttribute(of=UnicodeAttribute, null=True)  # "<utc>|<channel>|<attempt id>", last 8 days
    contact_version = NumberAttribute(null=True)
    legal_handoff_on = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    next_action_on = UnicodeAttribute(null=True)
    row_hash = UnicodeAttribute()
    source_upload_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    # one more on every write, whoever the writer (accounts.store: writers never overwrite each other)
    rev = NumberAttribute(null=True)
    # the accounts list's sharded index keys (accounts.store.LIST_INDEXES)
    by_status = UnicodeAttribute(null=True)
    by_stage = UnicodeAttribute(null=True)
    by_segment = UnicodeAttribute(null=True)
    by_bucket = UnicodeAttribute(null=True)

    due_index = DueIndex()
    status_index = StatusIndex()
    stage_index = StageIndex()
    segment_index = SegmentIndex()
    bucket_index = BucketIndex()


class TenantModel(Model):
    class Meta:
        table_name: str | None = None
        settings_field = "tenants_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    timezone = UnicodeAttribute(default="America/Mexico_City")
    notify_emails = UnicodeSetAttribute(null=True)
    policy = JSONAttribute(null=True)
    policy_version = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    #: The as-of date (ISO) of the newest full snapshot applied (portfolio.snapshots).
    snapshot_as_of = UnicodeAttribute(null=True)
    no_accounts_yet = BooleanAttribute(null=True)  # set at creation; its first upload removes it


class ApiKeyModel(Model):
    class Meta:
        table_name: str | None = None
        settings_field = "api_keys_table"

    key_hash = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    key_prefix = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked = BooleanAttribute(default=False)


class UploadStaleIndex(GlobalSecondaryIndex["UploadModel"]):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    """Sparse: the uploads being processed, by when their lease runs out (the watchdog's query)."""

    class Meta:
        index_name = "stale-index"
        projection = IncludeProjection(["key", "created_at"])

    watch = UnicodeAttribute(hash_key=True)
    lease_until = UnicodeAttribute(range_key=True)


class UploadModel(Model):
    class Meta:
        table_name: str | None = None
        settings_field = "uploads_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    upload_id = UnicodeAttribute(range_key=True)
    key = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | processing | succeeded | failed
    summary = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    #: While processing: until when the invocation (or the pipeline's current part) that holds
    #: the upload may still be working on it; ``watch`` puts it in the sparse stale-index.
    lease_until = UnicodeAttribute(null=True)
    watch = UnicodeAttribute(null=True)
    stale_index = UploadStaleIndex()


class _AlarmIndex(GlobalSecondaryIndex["AlarmModel"]):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta:
        projection = AllProjection()


class AlarmRaisedIndex(_AlarmIndex):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta(_AlarmIndex.Meta):
        index_name = "raised-index"

    tenant_id = UnicodeAttribute(hash_key=True)
    raised_at = UnicodeAttribute(range_key=True)


class AlarmStatusIndex(_AlarmIndex):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta(_AlarmIndex.Meta):
        index_name = "status-index"

    status_key = UnicodeAttribute(hash_key=True)
    raised_at = UnicodeAttribute(range_key=True)


class AlarmCodeIndex(_AlarmIndex):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta(_AlarmIndex.Meta):
        index_name = "code-index"

    code_key = UnicodeAttribute(hash_key=True)
    raised_at = UnicodeAttribute(range_key=True)


class AlarmStatusCodeIndex(_AlarmIndex):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta(_AlarmIndex.Meta):
        index_name = "status-code-index"

    status_code_key = UnicodeAttribute(hash_key=True)
    raised_at = UnicodeAttribute(range_key=True)


class AlarmModel(Model):
    """A business alarm of a tenant (SPEC §8); one per code and subject, raised once."""

    class Meta:
        table_name: str | None = None
        settings_field = "alarms_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    alarm_id = UnicodeAttribute(range_key=True)  # <day>.<code>.<digest> (accounts/alarms.py)
    code = UnicodeAttribute()
    subject = UnicodeAttribute()  # what it is about: upload#<id>, account#<id>, agent#<id>
    message = UnicodeAttribute()
    status = UnicodeAttribute(default="open")
    raised_at = UnicodeAttribute()
    status_key = UnicodeAttribute(null=True)
    code_key = UnicodeAttribute(null=True)
    status_code_key = UnicodeAttribute(null=True)
    raised_index = AlarmRaisedIndex()
    status_index = AlarmStatusIndex()
    code_index = AlarmCodeIndex()
    status_code_index = AlarmStatusCodeIndex()


class TimelineEntryModel(Model):
    """One entry of an account's timeline (accounts/timeline.py writes them as plain items)."""

    class Meta:
        table_name: str | None = None
        settings_field = "timeline_table"

    account_key = UnicodeAttribute(hash_key=True)  # <tenant_id>#<account_id>
    entry_id = UnicodeAttribute(range_key=True)  # <date>#<kind>#<id>
    kind = UnicodeAttribute()
    status = UnicodeAttribute(null=True)


class _VisitIndex(GlobalSecondaryIndex["VisitModel"]):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta:
        projection = AllProjection()


class VisitAgentIndex(_VisitIndex):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta(_VisitIndex.Meta):
        index_name = "agent-index"

    agent_key = UnicodeAttribute(hash_key=True)  # <tenant_id>#<agent_id>
    scheduled_on = UnicodeAttribute(range_key=True)


class VisitStatusIndex(_VisitIndex):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta(_VisitIndex.Meta):
        index_name = "status-index"

    status_key = UnicodeAttribute(hash_key=True)  # <tenant_id>#<status>
    scheduled_on = UnicodeAttribute(range_key=True)


class VisitDateIndex(_VisitIndex):  # type: ignore[no-untyped-call]  # pynamodb's Index.__init_subclass__ is unannotated
    class Meta(_VisitIndex.Meta):
        index_name = "date-index"

    tenant_id = UnicodeAttribute(hash_key=True)
    scheduled_on = UnicodeAttribute(range_key=True)


class VisitModel(Model):
    """A field-visit task (visits/store.py writes and reads them as plain items)."""

    class Meta:
        table_name: str | None = None
        settings_field = "visits_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True)
    account_id = UnicodeAttribute()
    status = UnicodeAttribute()
    agent_key = UnicodeAttribute(null=True)
    status_key = UnicodeAttribute(null=True)
    scheduled_on = UnicodeAttribute(null=True)

    agent_index = VisitAgentIndex()
    status_index = VisitStatusIndex()
    date_index = VisitDateIndex()


class AgentModel(Model):
    """A field agent of a tenant (visits/agents.py); agent_id is the Cognito sub."""

    class Meta:
        table_name: str | None = None
        settings_field = "agents_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute(range_key=True)


ALL_MODELS: tuple[type[Model], ...] = (AccountModel, TenantModel, ApiKeyModel, UploadModel, AlarmModel,
                                       TimelineEntryModel, VisitModel, AgentModel)

_bound: Settings | None = None


def bind_models(settings: Settings | None = None) -> None:
    """Points every model at the settings' tables (idempotent; cheap after the first call).

    Without arguments it keeps the current binding, so a caller that bound explicitly (the admin
    command, from a stack's resources) is not overridden by the environment.
    """
    global _bound
    if settings is None:
        if _bound is not None:
            return
        settings = get_settings()
    if _bound is settings:
        return
    # One session: requests are counted. The module imports get_session from botocore without
    # re-exporting it, so its namespace is written directly.
    vars(_pynamo_base)["get_session"] = aws.botocore_session
    for model in ALL_MODELS:
        model.Meta.table_name = getattr(settings, model.Meta.settings_field)  # type: ignore[attr-defined]  # pynamodb types Meta as its MetaProtocol, without our settings_field
        model.Meta.region = settings.region
        # as many pooled connections as the factory's clients: the planner writes from 16 threads
        model.Meta.max_pool_connections = 32
        model._connection = None
    _bound = settings


def unbind_models() -> None:
    global _bound
    _bound = None


def model_key_schema(model: type[Model]) -> dict[str, Any]:
    """Key schema and indexes as CloudFormation declares them (for the agreement test)."""
    keys: list[dict[str, str]] = []
    for attr in model.get_attributes().values():
        if attr.is_hash_key:
            keys.insert(0, {"AttributeName": attr.attr_name, "KeyType": "HASH"})
        elif attr.is_range_key:
            keys.append({"AttributeName": attr.attr_name, "KeyType": "RANGE"})
    indexes: list[dict[str, Any]] = []
    for index in model._indexes.values():
        index_keys: list[dict[str, str]] = []
        for attr in index.Meta.attributes.values():
            if attr.is_hash_key:
                index_keys.insert(0, {"AttributeName": attr.attr_name, "KeyType": "HASH"})
            elif attr.is_range_key:
                index_keys.append({"AttributeName": attr.attr_name, "KeyType": "RANGE"})
        indexes.append({"IndexName": index.Meta.index_name, "KeySchema": index_keys})
    return {"KeySchema": keys, "GlobalSecondaryIndexes": indexes}
