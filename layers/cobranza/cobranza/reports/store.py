"""The daily reports' I/O (SPEC §9): ``reports/<tenant_id>/daily/<date>.html`` and ``.pdf`` in
the data bucket, and presigned GET URLs of them for the console.

A report is rewritten whole (same keys, same day: harmless); the PDF is put before the HTML, so
a report whose HTML exists has its PDF too unless the PDF could not be rendered. A rewrite without
a PDF deletes the day's older one first: a PDF is never served next to an HTML it is not a copy of.
"""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..core import aws
from ..core.settings import get_settings

HTML_TYPE = "text/html; charset=utf-8"
PDF_TYPE = "application/pdf"


def report_key(tenant_id: str, day: str, kind: str = "html") -> str:
    """Where the tenant's daily report of ``day`` is (``kind``: html or pdf)."""
    return f"reports/{tenant_id}/daily/{day}.{kind}"


def _s3() -> Any:
    return aws.client("s3")


def put_report(tenant_id: str, day: str, page: bytes, document: bytes | None) -> list[str]:
    """Writes the day's PDF (when rendered; otherwise deletes an older one), then its HTML; the keys written."""
    bucket, written = get_settings().data_bucket, []
    key = report_key(tenant_id, day, "pdf")
    if document is not None:
        _s3().put_object(Bucket=bucket, Key=key, Body=document, ContentType=PDF_TYPE,
                         ContentDisposition=f'inline; filename="report-{day}.pdf"')
        written.append(key)
    else:  # a stale PDF of an earlier writing of the day (deleting none is no error)
        _s3().delete_object(Bucket=bucket, Key=key)
    key = report_key(tenant_id, day, "html")
    _s3().put_object(Bucket=bucket, Key=key, Body=page, ContentType=HTML_TYPE)
    return [*written, key]


def _exists(key: str) -> bool:
    try:
        _s3().head_object(Bucket=get_settings().data_bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def report_urls(tenant_id: str, day: str, expires_in: int) -> tuple[str, str | None] | None:
    """Presigned GET URLs of the day's HTML and PDF (None: no PDF); None when there is no report."""
    html_key, pdf_key = report_key(tenant_id, day, "html"), report_key(tenant_id, day, "pdf")
    if not _exists(html_key):
        return None
    bucket = get_settings().data_bucket

    def url(key: str) -> str:
        signed: str = _s3().generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in)
        return signed

    return url(html_key), (url(pdf_key) if _exists(pdf_key) else None)
