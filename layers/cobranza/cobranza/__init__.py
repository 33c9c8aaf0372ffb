"""cobranza: the shared package of the collections platform, shipped as a Lambda layer.

- ``domain``: pure rules (segmentation, policy, portfolio rows). No AWS, no clock reads.
- ``storage``: PynamoDB models and repositories, the only code that talks to DynamoDB.
- ``files``: streaming readers for portfolio files (CSV, CSV.gz, XLSX).
- ``service``: the use cases the Lambda handlers call (ingest, campaign, dispatch, API).
- ``config``, ``observability``, ``aws``: settings, logging/metrics/tracing, AWS client factory.
"""
