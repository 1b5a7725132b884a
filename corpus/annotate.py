"""What the corpus adds to a stored article: its entity tags and its near-duplicate cluster.

One ``Annotator`` serves a crawl (``crawler.corpus``) and ``scrapy dataset build`` alike, so a record
annotated during the crawl and one annotated later from the store get the same tags and join the same
clusters. This module reads no settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from corpus.dataset import record_key_of
from corpus.entities import Entities, EntityTagger
from corpus.neardup import Assignment, Merge, Signature


@dataclass(frozen=True)
class Annotation:
    """Entity tags (``Entities.to_dict()`` form) and the fixed cluster of one article version."""

    entities: dict[str, list[str]]
    cluster: str
    duplicate_of: str | None = None
    merges: tuple[Merge, ...] = field(default_factory=tuple)


def version_key(article_id: str, text_sha256: str) -> str:
    """The near-duplicate index's name for one article version: the article id and its text digest.

    Known before the record is stored (the cluster goes into the record) and rebuilt from a stored record.
    """
    return f"{article_id}-{text_sha256[:16]}"


def record_version_key(record: Mapping[str, Any]) -> str:
    """``version_key`` of a stored record (its record key when it lacks the id or the digest)."""
    if record.get("id") and record.get("text_sha256"):
        return version_key(str(record["id"]), str(record["text_sha256"]))
    return record_key_of(record)


class ClusterIndex(Protocol):
    """What annotating needs of a near-duplicate index: ``corpus.neardup.NearDupIndex``, or the crawl's
    ``crawler.corpus_index.IndexProcess`` serving one from a process of its own."""

    def assign(
        self, key: str, text: str, when: str | None = None, *, signature: Signature | None = None
    ) -> Assignment: ...

    def commit(self) -> None: ...

    def flush(self) -> object: ...

    def close(self) -> None: ...

    def __len__(self) -> int: ...


class Annotator:
    """Tags and clusters records; ``tagger`` None leaves entity tags empty (a topic without entities)."""

    def __init__(self, index: ClusterIndex, tagger: EntityTagger | None = None) -> None:
        self.index = index
        self.tagger = tagger

    def annotate(
        self,
        record: Mapping[str, Any],
        text: str,
        *,
        key: str | None = None,
        signature: Signature | None = None,
    ) -> Annotation:
        """Annotate one record and its text (thread-safe; CPU-bound: call it off the reactor).

        ``key`` names the version in the near-duplicate index (default: ``record_version_key``);
        ``signature``, when the extraction worker computed it, saves computing it here.
        """
        if isinstance(record.get("entities"), Mapping):
            entities = Entities.from_dict(record["entities"])
        elif self.tagger is not None:
            entities = self.tagger.tag(record.get("title") or "", text)
        else:
            entities = Entities()
        when = record.get("published") or record.get("fetched_at") or ""
        assignment = self.index.assign(
            key or record_version_key(record), text, str(when), signature=signature
        )
        return Annotation(
            entities=entities.to_dict(),
            cluster=assignment.cluster,
            duplicate_of=assignment.duplicate_of,
            merges=assignment.merges,
        )
