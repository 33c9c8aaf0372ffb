"""Where the admin command acts: the running local stack, or a deployed CloudFormation stack.

Both give the same thing, a map of template logical ids to physical ids, from which the
platform's Settings are built, so the admin code is identical for both targets.
"""
from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cobranza.core.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Target:
    kind: str  # local | aws
    resources: dict[str, str]
    endpoint_url: str | None
    region: str
    sender_email: str

    def settings(self) -> Settings:
        r = self.resources
        return Settings(
            data_bucket=r.get("DataBucket", ""),
            accounts_table=r["AccountsTable"],
            tenants_table=r["TenantsTable"],
            api_keys_table=r["ApiKeysTable"],
            uploads_table=r["UploadsTable"],
            alarms_table=r.get("AlarmsTable", ""),
            timeline_table=r.get("TimelineTable", ""),
            visits_table=r.get("VisitsTable", ""),
            agents_table=r.get("AgentsTable", ""),
            kpis_table=r.get("KpisTable", ""),
            tracks_table=r.get("TracksTable", ""),
            agent_pool_id=r.get("AgentPool"),
            agent_pool_client_id=r.get("AgentPoolClient"),
            email_queue_url=r.get("EmailQueue", ""),
            sms_queue_url=r.get("SmsQueue", ""),
            whatsapp_queue_url=r.get("WhatsAppQueue", ""),
            sender_email=self.sender_email,
            region=self.region,
            endpoint_url=self.endpoint_url,
        )


def _reachable(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/moto-api/", timeout=timeout):  # nosec B310  # the local stack's http endpoint
            return True
    except Exception:  # noqa: BLE001 - any failure means "not running"
        return False


def resolve(stack_name: str | None, endpoint_url: str | None) -> Target:
    """The local stack at ``endpoint_url``, or the running one (make serve: its state file names
    a live process), else the deployed stack named ``stack_name`` (default $COBRANZA_STACK or
    "cobranza"). A running local stack is never mistaken for none because it answers slowly."""
    from infra.local.state import NoRunningStack, read_state

    if endpoint_url:
        return _local(endpoint_url)
    if stack_name is None:
        try:
            state = read_state(REPO_ROOT)
        except NoRunningStack:
            pass
        else:
            return _local(state["aws_endpoint"])
    return _deployed(stack_name or os.environ.get("COBRANZA_STACK", "cobranza"))


def _local(endpoint: str) -> Target:
    """Local physical names are a function of the template (infra.local.template), except the ids
    moto assigns at creation (Cognito): those come from the running stack's state file, or are
    looked up by name when the stack at `endpoint` did not write one (tests)."""
    from infra.local.resources import bind_existing_ids
    from infra.local.state import NoRunningStack, read_state
    from infra.local.template import LocalTemplate

    if not _reachable(endpoint, timeout=30):
        raise SystemExit(f"no local stack answers at {endpoint}: start it with `make serve`")
    _use_local_credentials(endpoint)
    template = LocalTemplate(REPO_ROOT / "template.yaml", aws_endpoint=endpoint)
    try:
        state = read_state(REPO_ROOT)
    except NoRunningStack:
        state = {}
    if state.get("aws_endpoint", "").rstrip("/") == endpoint.rstrip("/"):
        resources = {**template.names(), **(state.get("resources") or {})}
    else:
        bind_existing_ids(template, endpoint_url=endpoint)
        resources = template.names()
    sender = str(template.parameters.get("SenderEmail", "no-reply@example.com"))
    return Target("local", resources, endpoint, template.region, sender)


def _use_local_credentials(endpoint: str) -> None:
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def _deployed(stack_name: str) -> Target:
    import boto3

    cfn = boto3.client("cloudformation")
    resources: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return Target("aws", resources, None, cfn.meta.region_name, params.get("SenderEmail", "no-reply@example.com"))
