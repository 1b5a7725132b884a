"""Topic files and relevance scoring of an article's own text (title + extracted main text).

A topic is a YAML file (``relevance/topics/libya.yaml`` is the default), read and checked by
``relevance.topic_file`` (its schema is there). Terms and variants may be several words ("مجلس النواب");
they match as token sequences, the first word taking proclitics, the longest match winning (so "حكومة الوفاق" is one match, not also "الوفاق").

An *ambiguous* term (``طرابلس`` is also a Lebanese city, ``الوفاق`` means "agreement", ``مجلس النواب`` is
in many countries) only counts when the article also has unambiguous evidence, and then at most
``ambiguous_cap`` times that evidence. It is still reported in ``matched``.

Each mention is worth weight × zone × repeat_decay**k, k counting earlier (stronger) mentions of the same
term. Mentions add up per unit (the title, each paragraph); a body paragraph adds at most ``paragraph_cap``.
Score = evidence + spread_bonus × (units with evidence − 1) + distinct_bonus × (distinct terms − 1)
+ density_weight × min(mentions per 100 tokens, cap), a text shorter than 100 tokens counting as 100.
So a passing mention deep in an article about something else — even a background sentence dense with names — stays below threshold, while a headline or
lead mention is multiplied and real coverage spreads over many paragraphs with several distinct terms.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relevance.forms import surface_forms
from relevance.normalize import tokenize

__all__ = ["Relevance", "Topic", "TopicError", "default_topic_path", "tokenize_parts"]

_PARAGRAPH_SPLIT = re.compile(r"\n+")
DENSITY_MIN_TOKENS = 100


def tokenize_parts(title: str, text: str) -> list[list[str]]:
    """The tokens of the title, then of each paragraph (empty ones included), as :meth:`Topic.score` reads
    an article: tokenized once, they serve the score and the corpus's entity tags and shingles (joined,
    the paragraphs' tokens are ``tokenize(text)``: the normaliser never joins words across a line break).
    """
    return [tokenize(part) for part in [title or "", *_PARAGRAPH_SPLIT.split(text or "")]]


def default_topic_path() -> Path:
    """Path of the packaged Libya topic file (a real file even when the package runs from a zipped egg)."""
    return packaged_file("relevance.topics", "libya.yaml")


def packaged_file(package: str, name: str) -> Path:
    """A package data file as a file system path.

    Inside a zipped egg (scrapyd runs projects that way) the file has no path of its own, so it is copied
    once into the temp directory.
    """
    resource = importlib.resources.files(package) / name
    if isinstance(resource, Path):
        return resource
    data = resource.read_bytes()
    digest = hashlib.sha1(data).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"libya-archiver-{digest}-{name}"
    if not target.exists():
        tmp = target.with_suffix(target.suffix + f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return target


class TopicError(ValueError):
    """A topic file that cannot be used: names the file, the entry and the problem."""

    def __init__(self, file: str, entry: str, problem: str) -> None:
        super().__init__(f"{file}: {entry}: {problem}")
        self.file = file
        self.entry = entry
        self.problem = problem


@dataclass(frozen=True)
class Relevance:
    """The verdict on one article: ``matched`` maps canonical term -> number of mentions."""

    relevant: bool
    score: float
    threshold: float
    matched: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the stored record and the manifest."""
        return {
            "relevant": self.relevant,
            "score": self.score,
            "threshold": self.threshold,
            "matched": dict(self.matched),
        }


@dataclass(frozen=True)
class Term:
    """One canonical term of a topic."""

    canonical: str
    group: str
    weight: float
    ambiguous: bool


@dataclass(frozen=True)
class Spelling:
    """A normalised spelling (one or more space-separated tokens) of term number ``term``."""

    text: str
    term: int
    nisba: bool = False


@dataclass(frozen=True)
class _Candidate:
    term: int  # index into Topic.terms
    tail: tuple[str, ...]  # the remaining tokens of a multi-word spelling, exact
    added: int  # clitic letters on the first token (fewer wins a tie)


@dataclass(frozen=True)
class ScoringParams:
    """Numeric knobs of a topic, validated at load time."""

    threshold: float
    title_zone: float = 3.0
    lead_zone: float = 2.0
    body_zone: float = 1.0
    lead_paragraphs: int = 2
    lead_max_tokens: int = 80
    repeat_decay: float = 0.5
    distinct_bonus: float = 1.0
    spread_bonus: float = 1.0
    paragraph_cap: float = 5.0
    density_weight: float = 1.0
    density_cap: float = 4.0
    ambiguous_cap: float = 1.0


