"""S3 multipart upload with a SHA-256 per part and a conditional completion.

Why not boto3's ``TransferManager`` (``upload_fileobj``): s3transfer 0.19 does not pass ``IfNoneMatch`` to
``CompleteMultipartUpload`` (it is not among its allowed upload arguments), and the no-silent-overwrite rule
(``archive.store.policy``) needs that conditional completion so two writers cannot clobber one key. The
parts are sent one after the other from the uploader thread; the spool, not this module, provides the
parallelism with the crawl.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from archive.store.errors import StoreSourceError
from archive.store.policy import Source

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000
#: The object metadata key that holds the hex SHA-256 of the whole object.
SHA256_META = "sha256"

ProgressCallback = Callable[[str, int, int], None]


def upload_multipart(
    client: S3Client,
    bucket: str,
    full_key: str,
    source: Source,
    content_type: str,
    *,
    conditional: bool,
    chunksize: int,
    progress: Callable[[int, int], None] | None = None,
    abort_errors: tuple[type[Exception], ...] = (),
) -> str:
    """Upload ``source`` in parts, each carrying its own SHA-256; return the composite checksum expected.

    An upload that fails is aborted (best effort: an unfinished upload is invisible, a lifecycle rule can
    reap it) and the error re-raised.
    """
    part_size = max(chunksize, -(-source.size // MAX_PARTS))
    upload = client.create_multipart_upload(
        Bucket=bucket,
        Key=full_key,
        ContentType=content_type,
        ChecksumAlgorithm="SHA256",
        Metadata={SHA256_META: source.sha256},
    )
    upload_id = upload["UploadId"]
    parts: list[dict[str, Any]] = []
    digests: list[bytes] = []
    whole = hashlib.sha256()  # checked against the digest the source came with, before completing
    done = 0
    try:
        with source.open() as fh:
            number = 1
            while chunk := fh.read(part_size):
                digest = hashlib.sha256(chunk).digest()
                whole.update(chunk)
                b64 = base64.b64encode(digest).decode("ascii")
                answer = client.upload_part(
                    Bucket=bucket,
                    Key=full_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumSHA256=b64,
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": b64})
                digests.append(digest)
                done += len(chunk)
                number += 1
                if progress is not None:
                    progress(done, source.size)
        if done != source.size or whole.hexdigest() != source.sha256:
            raise StoreSourceError(
                f"{full_key}: the source does not match its SHA-256 (changed or corrupted)"
            )
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
        client.complete_multipart_upload(
            Bucket=bucket, Key=full_key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **extra
        )
    except BaseException:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=full_key, UploadId=upload_id)
        except abort_errors as exc:
            logger.debug("could not abort multipart upload of %s: %s", full_key, type(exc).__name__)
        raise
    composite = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode("ascii")
    return f"{composite}-{len(digests)}"
