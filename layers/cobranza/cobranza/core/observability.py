"""One place for logs and metrics.

Logs are JSON (Powertools Logger) with the Lambda request id as correlation id; they never carry
personal data: log account ids, counts and codes, never names, phones, emails or addresses.
Traces are Lambda's own (``Tracing: Active`` in the template: one segment per invocation).
"""
from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

logger = Logger(utc=True)
#: The template sets POWERTOOLS_METRICS_NAMESPACE; the same default where it is not set (a test, a
#: script), so metrics that pile up to Powertools' 100-value flush never fail for want of one.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Cobranza")
