"""What the extraction workers compute for the corpus, next to the relevance score, off the crawler's process.

``corpus_features(topic_path, title, text)`` returns the entity tags and the near-duplicate signature of
one article as plain JSON-ready values (``{"entities": {...}, "signature": "<base64>", "shingles": n}``);
``crawler.corpus`` then only queries the index. Each worker loads the topic's entity tagger once (on the
``Topic`` the worker scores relevance with, when given). The worker tokenizes an article once
(``relevance.tokenize_parts``): the score, the tags and the shingles all read those tokens.
This module reads no settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corpus.entities import EntityTagger, entities_path
from corpus.minhash import minhash
from corpus.neardup import Signature
from corpus.shingles import shingles
from relevance.topic import Topic, tokenize_parts

_TAGGERS: dict[str, EntityTagger | None] = {}


def _tagger(topic_path: str, topic: Topic | None) -> EntityTagger | None:
    if topic_path not in _TAGGERS:
        path = Path(topic_path)
        _TAGGERS[topic_path] = EntityTagger.load(path, topic) if entities_path(path).exists() else None
    return _TAGGERS[topic_path]


def corpus_features(
    topic_path: str,
    title: str,
    text: str,
    *,
    parts: list[list[str]] | None = None,
    topic: Topic | None = None,
) -> dict[str, Any]:
    """Entity tags and MinHash signature of one article (see the module docstring).

    ``parts``: ``tokenize_parts(title, text)`` when the caller has it (relevance scored from it);
    ``topic``: the topic at ``topic_path``, loaded already.
    """
    tagger = _tagger(topic_path, topic)
    if parts is None:
        parts = tokenize_parts(title, text)
    grams = shingles(text, tokens=[token for words in parts[1:] for token in words])
    sig = Signature(minhash(grams), len(grams))
    return {
        "entities": tagger.tag(title, text, parts=parts).to_dict() if tagger is not None else None,
        "signature": sig.encode(),
        "shingles": sig.size,
    }


def features_signature(features: dict[str, Any]) -> Signature:
    """The signature ``corpus_features`` encoded."""
    return Signature.decode(features["signature"], int(features["shingles"]))
