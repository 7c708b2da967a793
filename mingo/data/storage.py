"""Where data files live: a local path or an `s3://bucket/key` object.

Both are handed to the format code as local files (S3 objects go through a temporary
file), so reading and writing stay streaming and memory stays bounded for large files.
Every failure names the URI and the cause: a `DataUnavailableError` when the S3 endpoint
cannot be reached or answers with a server error (retryable), a `DataError` otherwise (no
such object or bucket, wrong credentials, a bad URI: retrying changes nothing).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from mingo.config import S3Settings
from mingo.data.errors import DataError, DataUnavailableError

if TYPE_CHECKING:
    from minio import Minio

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str


def parse_s3_uri(uri: str) -> S3Location | None:
    """The bucket and key of an `s3://` URI, None for a local path."""
    if not uri.startswith(S3_SCHEME):
        return None
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    if not bucket or not key:
        raise DataError(uri, "an S3 URI needs a bucket and a key: s3://BUCKET/KEY")
    return S3Location(bucket=bucket, key=key)


def uri_suffix(uri: str) -> str:
    """The lower-case file extension of a local path or S3 key ('.csv', '.parquet')."""
    location = parse_s3_uri(uri)
    name = location.key if location else uri
    return Path(name).suffix.lower()


def _s3_client(uri: str, s3: S3Settings | None) -> Minio:
    from minio import Minio
    from urllib3 import PoolManager, Retry, Timeout

    endpoint = s3.endpoint_url if s3 is not None else None
    if s3 is None or not endpoint:
        raise DataError(
            uri, "no S3 endpoint configured: set MINGO_S3_ENDPOINT_URL or MLFLOW_S3_ENDPOINT_URL"
        )
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise DataError(uri, f"S3 endpoint {endpoint!r} is not an http(s)://HOST[:PORT] URL")
    if not s3.access_key_id or not s3.secret_access_key:
        raise DataError(uri, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    # Few, quick retries: an unreachable endpoint should fail in seconds, not minutes.
    http_client = PoolManager(
        timeout=Timeout(connect=5.0, read=120.0),
        retries=Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return Minio(
        parsed.netloc,
        access_key=s3.access_key_id,
        secret_key=s3.secret_access_key,
        secure=parsed.scheme == "https",
        http_client=http_client,
    )


# S3 error codes that say the server is busy or broken, not that the request is wrong.
RETRYABLE_S3_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed"}
)


def _s3_failure(
    uri: str, location: S3Location, error: Exception, endpoint: str | None
) -> DataError | DataUnavailableError:
    from minio.error import S3Error, ServerError
    from urllib3.exceptions import HTTPError

    if isinstance(error, ServerError):
        return DataUnavailableError(
            uri, f"S3 endpoint {endpoint} answered HTTP {error.status_code}"
        )
    if isinstance(error, S3Error) and error.code in RETRYABLE_S3_CODES:
        return DataUnavailableError(uri, f"S3 endpoint {endpoint} answered {error.code}")
    if isinstance(error, S3Error):
        causes = {
            "NoSuchBucket": f"bucket '{location.bucket}' does not exist at {endpoint}",
            "NoSuchKey": f"no object '{location.key}' in bucket '{location.bucket}'",
            "AccessDenied": "access denied for the configured AWS_ACCESS_KEY_ID",
            "InvalidAccessKeyId": "the configured AWS_ACCESS_KEY_ID is unknown to the server",
            "SignatureDoesNotMatch": "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID",
        }
        return DataError(uri, causes.get(error.code or "", f"S3 error {error.code}: {error}"))
    if isinstance(error, HTTPError | OSError):
        return DataUnavailableError(
            uri, f"S3 endpoint {endpoint} unreachable ({type(error).__name__})"
        )
    return DataError(uri, f"S3 request failed: {error}")


@contextmanager
def readable_local_file(uri: str, s3: S3Settings | None = None) -> Iterator[Path]:
    """A local file holding the data of `uri` for the duration of the block."""
    location = parse_s3_uri(uri)
    if location is None:
        path = Path(uri).expanduser()
        if not path.exists():
            raise DataError(uri, "no such file")
        if not path.is_file():
            raise DataError(uri, "not a file")
        yield path
        return
    from minio.error import MinioException
    from urllib3.exceptions import HTTPError

    client = _s3_client(uri, s3)
    with tempfile.TemporaryDirectory(prefix="mingo-s3-") as directory:
        local = Path(directory) / Path(location.key).name
        try:
            client.fget_object(location.bucket, location.key, str(local))
        except (MinioException, HTTPError, OSError) as error:
            raise _s3_failure(uri, location, error, s3.endpoint_url if s3 else None) from error
        yield local


@contextmanager
def writable_local_file(uri: str, s3: S3Settings | None = None) -> Iterator[Path]:
    """A local file to write; on success it becomes `uri` (renamed, or uploaded to S3).

    The target never holds a half-written file: a failure inside the block leaves it as
    it was.
    """
    location = parse_s3_uri(uri)
    if location is None:
        target = Path(uri).expanduser()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataError(uri, f"cannot create directory {target.parent}: {error}") from error
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(handle)
        try:
            yield Path(temporary)
            os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)
        return
    from minio.error import MinioException
    from urllib3.exceptions import HTTPError

    client = _s3_client(uri, s3)
    with tempfile.TemporaryDirectory(prefix="mingo-s3-") as directory:
        local = Path(directory) / Path(location.key).name
        yield local
        try:
            client.fput_object(location.bucket, location.key, str(local))
        except (MinioException, HTTPError, OSError) as error:
            raise _s3_failure(uri, location, error, s3.endpoint_url if s3 else None) from error
