"""The crawl report: what a crawl did and produced, per site, as Markdown and as one self-contained HTML page.

``build_report(crawl_id, stats, manifest, ...)`` takes the crawl's final stats (a mapping of slash-namespaced
keys, datetimes as ``datetime`` or ISO strings), the manifest lines (one mapping per stored article, see
``docs/design.md``), or a ``ManifestSummary`` of them (what the report needs of each line, added as the crawl
stores articles: a crawl's report does not hold a line per article in memory), and the previous runs'
extraction health per site (``reporting.health``), and returns a ``CrawlReport`` with ``to_markdown()``,
``to_html()`` and ``to_dict()``.

Per-site figures come from stats keys with a ``/<site>`` suffix (``SITE_STATS``). Where a crawl has no such
key the figure falls back, in order, to: 0 when the key family exists for other sites or the global counter
is 0 (nothing happened); the global counter when the crawl has one site; the manifest (stored, relevant,
rendered, missing dates, bytes of the article captures); else unknown (shown as "—").

The HTML page has inline CSS and inline SVG bar charts (articles per site, text length distribution,
failures), no script and no external asset, so it opens from a file or a bucket without network. Arabic
titles sit in ``dir="auto"`` cells. No Scrapy here; ``crawler.report`` is the glue that writes it. Markdown in ``reporting.markdown``, HTML in
``reporting.html`` (its charts in ``reporting.charts``).
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archive.keys import manifest_key, report_key, safe_segment, wacz_packages_dir
from archive.keys import warc_dir as warc_prefix
from reporting import stats_keys as keys
from reporting.formatting import (
    bin_labels,
    format_bytes,
    format_count,
    format_duration,
    format_percent,
    jsonable_stats,
    number,
    parse_time,
    text_bin,
)
from reporting.health import DriftThresholds, DriftWarning, SiteHealth, detect_drift, median_int, rate
from reporting.stats_keys import (
    BACKLOG_BY_SITE,
    FAILURE_PREFIXES,
    GLOBAL_STATS,
    REQUISITES_FETCHED,
    REQUISITES_UNCAPTURED,
    SITE_STATS,
)

__all__ = [
    "CrawlReport",
    "ManifestSummary",
    "SiteReport",
    "build_report",
    "jsonable_stats",
    "load_manifest",
    "report_key",
]

DEFAULT_PYWB_VENV = ".pywb-venv"
MAX_TITLES_PER_SITE = 25


def sum_prefix(stats: Mapping[str, Any], prefix: str) -> int:
    """Sum of the numeric stats whose key starts with ``prefix`` (and has something after it)."""
    return int(
        sum(v for k, v in stats.items() if k.startswith(prefix) and len(k) > len(prefix) and number(v))
    )


def global_value(stats: Mapping[str, Any], figure: str) -> int:
    """The crawl-wide value of ``figure`` (a ``GLOBAL_STATS`` name); 0 when the crawl never counted it."""
    key = GLOBAL_STATS[figure]
    if key.endswith("/"):
        return sum_prefix(stats, key)
    return int(number(stats.get(key)) or 0)


def sites_in_stats(stats: Mapping[str, Any]) -> set[str]:
    """Site names that appear as the suffix of a ``SITE_STATS`` key."""
    found: set[str] = set()
    for template in SITE_STATS.values():
        prefix = template.removesuffix("{site}")
        found.update(k[len(prefix) :] for k in stats if k.startswith(prefix) and len(k) > len(prefix))
    return found


@dataclass
class SiteReport:
    """One site's numbers in one crawl; ``None`` means unknown (no stats key and no fallback)."""

    site: str
    found: int | None = None
    extracted: int | None = None
    relevant: int | None = None
    stored: int = 0
    rendered: int | None = None
    failed: int | None = None
    empty: int | None = None
    missing_date: int | None = None
    bytes: int | None = None
    backlog: int | None = None  # candidates left in the site's frontier for the next crawl
    first_fetch: str | None = None
    last_fetch: str | None = None
    text_lengths: list[int] = field(default_factory=list)
    titles: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # figure -> "stats" | "global" | "manifest"
    drift: list[DriftWarning] = field(default_factory=list)
    # Page requisites (stylesheets, scripts, images, fonts): fetched, and those the crawl could not capture.
    requisites_fetched: int = 0
    requisites_uncaptured: int = 0

    @property
    def empty_rate(self) -> float | None:
        if self.empty is None:
            return None
        pages = (self.extracted if self.extracted is not None else self.stored) + self.empty
        return rate(self.empty, pages)

    @property
    def missing_date_rate(self) -> float | None:
        return rate(self.missing_date, self.extracted if self.extracted is not None else self.stored)

    @property
    def median_text_chars(self) -> int | None:
        return median_int(self.text_lengths)

    @property
    def duration_seconds(self) -> float | None:
        first, last = parse_time(self.first_fetch), parse_time(self.last_fetch)
        if first is None or last is None:
            return None
        return (last - first).total_seconds()

    def health(self, crawl_id: str, at: str) -> SiteHealth:
        """This run's extraction health, for ``reporting.health``."""
        articles = self.extracted if self.extracted is not None else self.stored
        missing = self.missing_date or 0
        if self.sources.get("missing_date") == "manifest" and self.extracted is not None:
            # Missing dates counted among stored articles only: scale to the extracted ones' rate.
            missing = round((self.missing_date_rate or 0) * articles)
        return SiteHealth.compute(
            crawl_id,
            self.site,
            at,
            self.text_lengths,
            articles=articles,
            empty=self.empty or 0,
            missing_date=missing,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "found": self.found,
            "extracted": self.extracted,
            "relevant": self.relevant,
            "stored": self.stored,
            "rendered": self.rendered,
            "failed": self.failed,
            "empty": self.empty,
            "missing_date": self.missing_date,
            "empty_rate": self.empty_rate,
            "missing_date_rate": self.missing_date_rate,
            "median_text_chars": self.median_text_chars,
            "bytes": self.bytes,
            "backlog": self.backlog,
            "first_fetch": self.first_fetch,
            "last_fetch": self.last_fetch,
            "duration_seconds": self.duration_seconds,
            "sources": dict(self.sources),
            "drift": [w.to_dict() for w in self.drift],
            "requisites_fetched": self.requisites_fetched,
            "requisites_uncaptured": self.requisites_uncaptured,
        }


