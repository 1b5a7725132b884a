"""Entity tags: the places and actors an article's topic matched, as canonical names, decided per mention.

The topic (``relevance.topic``) finds the terms; an entities file beside it (``<topic>.entities.yaml``,
``relevance/topics/libya.entities.yaml`` for the default topic) says which groups and terms are places or
actors, which terms name one entity (``طرابلس الغرب`` is ``طرابلس``), and, for the topic's ambiguous terms,
which words put a mention elsewhere (Tripoli in Lebanon). Relevance decides per article; here each
mention of an ambiguous term is judged by its own context: it is the Libyan one when unambiguous topic
evidence (``ليبيا``, ``الليبية``, ``حفتر`` ...) stands within ``window`` tokens of it or in its own
paragraph and no "elsewhere" word does. An entity none of whose mentions was resolved that way, and one
at least left open, is tagged *ambiguous*, not Libyan; one whose mentions are all elsewhere is not tagged.

``EntityTagger.load(topic_path)`` reads both files; ``tag(title, text)`` returns ``Entities``.
This module reads no settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relevance.forms import surface_forms
from relevance.normalize import tokenize
from relevance.topic import Term, Topic, TopicError, tokenize_parts

KINDS = ("place", "actor")
DEFAULT_WINDOW = 25


@dataclass(frozen=True)
class Entities:
    """Canonical names in order of first mention; ``ambiguous``: names not resolved as Libyan."""

    places: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-ready form for the stored record."""
        return {"places": list(self.places), "actors": list(self.actors), "ambiguous": list(self.ambiguous)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Entities:
        data = data or {}
        return cls(
            tuple(data.get("places") or ()),
            tuple(data.get("actors") or ()),
            tuple(data.get("ambiguous") or ()),
        )


def entities_path(topic_path: str | Path) -> Path:
    """``dir/name.yaml`` -> ``dir/name.entities.yaml``."""
    path = Path(topic_path)
    return path.with_name(f"{path.stem}.entities{path.suffix or '.yaml'}")


@dataclass(frozen=True)
class _Marker:
    first: frozenset[str]  # surface forms of the first token
    tail: tuple[str, ...]


@dataclass
class EntityTagger:
    """Tags articles with the entities of one topic; see the module docstring."""

    topic: Topic
    kinds: dict[str, str]  # canonical term -> place | actor
    aliases: dict[str, str] = field(default_factory=dict)
    elsewhere: dict[str, list[_Marker]] = field(default_factory=dict)
    window: int = DEFAULT_WINDOW

    @classmethod
    def load(cls, topic_path: str | Path, topic: Topic | None = None) -> EntityTagger:
        """Read the topic and its entities file; raise ``TopicError`` naming the file and entry."""
        topic = topic or Topic.load(topic_path)
        path = entities_path(topic_path)
        source = str(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TopicError(source, "<file>", f"cannot read the entities file of the topic: {exc}") from exc
        except yaml.YAMLError as exc:
            raise TopicError(source, "<document>", f"invalid YAML: {exc}") from exc
        if not isinstance(doc, Mapping):
            raise TopicError(source, "<document>", "expected a mapping")
        unknown = set(doc) - {"window", "kinds", "terms", "aliases", "elsewhere"}
        if unknown:
            raise TopicError(source, sorted(unknown)[0], "unknown key")
        canonical = {t.canonical for t in topic.terms}
        groups = {t.group for t in topic.terms}

        def mapping(name: str) -> Mapping[str, Any]:
            value = doc.get(name) or {}
            if not isinstance(value, Mapping):
                raise TopicError(source, name, "expected a mapping")
            return value

        def kind(value: object, entry: str) -> str:
            if value not in KINDS:
                raise TopicError(source, entry, f"expected one of {list(KINDS)}, got {value!r}")
            return str(value)

        def term(name: object, entry: str) -> str:
            if name not in canonical:
                raise TopicError(source, entry, f"{name!r} is not a canonical term of {topic.source}")
            return str(name)

        group_kinds = {}
        for group, value in mapping("kinds").items():
            if group not in groups:
                raise TopicError(source, f"kinds.{group}", f"no such group in {topic.source}")
            group_kinds[group] = kind(value, f"kinds.{group}")
        kinds = {t.canonical: group_kinds[t.group] for t in topic.terms if t.group in group_kinds}
        for name, value in mapping("terms").items():
            kinds[term(name, f"terms.{name}")] = kind(value, f"terms.{name}")
        aliases = {term(a, f"aliases.{a}"): term(b, f"aliases.{a}") for a, b in mapping("aliases").items()}
        elsewhere: dict[str, list[_Marker]] = {}
        for name, words in mapping("elsewhere").items():
            entry = f"elsewhere.{name}"
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise TopicError(source, entry, "expected a list of words")
            elsewhere[term(name, entry)] = [_marker(w) for w in words if tokenize(w)]
        window = doc.get("window", DEFAULT_WINDOW)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise TopicError(source, "window", f"expected a positive integer, got {window!r}")
        return cls(topic=topic, kinds=kinds, aliases=aliases, elsewhere=elsewhere, window=window)

    def tag(self, title: str, text: str, *, parts: list[list[str]] | None = None) -> Entities:
        """The entities of one article (its title and main text, paragraphs separated by newlines).

        ``parts``: ``tokenize_parts(title, text)`` when the caller has it already.
        """
        tokens: list[str] = []
        units: list[int] = []  # unit (0 title, n paragraph) of each token
        for unit, words in enumerate(parts if parts is not None else tokenize_parts(title, text)):
            tokens += words
            units += [unit] * len(words)
        mentions = self.topic.find(tokens)
        clear = [(start, units[start]) for t, start, _ in mentions if not t.ambiguous]
        order: dict[str, int] = {}
        kind_of: dict[str, str] = {}
        resolved: set[str] = set()
        unresolved: set[str] = set()
        for t, start, width in mentions:
            name = self.aliases.get(t.canonical, t.canonical)
            kind = self.kinds.get(name) or self.kinds.get(t.canonical)
            if kind is None:
                continue
            kind_of.setdefault(name, kind)
            order.setdefault(name, start)
            if not t.ambiguous:
                resolved.add(name)
                continue
            verdict = self._judge(t, tokens, units, start, width, clear)
            if verdict == "libya":
                resolved.add(name)
            elif verdict == "open":
                unresolved.add(name)
        named = sorted(resolved, key=order.__getitem__)
        return Entities(
            places=tuple(n for n in named if kind_of[n] == "place"),
            actors=tuple(n for n in named if kind_of[n] == "actor"),
            ambiguous=tuple(sorted(unresolved - resolved, key=order.__getitem__)),
        )

    def _judge(
        self,
        term: Term,
        tokens: list[str],
        units: list[int],
        start: int,
        width: int,
        clear: list[tuple[int, int]],
    ) -> str:
        low, high = max(0, start - self.window), min(len(tokens), start + width + self.window)
        unit = units[start]
        markers = self.elsewhere.get(term.canonical, ())
        near = set(tokens[low:high]) if markers else set()
        for marker in markers:
            if marker.first.isdisjoint(near):  # its first word is nowhere in the window
                continue
            for i in range(low, high):
                if (
                    tokens[i] in marker.first
                    and tuple(tokens[i + 1 : i + 1 + len(marker.tail)]) == marker.tail
                ):
                    return "elsewhere"
        for position, other_unit in clear:
            if other_unit == unit or low <= position < high:
                return "libya"
        return "open"


def _marker(words: str) -> _Marker:
    tokens = tokenize(words)
    return _Marker(frozenset(surface_forms(tokens[0], nisba=True)), tuple(tokens[1:]))
