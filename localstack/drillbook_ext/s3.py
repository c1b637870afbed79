"""S3: what the Terraform state restore relies on, answered as AWS answers it.

moto keeps S3 versions as AWS does (checked by tests/it/s3.rs through drillbook: versioning
Enabled and Suspended, ListObjectVersions newest first with IsLatest and delete markers,
LastModified to the second, CopyObject with `CopySource` `bucket/key?versionId=...` making a
new current version and keeping the others, GetObjectLockConfiguration's
ObjectLockConfigurationNotFoundError). One answer differs:

- GetBucketVersioning: moto 5.2.5 serializes the answer under `<GetBucketVersioningResponse>`;
  AWS's root element is `<VersioningConfiguration>` (S3 API reference, GetBucketVersioning,
  "Response Syntax"), and the AWS SDK for Rust refuses any other root ("encountered invalid XML
  root"). The root is renamed; the content (Status, MfaDelete) is moto's.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from . import control

_WRONG_ROOT = re.compile(rb"<(/?)GetBucketVersioningResponse\b")


def _is_get_bucket_versioning(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD") != "GET":
        return False
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    # Path-style: /BUCKET or /BUCKET/ (a key would follow the slash).
    path = environ.get("PATH_INFO", "").strip("/")
    return "versioning" in query and "/" not in path


def _versioning_root(inner: Any, environ: dict[str, Any], start_response: Any,
                     region: str | None) -> Any:
    if not _is_get_bucket_versioning(environ):
        return inner(environ, start_response)
    held: dict[str, Any] = {}

    def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        held["status"], held["headers"] = status, headers
        return lambda _chunk: None

    chunks = inner(environ, hold)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    body = _WRONG_ROOT.sub(rb"<\1VersioningConfiguration", body)
    headers = [(k, v) for k, v in held["headers"] if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    start_response(held["status"], headers)
    return [body]


control.around("s3", _versioning_root)