@dataclass(frozen=True)
class StoredFile:
    """One object the crawl handed to the store: its key, size and SHA-256 (hex), as the spool hashed it."""

    key: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "sha256": self.sha256}


@dataclass
class CrawlReport:
    """A whole crawl: totals, per-site rows, drift warnings, where the outputs are and how to replay them."""

    crawl_id: str
    stats: dict[str, Any]
    sites: list[SiteReport]
    totals: dict[str, int]
    warnings: list[DriftWarning]
    health: list[SiteHealth]
    store_uri: str = ""
    pywb_venv: str = DEFAULT_PYWB_VENV
    files: list[StoredFile] = field(default_factory=list)
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    # --- derived ------------------------------------------------------------------------------------------
    @property
    def started(self) -> datetime | None:
        return parse_time(self.stats.get("start_time"))

    @property
    def finished(self) -> datetime | None:
        return parse_time(self.stats.get("finish_time"))

    @property
    def duration_seconds(self) -> float | None:
        elapsed = number(self.stats.get("elapsed_time_seconds"))
        if elapsed is not None:
            return float(elapsed)
        if self.started and self.finished:
            return (self.finished - self.started).total_seconds()
        return None

    @property
    def finish_reason(self) -> str:
        return str(self.stats.get("finish_reason") or "")

    @property
    def wacz_key(self) -> str:
        """The crawl's packages: one per WARC file under this prefix (``archive.keys.wacz_package_key``)."""
        return wacz_packages_dir(self.crawl_id) + "/"

    def backlog_text(self) -> str:
        """The upload backlog when the crawl ended (what the drain had left to upload) and its peak."""
        count = int(number(self.stats.get(keys.BACKLOG_AT_END)) or 0)
        size = int(number(self.stats.get(keys.BACKLOG_BYTES_AT_END)) or 0)
        peak = int(number(self.stats.get(keys.BACKLOG_PEAK_BYTES)) or 0)
        return f"{count} object(s), {format_bytes(size)} (peak {format_bytes(peak)})"

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.crawl_id)

    @property
    def collection(self) -> str:
        """A pywb collection name for this crawl."""
        return safe_segment(self.crawl_id).replace(".", "-")

    def store_location(self, key: str) -> str:
        """Where ``key`` is, as a URI an operator can use (``file://...``, ``s3://...``) or the key itself."""
        if not self.store_uri:
            return key
        return f"{self.store_uri.rstrip('/')}/{key}"

    def replay_commands(self) -> list[str]:
        """Shell commands that replay the crawl's WARC files in pywb on http://localhost:8080/."""
        venv = self.pywb_venv.rstrip("/")
        coll = self.collection
        warc_dir = warc_prefix(self.crawl_id)
        commands: list[str] = []
        if self.store_uri.startswith("s3://"):
            commands.append(f"aws s3 sync {self.store_location(warc_dir)}/ ./{warc_dir}/")
            warcs = f"./{warc_dir}/*.warc.gz"
        elif self.store_uri:
            warcs = f"{self.store_uri.removeprefix('file://').rstrip('/')}/{warc_dir}/*.warc.gz"
        else:
            warcs = f"{warc_dir}/*.warc.gz"
        commands += [
            f"{venv}/bin/wb-manager init {coll}",
            f"{venv}/bin/wb-manager add {coll} {warcs}",
            f"{venv}/bin/wayback -p 8080",
        ]
        return commands

    def failures(self) -> list[tuple[str, int]]:
        """(label, count) for every failure reason in the stats, largest first."""
        rows: list[tuple[str, int]] = []
        for prefix, label in FAILURE_PREFIXES.items():
            for key, value in self.stats.items():
                count = number(value)
                if key.startswith(prefix) and len(key) > len(prefix) and count:
                    rows.append((f"{label}: {key[len(prefix) :]}", int(count)))
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def text_histogram(self) -> list[tuple[str, int]]:
        """Stored articles per text length bin (all sites)."""
        counts = Counter(text_bin(n) for s in self.sites for n in s.text_lengths)
        return [(label, counts.get(label, 0)) for label in bin_labels()]

    # --- output -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id,
            "generated_at": self.generated_at,
            "started": self.started.isoformat() if self.started else None,
            "finished": self.finished.isoformat() if self.finished else None,
            "duration_seconds": self.duration_seconds,
            "finish_reason": self.finish_reason,
            "totals": dict(self.totals),
            "sites": [s.to_dict() for s in self.sites],
            "warnings": [w.to_dict() for w in self.warnings],
            "health": [h.to_dict() for h in self.health],
            "wacz": self.store_location(self.wacz_key),
            "manifest": self.store_location(self.manifest_key),
            "replay": self.replay_commands(),
            "files": [f.to_dict() for f in self.files],
        }

    def summary_lines(self) -> list[str]:
        """A few lines for the crawl log."""
        t = self.totals
        lines = [
            f"Crawl {self.crawl_id} ({self.finish_reason or 'unfinished'}, {format_duration(self.duration_seconds)}): "
            f"{t['found']} article pages found, {t['extracted']} extracted, {t['stored']} stored, "
            f"{t['failed']} failed fetches, {format_bytes(t['bytes'])} WARC"
        ]
        for s in self.sites:
            lines.append(
                f"  {s.site}: found {format_count(s.found)}, stored {s.stored}, relevant {format_count(s.relevant)}, "
                f"rendered {format_count(s.rendered)}, failed {format_count(s.failed)}, empty {format_percent(s.empty_rate)}, "
                f"no date {format_percent(s.missing_date_rate)}, median {format_count(s.median_text_chars)} chars"
            )
        lines.extend(w.message for w in self.warnings)
        return lines

    def to_markdown(self) -> str:
        """The report as Markdown (GitHub-flavoured tables)."""
        from reporting.markdown import render_markdown

        return render_markdown(self)

    def to_html(self) -> str:
        """One self-contained HTML page (inline CSS and SVG, no script, no external asset)."""
        from reporting.html import render_html

        return render_html(self)


