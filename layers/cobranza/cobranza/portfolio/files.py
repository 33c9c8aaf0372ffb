"""The store of a portfolio's files in S3: the one module that knows their keys and calls S3.

Key layouts (in the bucket the object arrived in; the API and the watchdog use the data bucket):

- ``portfolios/<tenant>/<name>``: a full snapshot uploaded by the lender;
  ``portfolios/<tenant>/delta/<name>``: a delta. The API names its uploads
  ``<upload_id>-<filename>`` there and tags them with the metadata ``upload-id``.
- ``work/<tenant>/<upload>/``: the parallel pipeline's intermediate objects (expired by the
  bucket's lifecycle rule): ``plan.json``; ``runs/r<range>/c<chunk>.jsonl.gz`` (a chunk's
  accepted rows of one account-id range); ``problems/c<chunk>.csv`` (a chunk's problems, in row
  order) and ``problems/r<range>-s<segment>.csv`` (a merge segment's duplicates);
  ``absent/r<range>-s<segment>.jsonl.gz`` (a merge segment's absent accounts). Numbers are
  five digits, zero-padded, so the keys sort in part order.
- ``reports/<tenant>/uploads/<upload>/``: the upload's ``summary.json`` and ``rejects.csv``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from ..core import aws
from .reports import summary_json

#: The object metadata naming the upload the API issued a presigned form for.
UPLOAD_ID_METADATA = "upload-id"
_UPLOAD_ID_HEADER = "x-amz-meta-" + UPLOAD_ID_METADATA
_JSON = "application/json"
_CSV = "text/csv; charset=utf-8"


class NotAPortfolioKey(ValueError):
    pass


@dataclass(frozen=True)
class PortfolioKey:
    tenant_id: str
    mode: str  # snapshot | delta | payments
    name: str


@dataclass(frozen=True)
class IncomingFile:
    """An uploaded portfolio object as read for ingestion."""

    body: Any                    # a botocore StreamingBody (read(n), close()); the caller closes it
    tagged_upload_id: str        # its ``upload-id`` metadata ("" when none)
    size: int                    # ContentLength (0 when unknown)
    last_modified: datetime | None


# ---------------------------------------------------------------- key layouts
def upload_key(tenant_id: str, mode: str, upload_id: str, filename: str) -> str:
    """Where the API has a lender upload a file: a delta goes to the tenant's delta/ folder."""
    folder = f"portfolios/{tenant_id}/" + ("delta/" if mode == "delta" else "")
    return f"{folder}{upload_id}-{filename}"


def upload_mode(key: str) -> str:
    """``delta`` for an object in ``portfolios/<tenant>/delta/``, ``payments`` in
    ``portfolios/<tenant>/payments/`` (SPEC §6b), else ``snapshot``."""
    parts = key.split("/")
    if len(parts) >= 4 and parts[2] in ("delta", "payments"):
        return parts[2]
    return "snapshot"


def parse_portfolio_key(key: str) -> PortfolioKey:
    """``portfolios/<tenant>/<name>`` is a snapshot, ``portfolios/<tenant>/delta/<name>`` a delta."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != "portfolios" or not parts[1] or not parts[-1]:
        raise NotAPortfolioKey(key)
    return PortfolioKey(parts[1], upload_mode(key), parts[-1])


def work_prefix(tenant_id: str, upload_id: str) -> str:
    """Intermediate objects of a split upload (expired by the bucket's lifecycle rule)."""
    return f"work/{tenant_id}/{upload_id}/"


def report_prefix(tenant_id: str, upload_id: str) -> str:
    """Where an upload's summary.json and rejects.csv are written."""
    return f"reports/{tenant_id}/uploads/{upload_id}/"


def _segment(range_index: int, segment: int) -> str:
    return f"r{range_index:05d}-s{segment:05d}"


# ---------------------------------------------------------------- the uploaded file
def presigned_post(bucket: str, key: str, upload_id: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """A presigned POST form (``url`` and ``fields``) for uploading ``key``, tagged with its upload id."""
    post: dict[str, Any] = _s3().generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={_UPLOAD_ID_HEADER: upload_id},
        Conditions=[{_UPLOAD_ID_HEADER: upload_id}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_in,
    )
    return post


def presigned_put(bucket: str, key: str, upload_id: str, expires_in: int) -> tuple[str, dict[str, str]]:
    """A presigned PUT URL for uploading ``key`` and the headers the PUT must send."""
    url: str = _s3().generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "Metadata": {UPLOAD_ID_METADATA: upload_id}},
        ExpiresIn=expires_in,
    )
    return url, {_UPLOAD_ID_HEADER: upload_id}


def fetch_upload(bucket: str, key: str, version_id: str = "") -> IncomingFile | None:
    """The uploaded object (that version when given), or None when it is gone."""
    s3 = _s3()
    try:
        response = s3.get_object(Bucket=bucket, Key=key, **_version(version_id))
    except s3.exceptions.NoSuchKey:
        return None
    return IncomingFile(body=response["Body"],
                        tagged_upload_id=(response.get("Metadata") or {}).get(UPLOAD_ID_METADATA, ""),
                        size=int(response.get("ContentLength") or 0),
                        last_modified=response.get("LastModified"))


