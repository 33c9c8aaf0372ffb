"""The campaign's hourly tick: EventBridge schedule -> each tenant's night started in its zone.

Only starts nights: each one is cut into parts (one per due-index shard) queued for
NightFunction (functions/night). "Today" comes from the event's ``time`` (in each tenant's time
zone), so any night can be replayed with `python -m infra.local invoke CampaignFunction --event FILE`
(a detail of ``{"replay": true}`` starts a night that already ran again).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.campaign.nights import start_nights
from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings

get_settings()  # fail the cold start on a bad environment


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    replay = isinstance(event.detail, dict) and event.detail.get("replay") is True
    return start_nights(datetime.fromisoformat(event.time.replace("Z", "+00:00")), replay=replay)