@dataclass
class SiteLines:
    """What the report uses of one site's manifest lines, added one line at a time."""

    stored: int = 0
    relevant: int = 0
    rendered: int = 0
    missing_date: int = 0
    bytes: int = 0
    text_lengths: array[int] = field(default_factory=lambda: array("q"))
    first_fetch: str | None = None
    last_fetch: str | None = None
    titles: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_TITLES_PER_SITE

    def add(self, line: Mapping[str, Any]) -> None:
        self.stored += 1
        self.relevant += _relevant(line)
        self.rendered += bool(line.get("rendered"))
        self.missing_date += not line.get("published")
        self.bytes += int(number((line.get("warc") or {}).get("length")) or 0)
        self.text_lengths.append(_text_chars(line))
        if line.get("fetched_at"):
            fetched = str(line["fetched_at"])
            self.first_fetch = min(fetched, self.first_fetch or fetched)
            self.last_fetch = max(fetched, self.last_fetch or fetched)
        if len(self.titles) < MAX_TITLES_PER_SITE:
            self.titles.append(
                {
                    "title": str(line.get("title") or ""),
                    "url": str(line.get("url") or ""),
                    "published": line.get("published"),
                    "text_chars": _text_chars(line),
                }
            )


class ManifestSummary:
    """The manifest lines as the report uses them, per site; ``add`` one line at a time (a crawl adds each
    stored article's), or ``of`` a whole manifest. Holds a few figures and one integer a line."""

    def __init__(self) -> None:
        self.sites: dict[str, SiteLines] = {}
        self.lines = 0

    @classmethod
    def of(cls, manifest: Iterable[Any]) -> ManifestSummary:
        summary = cls()
        for line in manifest:
            summary.add(line)
        return summary

    def add(self, line: Any) -> None:
        """One manifest line (anything but a mapping is skipped)."""
        if isinstance(line, Mapping):
            self.sites.setdefault(str(line.get("site") or "?"), SiteLines()).add(line)
            self.lines += 1


