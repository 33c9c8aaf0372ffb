"""One place for logs, metrics and traces.

Logs are JSON (Powertools Logger) with the Lambda request id as correlation id; they never carry
personal data: log account ids, counts and codes, never names, phones, emails or addresses.
The Tracer is created on first use, so importing this module stays cheap and never touches X-Ray.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:  # pragma: no cover
    from aws_lambda_powertools import Tracer

logger = Logger(utc=True)
#: The template sets POWERTOOLS_METRICS_NAMESPACE; the same default where it is not set (a test, a
#: script), so metrics that pile up to Powertools' 100-value flush never fail for want of one.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Cobranza")

_tracer: "Tracer | None" = None


def get_tracer() -> "Tracer":
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer()
    return _tracer
