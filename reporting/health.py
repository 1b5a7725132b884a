"""Extraction health per site and run, and layout-drift detection against the site's previous runs.

A site's article template changes without notice; the crawl still "works" but the extractor suddenly gets
the related-posts box instead of the body, or nothing at all. The signs are numeric: the median text length
collapses, or the share of pages with no article text (``extract/no_article``) or with no date jumps.

``SiteHealth`` is one run of one site: article count, median text length, empty-text rate and missing-date
rate. ``detect_drift(current, history)`` compares it with the previous runs (the median of each figure over
the last ``DriftThresholds.window`` runs) and returns ``DriftWarning``s:

* median text length below ``median_ratio`` (default 0.5) of the previous runs' median;
* empty-text or missing-date rate up by ``rate_rise`` (default 0.30, i.e. 30 points) or more;
* no article at all where the previous runs had some.

A run with fewer than ``min_pages`` pages looked at (articles + empty pages) is too small to judge and raises
nothing. ``HealthLog`` keeps the history in a store as ``state/health/<site>.jsonl``, one JSON line per run
(read, append, write back with ``overwrite=True``: the file is state, not archive). Two crawls of one site
finishing at the same moment can lose one line; a lost line only makes the next comparison use fewer runs.

No Scrapy here: the crawl glue (``crawler.report``) feeds it numbers.
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from archive.keys import health_key

logger = logging.getLogger(__name__)

HEALTH_CONTENT_TYPE = "application/x-ndjson"


def median_int(values: Iterable[int | float]) -> int | None:
    """The median rounded to an int, or None for no values."""
    items = list(values)
    return round(statistics.median(items)) if items else None


def rate(part: int | None, whole: int | None) -> float | None:
    """``part / whole`` or None when either is unknown or ``whole`` is 0."""
    if part is None or not whole:
        return None
    return part / whole


@dataclass(frozen=True)
class SiteHealth:
    """Extraction health of one site in one run (see the module docstring)."""

    crawl_id: str
    site: str
    at: str  # ISO 8601 time of the run's end
    articles: int  # pages the extractor turned into an article
    empty: int  # pages of kind article that gave no article text (extract/no_article)
    missing_date: int  # articles without a publication date
    median_text_chars: int | None

    @property
    def pages(self) -> int:
        return self.articles + self.empty

    @property
    def empty_rate(self) -> float | None:
        return rate(self.empty, self.pages)

    @property
    def missing_date_rate(self) -> float | None:
        return rate(self.missing_date, self.articles)

    @classmethod
    def compute(
        cls,
        crawl_id: str,
        site: str,
        at: str,
        text_lengths: Sequence[int],
        *,
        articles: int | None = None,
        empty: int = 0,
        missing_date: int = 0,
    ) -> SiteHealth:
        """From the text lengths of the run's articles; ``articles`` defaults to ``len(text_lengths)``."""
        return cls(
            crawl_id=crawl_id,
            site=site,
            at=at,
            articles=len(text_lengths) if articles is None else articles,
            empty=empty,
            missing_date=missing_date,
            median_text_chars=median_int(text_lengths),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["empty_rate"] = _round(self.empty_rate)
        data["missing_date_rate"] = _round(self.missing_date_rate)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SiteHealth:
        median = data.get("median_text_chars")
        return cls(
            crawl_id=str(data.get("crawl_id") or ""),
            site=str(data.get("site") or ""),
            at=str(data.get("at") or ""),
            articles=int(data.get("articles") or 0),
            empty=int(data.get("empty") or 0),
            missing_date=int(data.get("missing_date") or 0),
            median_text_chars=None if median is None else int(median),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class DriftThresholds:
    """When a run counts as drifted; see the module docstring."""

    median_ratio: float = 0.5
    rate_rise: float = 0.30
    window: int = 10
    min_pages: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.median_ratio < 1:
            raise ValueError(f"median_ratio must be between 0 and 1, got {self.median_ratio}")
        if not 0 < self.rate_rise <= 1:
            raise ValueError(f"rate_rise must be in (0, 1], got {self.rate_rise}")
        if self.window < 1 or self.min_pages < 1:
            raise ValueError("window and min_pages must be at least 1")


@dataclass(frozen=True)
class DriftWarning:
    """One sign of layout drift on one site."""

    site: str
    metric: str  # median_text_chars | empty_rate | missing_date_rate | articles
    previous: float
    current: float
    runs: int  # how many previous runs the comparison used

    @property
    def message(self) -> str:
        if self.metric == "median_text_chars":
            detail = (
                f"median text length fell to {self.current:.0f} chars from {self.previous:.0f} "
                f"({self.current / self.previous:.0%} of the previous {self.runs} run(s))"
            )
        elif self.metric == "articles":
            detail = f"no article extracted (previous {self.runs} run(s): median {self.previous:.0f})"
        else:
            what = "empty-text rate" if self.metric == "empty_rate" else "missing-date rate"
            detail = (
                f"{what} rose to {self.current:.0%} from {self.previous:.0%} "
                f"(+{(self.current - self.previous) * 100:.0f} points over the previous {self.runs} run(s))"
            )
        return f"layout drift on site {self.site}: {detail}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


def detect_drift(
    current: SiteHealth, history: Sequence[SiteHealth], thresholds: DriftThresholds | None = None
) -> list[DriftWarning]:
    """Drift warnings for ``current`` against the last ``window`` runs in ``history`` (oldest first).

    Runs of the same crawl id as ``current`` are ignored (a crawl resumed under its id is one run).
    """
    limits = thresholds or DriftThresholds()
    previous = [h for h in history if h.crawl_id != current.crawl_id and h.pages >= limits.min_pages]
    previous = previous[-limits.window :]
    if not previous:
        return []
    warnings: list[DriftWarning] = []
    runs = len(previous)
    past_articles = statistics.median(h.articles for h in previous)
    if current.articles == 0 and current.empty == 0:
        # Nothing fetched at all is an outage or a discovery problem, not a layout change.
        return []
    if current.articles == 0 and past_articles > 0:
        warnings.append(DriftWarning(current.site, "articles", float(past_articles), 0.0, runs))
    if current.pages < limits.min_pages:
        return warnings
    past_medians = [h.median_text_chars for h in previous if h.median_text_chars]
    if current.median_text_chars is not None and past_medians:
        past = statistics.median(past_medians)
        if current.median_text_chars < limits.median_ratio * past:
            warnings.append(
                DriftWarning(
                    current.site, "median_text_chars", float(past), float(current.median_text_chars), runs
                )
            )
    for metric in ("empty_rate", "missing_date_rate"):
        now = getattr(current, metric)
        past_rates = [r for r in (getattr(h, metric) for h in previous) if r is not None]
        if now is None or not past_rates:
            continue
        past_rate = statistics.median(past_rates)
        # A small tolerance so a rise of exactly the threshold counts despite float rounding.
        if now - past_rate >= limits.rate_rise - 1e-9:
            warnings.append(DriftWarning(current.site, metric, float(past_rate), float(now), runs))
    return warnings


def parse_history(data: bytes | None) -> list[SiteHealth]:
    """The runs in a ``state/health/<site>.jsonl`` body, oldest first; bad lines are skipped and logged."""
    runs: list[SiteHealth] = []
    if not data:
        return runs
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            logger.warning("health history: line %d is not JSON; skipped", number)
            continue
        if isinstance(value, dict):
            runs.append(SiteHealth.from_dict(value))
    return runs


def append_history(data: bytes | None, run: SiteHealth) -> bytes:
    """``data`` (a history body, or None) with ``run`` appended as one JSON line."""
    body = data or b""
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return body + json.dumps(run.to_dict(), ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"


class HealthStore(Protocol):
    """What ``HealthLog`` needs of an ``archive.store.Store``."""

    def get_bytes(self, key: str) -> bytes | None: ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str = ..., overwrite: bool = ...) -> str: ...


class HealthLog:
    """The per-site health history in a store (blocking calls: run them off the reactor)."""

    def __init__(self, store: HealthStore) -> None:
        self.store = store

    def load(self, site: str) -> list[SiteHealth]:
        """Previous runs of ``site``, oldest first (empty when there is no history yet)."""
        return parse_history(self.store.get_bytes(health_key(site)))

    def append(self, run: SiteHealth) -> str:
        """Append ``run`` to its site's history; return the key written."""
        key = health_key(run.site)
        data = append_history(self.store.get_bytes(key), run)
        return self.store.put_bytes(key, data, content_type=HEALTH_CONTENT_TYPE, overwrite=True)