def build_report(
    crawl_id: str,
    stats: Mapping[str, Any],
    manifest: Iterable[Mapping[str, Any]] | ManifestSummary,
    *,
    sites: Sequence[str] = (),
    history: Mapping[str, Sequence[SiteHealth]] | None = None,
    thresholds: DriftThresholds | None = None,
    store_uri: str = "",
    pywb_venv: str = DEFAULT_PYWB_VENV,
    files: Iterable[StoredFile] = (),
) -> CrawlReport:
    """Build the report; ``sites`` are the crawl's configured sites (so a site with nothing still shows);
    ``files``: what the crawl stored, listed with their SHA-256 (sorted by key)."""
    flat = jsonable_stats(stats)
    summary = manifest if isinstance(manifest, ManifestSummary) else ManifestSummary.of(manifest)
    by_site = summary.sites
    names = sorted(set(sites) | set(by_site) | sites_in_stats(flat))
    single = len(names) == 1
    reports = [_site_report(name, flat, by_site.get(name) or SiteLines(), single) for name in names]
    at = str(flat.get("finish_time") or datetime.now(UTC).isoformat(timespec="seconds"))
    healths: list[SiteHealth] = []
    warnings: list[DriftWarning] = []
    for site_report in reports:
        current = site_report.health(crawl_id, at)
        healths.append(current)
        site_report.drift = detect_drift(current, (history or {}).get(site_report.site, ()), thresholds)
        warnings.extend(site_report.drift)
    totals = {figure: global_value(flat, figure) for figure in GLOBAL_STATS}
    if not totals["stored"]:
        totals["stored"] = summary.lines
    return CrawlReport(
        crawl_id=crawl_id,
        stats=flat,
        sites=reports,
        totals=totals,
        warnings=warnings,
        health=healths,
        store_uri=store_uri,
        pywb_venv=pywb_venv,
        files=sorted(files, key=lambda f: f.key),
    )


