"""Visit photos in the data bucket (SPEC §6): ``visits/<tenant_id>/<visit_id>/ph_<hex>.<jpg|png>``.

The agent's app uploads each photo with a presigned POST; PhotoFunction checks each object put
under ``visits/`` (``tasks.register_photo``) and records it on its visit; emails and views link to
a photo through ``GET /v1/photos/{token}``, which redirects to a short-lived presigned GET.
"""
from __future__ import annotations

import secrets
from typing import Any

from ..core import aws
from ..core.settings import get_settings

ROOT = "visits"


def prefix(tenant_id: str, visit_id: str) -> str:
    """The folder of a visit's photos."""
    return f"{ROOT}/{tenant_id}/{visit_id}/"


def new_key(tenant_id: str, visit_id: str, extension: str) -> str:
    """A fresh key for one photo of the visit."""
    return prefix(tenant_id, visit_id) + f"ph_{secrets.token_hex(8)}.{extension}"


def is_of_visit(tenant_id: str, visit_id: str, key: str) -> bool:
    """Whether ``key`` names a photo directly in the visit's folder."""
    folder = prefix(tenant_id, visit_id)
    return key.startswith(folder) and "/" not in key[len(folder):] and ".." not in key


def is_of_tenant(tenant_id: str, key: str) -> bool:
    return key.startswith(f"{ROOT}/{tenant_id}/")


def owner(key: str) -> tuple[str, str] | None:
    """The (tenant_id, visit_id) of a photo key; None for a key not shaped like one."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != ROOT:
        return None
    return parts[1], parts[2]


def extension(key: str) -> str:
    """The key's extension, lower case (the whole key when it has none)."""
    return key.rsplit(".", 1)[-1].lower()


def upload_form(key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """A presigned POST (``url`` and ``fields``) for ``key``: that content type only, 1 to
    ``max_bytes`` bytes (no request is sent: the form is signed here)."""
    post: dict[str, Any] = aws.client("s3").generate_presigned_post(
        Bucket=get_settings().data_bucket, Key=key, Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_in,
    )
    return post


def download_url(key: str, expires_in: int) -> str:
    """A presigned GET of the photo (no request is sent)."""
    url: str = aws.client("s3").generate_presigned_url("get_object", Params={"Bucket": get_settings().data_bucket, "Key": key},
                                                       ExpiresIn=expires_in)
    return url


def keys_of_visit(tenant_id: str, visit_id: str) -> set[str]:
    """The keys stored in the visit's folder (one list request: a visit has a few photos)."""
    listed = aws.client("s3").list_objects_v2(Bucket=get_settings().data_bucket, Prefix=prefix(tenant_id, visit_id),
                                              MaxKeys=1000)
    return {o["Key"] for o in listed.get("Contents", [])}


def head(key: str, size: int) -> bytes | None:
    """The first ``size`` bytes of the object; None when it no longer exists."""
    s3 = aws.client("s3")
    try:
        data: bytes = s3.get_object(Bucket=get_settings().data_bucket, Key=key, Range=f"bytes=0-{size - 1}")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return data


def delete(key: str) -> None:
    aws.client("s3").delete_object(Bucket=get_settings().data_bucket, Key=key)
