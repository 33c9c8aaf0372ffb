"""Photo: S3 ObjectCreated under visits/ -> the photo is checked (JPEG or PNG, at most 10 MB)
and recorded on its visit, so a result can reference it (SPEC §6); anything else is deleted."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings
from cobranza.visits.tasks import register_photo

get_settings()  # fail the cold start on a bad environment


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    results = [register_photo(unquote_plus(record.s3.get_object.key), record.s3.get_object.size or 0)
               for record in event.records]  # S3 sends keys URL-encoded
    return {"photos": results}