def _site_report(site: str, stats: Mapping[str, Any], lines: SiteLines, single: bool) -> SiteReport:
    report = SiteReport(site)
    manifest_figures: dict[str, int] = {
        "stored": lines.stored,
        "relevant": lines.relevant,
        "rendered": lines.rendered,
        "missing_date": lines.missing_date,
        "bytes": lines.bytes,
    }
    values: dict[str, int | None] = {}
    for figure, template in SITE_STATS.items():
        key = template.format(site=site)
        prefix = template.removesuffix("{site}")
        value = number(stats.get(key))
        total = global_value(stats, figure)
        if value is not None or any(k.startswith(prefix) for k in stats):
            # A family counted per site: a site without its key had none of it.
            values[figure], report.sources[figure] = int(value or 0), "stats"
        elif single and total:
            values[figure], report.sources[figure] = total, "global"
        elif figure in manifest_figures and lines.stored:
            values[figure], report.sources[figure] = manifest_figures[figure], "manifest"
        elif total == 0:
            values[figure], report.sources[figure] = 0, "stats"
        else:
            values[figure] = None
    report.found = values["found"]
    report.extracted = values["extracted"]
    report.relevant = values["relevant"]
    report.stored = values["stored"] or 0
    report.rendered = values["rendered"]
    report.failed = values["failed"]
    report.empty = values["empty"]
    report.missing_date = values["missing_date"]
    report.bytes = values["bytes"]
    backlog = number(stats.get(BACKLOG_BY_SITE.format(site=site)))
    report.backlog = int(backlog) if backlog is not None else None
    report.text_lengths = list(lines.text_lengths)
    report.requisites_fetched = int(number(stats.get(f"{REQUISITES_FETCHED}{site}")) or 0)
    report.requisites_uncaptured = int(number(stats.get(f"{REQUISITES_UNCAPTURED}{site}")) or 0)
    report.first_fetch, report.last_fetch = lines.first_fetch, lines.last_fetch
    report.titles = list(lines.titles)
    return report


def _relevant(line: Mapping[str, Any]) -> bool:
    relevance = line.get("relevance")
    return bool(relevance.get("relevant")) if isinstance(relevance, Mapping) else False


def _text_chars(line: Mapping[str, Any]) -> int:
    value = number(line.get("text_chars"))
    if value is not None:
        return int(value)
    return len(str(line.get("text") or ""))


def load_manifest(data: bytes | None) -> list[dict[str, Any]]:
    """Manifest lines from a ``manifests/<crawl-id>.jsonl`` body (bad lines skipped)."""
    lines: list[dict[str, Any]] = []
    for raw in (data or b"").decode("utf-8", errors="replace").splitlines():
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            lines.append(value)
    return lines


def health_by_site(healths: Iterable[SiteHealth]) -> dict[str, list[SiteHealth]]:
    """Group runs by site, in the order given."""
    grouped: dict[str, list[SiteHealth]] = {}
    for run in healths:
        grouped.setdefault(run.site, []).append(run)
    return grouped