class Topic:
    """A set of weighted terms and the scoring rules that decide whether an article is on the topic."""

    def __init__(
        self,
        name: str,
        terms: list[Term],
        spellings: list[Spelling],
        params: ScoringParams,
        *,
        source: str = "<topic>",
    ) -> None:
        """Build from canonical ``terms`` and their normalised ``spellings``."""
        self.name = name
        self.terms = list(terms)
        self.params = params
        self.source = source
        self._index: dict[str, list[_Candidate]] = {}
        for spelling in spellings:
            tokens = spelling.text.split(" ")
            tail = tuple(tokens[1:])
            for form, added in surface_forms(tokens[0], nisba=spelling.nisba).items():
                self._index.setdefault(form, []).append(_Candidate(spelling.term, tail, added))
        for candidates in self._index.values():
            # longest spelling first, then the reading with fewer clitics
            candidates.sort(key=lambda c: (-len(c.tail), c.added))

    @property
    def threshold(self) -> float:
        return self.params.threshold

    # -- loading -------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Topic:
        """Read and validate a topic YAML file; raise :class:`TopicError` naming file, entry and problem."""
        source = str(path)
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TopicError(source, "<file>", f"cannot read: {exc}") from exc
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise TopicError(source, "<document>", f"invalid YAML: {exc}") from exc
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_mapping(cls, data: object, *, source: str = "<topic>") -> Topic:
        """Validate an already-parsed topic document (same schema as the YAML file)."""
        from relevance.topic_file import TopicBuilder  # it builds Topic objects: imported when used

        return TopicBuilder(source).build(data)

    # -- scoring -------------------------------------------------------------------------------------

    def score(self, title: str, text: str, *, parts: list[list[str]] | None = None) -> Relevance:
        """Score an article's title and extracted main text (paragraphs separated by newlines).

        ``parts``: ``tokenize_parts(title, text)`` when the caller has it already (the texts are then not
        read): the same score.
        """
        p = self.params
        mentions: list[_Mention] = []
        if parts is None:
            parts = tokenize_parts(title, text)
        title_tokens = parts[0]
        for term, _ in self._matches(title_tokens):
            mentions.append(_Mention(unit=0, term=term, zone=p.title_zone, capped=False))
        total_tokens = len(title_tokens)
        paragraphs = [tokens for tokens in parts[1:] if tokens]
        body_seen = 0
        for number, tokens in enumerate(paragraphs):
            in_lead = number < p.lead_paragraphs
            # the lead: the first paragraphs, and no further than lead_max_tokens into the text
            lead_left = max(0, p.lead_max_tokens - body_seen) if in_lead else 0
            for term, position in self._matches(tokens):
                zone = p.lead_zone if position < lead_left else p.body_zone
                mentions.append(_Mention(unit=number + 1, term=term, zone=zone, capped=not in_lead))
            body_seen += len(tokens)
        total_tokens += body_seen
        return self._verdict(mentions, total_tokens)

    def find(self, tokens: list[str]) -> list[tuple[Term, int, int]]:
        """(term, token position, width in tokens) of each match in normalised ``tokens``, left to right.

        For callers that need every mention where it stands (``corpus.entities`` disambiguates each one).
        """
        return [(self.terms[term], i, width) for term, i, width in self._spans(tokens)]

    def _matches(self, tokens: list[str]) -> list[tuple[int, int]]:
        """(term index, token position) of each match, longest spelling first, left to right."""
        return [(term, i) for term, i, _ in self._spans(tokens)]

    def _spans(self, tokens: list[str]) -> list[tuple[int, int, int]]:
        found: list[tuple[int, int, int]] = []
        index = self._index
        free = 0  # the first position not inside a match already found
        # Only the tokens that start some spelling are looked at (found in C, by the comprehension), left
        # to right; a match covers its width, so the next one starts after it.
        for i in [i for i, token in enumerate(tokens) if token in index]:
            if i < free:
                continue
            for candidate in index[tokens[i]]:
                n = len(candidate.tail)
                if not n or tuple(tokens[i + 1 : i + 1 + n]) == candidate.tail:
                    found.append((candidate.term, i, 1 + n))
                    free = i + 1 + n
                    break
        return found

    def _verdict(self, mentions: list[_Mention], total_tokens: int) -> Relevance:
        p = self.params
        matched: dict[str, int] = {}
        for m in mentions:
            canonical = self.terms[m.term].canonical
            matched[canonical] = matched.get(canonical, 0) + 1

        # Each mention's value: term weight x zone, the k-th mention of a term (strongest first) x decay**k.
        value: dict[int, float] = {}
        repeats: dict[int, int] = {}
        for i in sorted(range(len(mentions)), key=lambda i: -mentions[i].zone):
            m = mentions[i]
            k = repeats.get(m.term, 0)
            repeats[m.term] = k + 1
            value[i] = self.terms[m.term].weight * m.zone * p.repeat_decay**k

        # Ambiguous terms need unambiguous support and may add at most ambiguous_cap times it.
        clear = sum(v for i, v in value.items() if not self.terms[mentions[i].term].ambiguous)
        unclear = sum(v for i, v in value.items() if self.terms[mentions[i].term].ambiguous)
        factor = min(1.0, p.ambiguous_cap * clear / unclear) if unclear else 1.0
        counted = [i for i in value if not self.terms[mentions[i].term].ambiguous or clear > 0]

        # Evidence per unit (title, paragraph); a body paragraph adds at most paragraph_cap, so one
        # background paragraph dense with names cannot carry an article about something else.
        per_unit: dict[int, float] = {}
        for i in counted:
            m = mentions[i]
            v = value[i] * (factor if self.terms[m.term].ambiguous else 1.0)
            per_unit[m.unit] = per_unit.get(m.unit, 0.0) + v
        capped_units = {m.unit for m in mentions if m.capped}
        evidence = sum(min(v, p.paragraph_cap) if u in capped_units else v for u, v in per_unit.items())

        distinct = len({mentions[i].term for i in counted})
        # a short text cannot claim a high density: count it as at least DENSITY_MIN_TOKENS long
        density = 100.0 * len(counted) / max(total_tokens, DENSITY_MIN_TOKENS)
        score = (
            evidence
            + p.spread_bonus * max(0, len(per_unit) - 1)
            + p.distinct_bonus * max(0, distinct - 1)
            + p.density_weight * min(density, p.density_cap)
        )
        score = round(score, 3)
        ordered = dict(sorted(matched.items(), key=lambda kv: -kv[1]))
        return Relevance(relevant=score >= p.threshold, score=score, threshold=p.threshold, matched=ordered)


@dataclass(frozen=True)
class _Mention:
    unit: int  # 0 = title, n = n-th non-empty paragraph
    term: int
    zone: float
    capped: bool  # a body paragraph, subject to paragraph_cap