def open_upload(bucket: str, key: str, version_id: str = "", byte_range: tuple[int, int] | None = None) -> Any:
    """The body of the uploaded object (that version when given), or of its bytes
    ``[start, end)`` when ``byte_range`` is given; the caller closes it."""
    extra = {"Range": f"bytes={byte_range[0]}-{byte_range[1] - 1}"} if byte_range is not None else {}
    return _s3().get_object(Bucket=bucket, Key=key, **extra, **_version(version_id))["Body"]


def _version(version_id: str) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


# ---------------------------------------------------------------- the pipeline's work files
def put_plan(bucket: str, tenant_id: str, upload_id: str, plan: dict[str, Any]) -> None:
    _s3().put_object(Bucket=bucket, Key=work_prefix(tenant_id, upload_id) + "plan.json",
                     Body=json.dumps(plan).encode(), ContentType=_JSON)


def read_plan(bucket: str, tenant_id: str, upload_id: str) -> dict[str, Any]:
    body = _s3().get_object(Bucket=bucket, Key=work_prefix(tenant_id, upload_id) + "plan.json")["Body"]
    plan: dict[str, Any] = json.loads(body.read())
    return plan


def put_run(bucket: str, tenant_id: str, upload_id: str, range_index: int, chunk: int, data: IO[bytes]) -> None:
    """Chunk ``chunk``'s sorted accepted rows of range ``range_index`` (gzipped JSON lines)."""
    key = f"{work_prefix(tenant_id, upload_id)}runs/r{range_index:05d}/c{chunk:05d}.jsonl.gz"
    _s3().upload_fileobj(data, bucket, key)


def run_keys(bucket: str, tenant_id: str, upload_id: str, range_index: int) -> list[str]:
    """Every chunk's run of range ``range_index``, in chunk order."""
    return _keys(bucket, f"{work_prefix(tenant_id, upload_id)}runs/r{range_index:05d}/")


def put_chunk_problems(bucket: str, tenant_id: str, upload_id: str, chunk: int, data: IO[bytes]) -> None:
    """Chunk ``chunk``'s problems (CSV rows, no header, in row order)."""
    _s3().upload_fileobj(data, bucket, f"{work_prefix(tenant_id, upload_id)}problems/c{chunk:05d}.csv")


def put_segment_problems(bucket: str, tenant_id: str, upload_id: str, range_index: int, segment: int, body: bytes) -> None:
    """A merge segment's problems (duplicates: CSV rows, no header, in row order)."""
    key = f"{work_prefix(tenant_id, upload_id)}problems/{_segment(range_index, segment)}.csv"
    _s3().put_object(Bucket=bucket, Key=key, Body=body)


def problem_keys(bucket: str, tenant_id: str, upload_id: str) -> tuple[list[str], list[str]]:
    """The chunks' problem files (in chunk order) and the merge segments' (in range order)."""
    prefix = f"{work_prefix(tenant_id, upload_id)}problems/"
    keys = _keys(bucket, prefix)
    return ([k for k in keys if k[len(prefix):].startswith("c")],
            [k for k in keys if k[len(prefix):].startswith("r")])


def put_absent(bucket: str, tenant_id: str, upload_id: str, range_index: int, segment: int, data: IO[bytes]) -> None:
    """A merge segment's absent accounts (gzipped JSON lines)."""
    key = f"{work_prefix(tenant_id, upload_id)}absent/{_segment(range_index, segment)}.jsonl.gz"
    _s3().upload_fileobj(data, bucket, key)


def absent_keys(bucket: str, tenant_id: str, upload_id: str, range_index: int) -> list[str]:
    """Every merge segment's absent accounts of range ``range_index``, in segment order."""
    return _keys(bucket, f"{work_prefix(tenant_id, upload_id)}absent/r{range_index:05d}-")


def open_work_file(bucket: str, key: str) -> Any:
    """The body of a work file listed by ``run_keys``, ``problem_keys`` or ``absent_keys``; the caller closes it."""
    return _s3().get_object(Bucket=bucket, Key=key)["Body"]


def _keys(bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(keys)


# ---------------------------------------------------------------- the upload's reports
def put_summary(bucket: str, tenant_id: str, upload_id: str, summary: dict[str, Any]) -> None:
    _s3().put_object(Bucket=bucket, Key=report_prefix(tenant_id, upload_id) + "summary.json",
                     Body=summary_json(summary), ContentType=_JSON)


def put_rejects(bucket: str, tenant_id: str, upload_id: str, rejects: IO[bytes]) -> None:
    _s3().upload_fileobj(rejects, bucket, report_prefix(tenant_id, upload_id) + "rejects.csv", ExtraArgs={"ContentType": _CSV})


def put_rejects_if_missing(bucket: str, tenant_id: str, upload_id: str, body: bytes) -> None:
    """Writes rejects.csv unless the upload already has one."""
    s3, key = _s3(), report_prefix(tenant_id, upload_id) + "rejects.csv"
    if not _exists(s3, bucket, key):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=_CSV)


def rejects_url(bucket: str, tenant_id: str, upload_id: str, expires_in: int) -> str:
    """A presigned GET URL of the upload's rejects.csv."""
    url: str = _s3().generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": report_prefix(tenant_id, upload_id) + "rejects.csv"},
        ExpiresIn=expires_in,
    )
    return url


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError:
        return False


def _s3() -> Any:
    return aws.client("s3")
