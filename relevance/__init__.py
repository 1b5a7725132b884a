"""Libya relevance of an article's own text: Arabic normalisation and weighted topic scoring. No Scrapy.

    from relevance import Topic, default_topic_path
    topic = Topic.load(default_topic_path())
    verdict = topic.score(title, text)     # Relevance(relevant, score, threshold, matched)

Topics are YAML files (schema in :mod:`relevance.topic`); ``relevance/topics/libya.yaml`` is the default.
"""

from __future__ import annotations

from relevance.normalize import normalize, tokenize
from relevance.topic import Relevance, Topic, TopicError, default_topic_path, tokenize_parts

__all__ = [
    "Relevance",
    "Topic",
    "TopicError",
    "default_topic_path",
    "normalize",
    "tokenize",
    "tokenize_parts",
]
