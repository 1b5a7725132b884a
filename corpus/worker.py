"""What the extraction workers compute for the corpus, next to the relevance score, off the crawler's process.

``corpus_features(topic_path, title, text)`` returns the entity tags and the near-duplicate signature of
one article as plain JSON-ready values (``{"entities": {...}, "signature": "<base64>", "shingles": n}``);
``crawler.corpus`` then only queries the index. Each worker loads the topic's entity tagger once.
This module reads no settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corpus.entities import EntityTagger, entities_path, tokenize_parts
from corpus.minhash import minhash
from corpus.neardup import Signature
from corpus.shingles import shingles

_TAGGERS: dict[str, EntityTagger | None] = {}


def _tagger(topic_path: str) -> EntityTagger | None:
    if topic_path not in _TAGGERS:
        path = Path(topic_path)
        _TAGGERS[topic_path] = EntityTagger.load(path) if entities_path(path).exists() else None
    return _TAGGERS[topic_path]


def corpus_features(topic_path: str, title: str, text: str) -> dict[str, Any]:
    """Entity tags and MinHash signature of one article (see the module docstring)."""
    tagger = _tagger(topic_path)
    # tokenized once, for the tags and the shingles both
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
