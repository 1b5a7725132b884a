"""Reading a topic file: the YAML schema, checked entry by entry (``TopicError`` names file, entry, problem).

A topic is a YAML file (``relevance/topics/libya.yaml`` is the default). Schema, all weights positive numbers::

    name: libya                  # required, a label
    description: ...             # optional
    threshold: 10.0              # required: score >= threshold means relevant
    zones: {title: 3.0, lead: 2.0, body: 1.0}   # multiplier for a mention in each part of the article
    lead: {paragraphs: 2, max_tokens: 80}       # the lead is the first N paragraphs, at most M tokens
    repeat_decay: 0.5            # k-th repeat of the same term counts decay**k (0 <= decay <= 1)
    distinct_bonus: 0.5          # added per distinct counted term beyond the first
    spread_bonus: 1.0            # added per unit (title or paragraph) with evidence beyond the first
    paragraph_cap: 5.0           # most one body paragraph (after the lead) can add as evidence
    density: {weight: 0.5, cap: 4.0}            # + weight * min(matches per 100 tokens, cap)
    ambiguous_cap: 1.0           # ambiguous terms add at most this times the unambiguous evidence
    groups:                      # required, at least one
      <group name>:
        weight: 2.0              # default weight of the group's terms (default 1.0)
        ambiguous: false         # default for the group's terms (see below)
        inflect: none            # "none" or "nisba" (demonym endings and article, see relevance.forms)
        terms:                   # required, non-empty
          - طرابلس               # a plain string, or a mapping:
          - term: مصراتة          #   canonical name, reported in ``Relevance.matched``
            variants: [مصراطة, Misrata]   # other spellings, counted as the canonical term
            weight: 2.5          #   overrides the group weight
            ambiguous: true      #   overrides the group flag
            inflect: nisba       #   overrides the group setting
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from relevance.normalize import tokenize
from relevance.topic import ScoringParams, Spelling, Term, Topic, TopicError

_TOPIC_KEYS = {
    "name",
    "description",
    "threshold",
    "zones",
    "lead",
    "repeat_decay",
    "distinct_bonus",
    "spread_bonus",
    "paragraph_cap",
    "density",
    "ambiguous_cap",
    "groups",
}
_GROUP_KEYS = {"weight", "ambiguous", "inflect", "terms"}
_TERM_KEYS = {"term", "variants", "weight", "ambiguous", "inflect"}
_INFLECTIONS = ("none", "nisba")


class TopicBuilder:
    """Validates a parsed topic document, turning every problem into a TopicError with its entry path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, entry: str, problem: str) -> TopicError:
        return TopicError(self.source, entry, problem)

    def mapping(self, value: object, entry: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(entry, f"expected a mapping, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                raise self.fail(
                    f"{entry}.{key}" if entry else str(key), f"unknown key (allowed: {sorted(allowed)})"
                )
        return value

    def number(self, value: object, entry: str, *, minimum: float = 0.0, positive: bool = False) -> float:
        # bool is an int subclass; "weight: yes" is a mistake, not 1.0
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(entry, f"expected a number, got {value!r}")
        if positive and value <= 0:
            raise self.fail(entry, f"must be > 0, got {value!r}")
        if value < minimum:
            raise self.fail(entry, f"must be >= {minimum}, got {value!r}")
        return float(value)

    def integer(self, value: object, entry: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(entry, f"expected a non-negative integer, got {value!r}")
        return value

    def flag(self, value: object, entry: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(entry, f"expected true or false, got {value!r}")
        return value

    def inflection(self, value: object, entry: str) -> str:
        if value not in _INFLECTIONS:
            raise self.fail(entry, f"expected one of {list(_INFLECTIONS)}, got {value!r}")
        return str(value)

    def spelling(self, value: object, entry: str) -> str:
        if not isinstance(value, str):
            raise self.fail(entry, f"expected a string, got {value!r}")
        normalized = " ".join(tokenize(value))
        if not normalized:
            raise self.fail(entry, f"{value!r} is empty after normalisation")
        return normalized

    def params(self, doc: Mapping[str, Any]) -> ScoringParams:
        if "threshold" not in doc:
            raise self.fail("threshold", "missing (the score at which an article is relevant)")
        values: dict[str, Any] = {"threshold": self.number(doc["threshold"], "threshold", positive=True)}
        zones = self.mapping(doc.get("zones", {}), "zones", {"title", "lead", "body"})
        for key in zones:
            values[f"{key}_zone"] = self.number(zones[key], f"zones.{key}", positive=True)
        lead = self.mapping(doc.get("lead", {}), "lead", {"paragraphs", "max_tokens"})
        if "paragraphs" in lead:
            values["lead_paragraphs"] = self.integer(lead["paragraphs"], "lead.paragraphs")
        if "max_tokens" in lead:
            values["lead_max_tokens"] = self.integer(lead["max_tokens"], "lead.max_tokens")
        if "repeat_decay" in doc:
            decay = self.number(doc["repeat_decay"], "repeat_decay")
            if decay > 1:
                raise self.fail("repeat_decay", f"must be between 0 and 1, got {decay!r}")
            values["repeat_decay"] = decay
        for key in ("distinct_bonus", "spread_bonus"):
            if key in doc:
                values[key] = self.number(doc[key], key)
        if "paragraph_cap" in doc:
            values["paragraph_cap"] = self.number(doc["paragraph_cap"], "paragraph_cap", positive=True)
        density = self.mapping(doc.get("density", {}), "density", {"weight", "cap"})
        if "weight" in density:
            values["density_weight"] = self.number(density["weight"], "density.weight")
        if "cap" in density:
            values["density_cap"] = self.number(density["cap"], "density.cap", positive=True)
        if "ambiguous_cap" in doc:
            values["ambiguous_cap"] = self.number(doc["ambiguous_cap"], "ambiguous_cap")
        return ScoringParams(**values)

    def build(self, data: object) -> Topic:
        doc = self.mapping(data, "", _TOPIC_KEYS)
        name = doc.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("name", f"expected a non-empty string, got {name!r}")
        if "description" in doc and not isinstance(doc["description"], str):
            raise self.fail("description", "expected a string")
        params = self.params(doc)
        groups = doc.get("groups")
        if not isinstance(groups, Mapping) or not groups:
            raise self.fail("groups", "expected a non-empty mapping of group name -> group")

        terms: list[Term] = []
        spellings: list[Spelling] = []
        owner: dict[str, str] = {}  # normalised spelling -> entry that declared it
        for group_name, group_value in groups.items():
            g_entry = f"groups.{group_name}"
            group = self.mapping(group_value, g_entry, _GROUP_KEYS)
            g_weight = self.number(group.get("weight", 1.0), f"{g_entry}.weight", positive=True)
            g_ambiguous = self.flag(group.get("ambiguous", False), f"{g_entry}.ambiguous")
            g_inflect = self.inflection(group.get("inflect", "none"), f"{g_entry}.inflect")
            items = group.get("terms")
            if not isinstance(items, list) or not items:
                raise self.fail(f"{g_entry}.terms", "expected a non-empty list of terms")
            for n, item in enumerate(items):
                t_entry = f"{g_entry}.terms[{n}]"
                if isinstance(item, str):
                    item = {"term": item}
                spec = self.mapping(item, t_entry, _TERM_KEYS)
                if "term" not in spec:
                    raise self.fail(t_entry, "missing 'term'")
                canonical = spec["term"]
                texts = [self.spelling(canonical, f"{t_entry}.term")]
                variants = spec.get("variants", [])
                if not isinstance(variants, list):
                    raise self.fail(f"{t_entry}.variants", "expected a list of strings")
                texts += [self.spelling(v, f"{t_entry}.variants[{k}]") for k, v in enumerate(variants)]
                weight = self.number(spec.get("weight", g_weight), f"{t_entry}.weight", positive=True)
                ambiguous = self.flag(spec.get("ambiguous", g_ambiguous), f"{t_entry}.ambiguous")
                nisba = self.inflection(spec.get("inflect", g_inflect), f"{t_entry}.inflect") == "nisba"
                term_index = len(terms)
                terms.append(
                    Term(canonical=str(canonical), group=str(group_name), weight=weight, ambiguous=ambiguous)
                )
                for text in texts:
                    if text in owner:
                        raise self.fail(t_entry, f"spelling {text!r} is already declared by {owner[text]}")
                    owner[text] = t_entry
                    spellings.append(Spelling(text=text, term=term_index, nisba=nisba))
        return Topic(str(name), terms, spellings, params, source=self.source)
