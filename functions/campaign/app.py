"""Nightly campaign: EventBridge schedule -> per-tenant run over the accounts that are due.

"Today" comes from the event's ``time`` (in each tenant's time zone), so any night can be
replayed with `python -m infra.local invoke CampaignFunction --event FILE`.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.campaign.planner import run_nightly
from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings

get_settings()  # fail the cold start on a bad environment


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    from datetime import datetime

    event_time = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
    return run_nightly(event_time)
