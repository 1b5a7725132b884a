"""A revisit digest index shared by every worker of a distributed crawl, in one Redis hash.

Implements ``archive.digests.DigestIndex``. ``HSETNX`` keeps the first capture of a payload, whichever
worker wrote it; the hash outlives crawls, so later crawls write revisits for payloads archived earlier.
"""

from __future__ import annotations

import json
from typing import Any


class RedisDigestIndex:
    def __init__(self, url_or_client: str | Any, key: str = "libya:digests") -> None:
        if isinstance(url_or_client, str):
            import redis

            self.server: Any = redis.Redis.from_url(url_or_client)
        else:
            self.server = url_or_client
        self.key = key

    def get(self, digest: str) -> tuple[str, str] | None:
        raw = self.server.hget(self.key, digest)
        if raw is None:
            return None
        entry = json.loads(raw)
        return entry["uri"], entry["date"]

    def add(self, digest: str, uri: str, warc_date: str) -> None:
        self.server.hsetnx(self.key, digest, json.dumps({"uri": uri, "date": warc_date}))

    def __len__(self) -> int:
        return int(self.server.hlen(self.key))
