"""The crawl report: what a crawl did and produced, per site, as Markdown and as one self-contained HTML page.

``build_report(crawl_id, stats, manifest, ...)`` takes the crawl's final stats (a mapping of slash-namespaced
keys, datetimes as ``datetime`` or ISO strings), the manifest lines (one mapping per stored article, see
``docs/design.md``) and the previous runs' extraction health per site (``archive.health``), and returns a
``CrawlReport`` with ``to_markdown()``, ``to_html()`` and ``to_dict()``.

Per-site figures come from stats keys with a ``/<site>`` suffix (``SITE_STATS``). Where a crawl has no such
key the figure falls back, in order, to: 0 when the key family exists for other sites or the global counter
is 0 (nothing happened); the global counter when the crawl has one site; the manifest (stored, relevant,
rendered, missing dates, bytes of the article captures); else unknown (shown as "—").

The HTML page has inline CSS and inline SVG bar charts (articles per site, text length distribution,
failures), no script and no external asset, so it opens from a file or a bucket without network. Arabic
titles sit in ``dir="auto"`` cells. No Scrapy here; ``crawler.report`` is the glue that writes it.
"""

from __future__ import annotations

import html
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archive.health import DriftThresholds, DriftWarning, SiteHealth, detect_drift, median_int, rate
from archive.keys import check_key, manifest_key, safe_segment, wacz_key

#: Per-site stats keys the report reads (``{site}`` is the site name). Figures without a key fall back as
#: the module docstring says.
SITE_STATS: dict[str, str] = {
    "found": "discovery/articles_by_site/{site}",
    "extracted": "extract/articles_by_site/{site}",
    "relevant": "relevance/relevant_by_site/{site}",
    "stored": "store/articles_by_site/{site}",
    "rendered": "render/pages_by_site/{site}",
    "failed": "crawl/failed_by_site/{site}",
    "empty": "extract/no_article_by_site/{site}",
    "missing_date": "extract/missing_date_by_site/{site}",
    "bytes": "warc/bytes_by_site/{site}",
}
#: The crawl-wide counter behind each figure: a key, or a prefix (ending in "/") whose keys are summed.
GLOBAL_STATS: dict[str, str] = {
    "found": "discovery/requests/article",
    "extracted": "extract/articles",
    "relevant": "relevance/relevant",
    "stored": "store/articles",
    "rendered": "render/pages",
    "failed": "crawl/failed/",
    "empty": "extract/no_article/",
    "missing_date": "extract/missing_date",
    "bytes": "warc/bytes",
}
#: Failure families shown in the failures chart: stats prefix -> label.
FAILURE_PREFIXES: dict[str, str] = {
    "crawl/failed/": "fetch",
    "extract/no_article/": "no article",
    "extract/failed/": "extract error",
    "render/failed/": "render",
    "render/blocked/": "browser request blocked",
    "storage/upload_failed/": "upload",
    # Requests of a host whose robots.txt could not be read (RFC 9309: not fetched), by host:port.
    "robotstxt/unreachable/": "robots.txt unreachable",
}
TEXT_BINS: tuple[int, ...] = (0, 250, 500, 1000, 2000, 4000, 8000)
DEFAULT_PYWB_VENV = ".pywb-venv"
MAX_TITLES_PER_SITE = 25


def report_key(crawl_id: str, name: str) -> str:
    """``reports/<crawl-id>/<name>`` (``stats.json``, ``report.md``, ``report.html``)."""
    return check_key(f"reports/{safe_segment(crawl_id)}/{safe_segment(name)}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def jsonable_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The stats with datetimes as ISO strings and anything else odd as its ``str``; keys sorted."""
    out: dict[str, Any] = {}
    for key in sorted(stats):
        value = stats[key]
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out


def sum_prefix(stats: Mapping[str, Any], prefix: str) -> int:
    """Sum of the numeric stats whose key starts with ``prefix`` (and has something after it)."""
    return int(
        sum(v for k, v in stats.items() if k.startswith(prefix) and len(k) > len(prefix) and _number(v))
    )


def global_value(stats: Mapping[str, Any], figure: str) -> int:
    """The crawl-wide value of ``figure`` (a ``GLOBAL_STATS`` name); 0 when the crawl never counted it."""
    key = GLOBAL_STATS[figure]
    if key.endswith("/"):
        return sum_prefix(stats, key)
    return int(_number(stats.get(key)) or 0)


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
    first_fetch: str | None = None
    last_fetch: str | None = None
    text_lengths: list[int] = field(default_factory=list)
    titles: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # figure -> "stats" | "global" | "manifest"
    drift: list[DriftWarning] = field(default_factory=list)

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
        first, last = _time(self.first_fetch), _time(self.last_fetch)
        if first is None or last is None:
            return None
        return (last - first).total_seconds()

    def health(self, crawl_id: str, at: str) -> SiteHealth:
        """This run's extraction health, for ``archive.health``."""
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
            "first_fetch": self.first_fetch,
            "last_fetch": self.last_fetch,
            "duration_seconds": self.duration_seconds,
            "sources": dict(self.sources),
            "drift": [w.to_dict() for w in self.drift],
        }


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
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    # --- derived ------------------------------------------------------------------------------------------
    @property
    def started(self) -> datetime | None:
        return _time(self.stats.get("start_time"))

    @property
    def finished(self) -> datetime | None:
        return _time(self.stats.get("finish_time"))

    @property
    def duration_seconds(self) -> float | None:
        elapsed = _number(self.stats.get("elapsed_time_seconds"))
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
        return wacz_key(self.crawl_id)

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
        warc_dir = f"warc/{safe_segment(self.crawl_id)}"
        commands: list[str] = []
        if self.store_uri.startswith("s3://"):
            commands.append(f"aws s3 sync {self.store_location(warc_dir)}/ ./{warc_dir}/")
            warcs = f"./{warc_dir}/*.warc.gz"
        elif self.store_uri:
            warcs = f"{_local_path(self.store_uri).rstrip('/')}/{warc_dir}/*.warc.gz"
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
                number = _number(value)
                if key.startswith(prefix) and len(key) > len(prefix) and number:
                    rows.append((f"{label}: {key[len(prefix) :]}", int(number)))
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def text_histogram(self) -> list[tuple[str, int]]:
        """Stored articles per text length bin (all sites)."""
        counts = Counter(_bin(n) for s in self.sites for n in s.text_lengths)
        return [(label, counts.get(label, 0)) for label in _bin_labels()]

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
        }

    def summary_lines(self) -> list[str]:
        """A few lines for the crawl log."""
        t = self.totals
        lines = [
            f"Crawl {self.crawl_id} ({self.finish_reason or 'unfinished'}, {_duration(self.duration_seconds)}): "
            f"{t['found']} article pages found, {t['extracted']} extracted, {t['stored']} stored, "
            f"{t['failed']} failed fetches, {_bytes(t['bytes'])} WARC"
        ]
        for s in self.sites:
            lines.append(
                f"  {s.site}: found {_n(s.found)}, stored {s.stored}, relevant {_n(s.relevant)}, "
                f"rendered {_n(s.rendered)}, failed {_n(s.failed)}, empty {_pct(s.empty_rate)}, "
                f"no date {_pct(s.missing_date_rate)}, median {_n(s.median_text_chars)} chars"
            )
        lines.extend(w.message for w in self.warnings)
        return lines

    def to_markdown(self) -> str:
        """The report as Markdown (GitHub-flavoured tables)."""
        t = self.totals
        out = [
            f"# Crawl report: {self.crawl_id}",
            "",
            f"- Finished: {self.finished.isoformat() if self.finished else '—'} "
            f"({self.finish_reason or 'unknown'}); duration {_duration(self.duration_seconds)}",
            f"- Article pages found {t['found']}, extracted {t['extracted']}, relevant {t['relevant']}, "
            f"stored {t['stored']}, rendered pages {t['rendered']}, failed fetches {t['failed']}, "
            f"empty pages {t['empty']}, missing dates {t['missing_date']}",
            f"- WARC: {_bytes(t['bytes'])} in {int(_number(self.stats.get('warc/files')) or 0)} file(s); "
            f"upload backlog {int(_number(self.stats.get('storage/pending')) or 0)}",
            f"- WACZ: `{self.store_location(self.wacz_key)}`",
            f"- Manifest: `{self.store_location(self.manifest_key)}`",
            "",
        ]
        if self.warnings:
            out += ["## Warnings", ""]
            out += [f"- ⚠ {w.message}" for w in self.warnings]
            out.append("")
        out += [
            "## Sites",
            "",
            "| site | found | stored | relevant | rendered | failed | empty text | missing date "
            "| median chars | duration | bytes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in self.sites:
            out.append(
                f"| {s.site} | {_n(s.found)} | {s.stored} | {_n(s.relevant)} | {_n(s.rendered)} | "
                f"{_n(s.failed)} | {_pct(s.empty_rate)} | {_pct(s.missing_date_rate)} | "
                f"{_n(s.median_text_chars)} | {_duration(s.duration_seconds)} | {_bytes(s.bytes)} |"
            )
        failures = self.failures()
        if failures:
            out += ["", "## Failures", "", "| reason | count |", "|---|---:|"]
            out += [f"| {label} | {count} |" for label, count in failures]
        out += ["", "## Replay", "", "```sh", *self.replay_commands(), "```", ""]
        out.append(
            f"Then open http://localhost:8080/{self.collection}/<url>. The WACZ also opens in ReplayWeb.page."
        )
        out.append("")
        return "\n".join(out)

    def to_html(self) -> str:
        """One self-contained HTML page (inline CSS and SVG, no script, no external asset)."""
        return _render_html(self)


def build_report(
    crawl_id: str,
    stats: Mapping[str, Any],
    manifest: Iterable[Mapping[str, Any]],
    *,
    sites: Sequence[str] = (),
    history: Mapping[str, Sequence[SiteHealth]] | None = None,
    thresholds: DriftThresholds | None = None,
    store_uri: str = "",
    pywb_venv: str = DEFAULT_PYWB_VENV,
) -> CrawlReport:
    """Build the report; ``sites`` are the crawl's configured sites (so a site with nothing still shows)."""
    flat = jsonable_stats(stats)
    lines = [line for line in manifest if isinstance(line, Mapping)]
    by_site: dict[str, list[Mapping[str, Any]]] = {}
    for line in lines:
        by_site.setdefault(str(line.get("site") or "?"), []).append(line)
    names = sorted(set(sites) | set(by_site) | sites_in_stats(flat))
    single = len(names) == 1
    reports = [_site_report(name, flat, by_site.get(name, []), single) for name in names]
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
        totals["stored"] = len(lines)
    return CrawlReport(
        crawl_id=crawl_id,
        stats=flat,
        sites=reports,
        totals=totals,
        warnings=warnings,
        health=healths,
        store_uri=store_uri,
        pywb_venv=pywb_venv,
    )


def _site_report(
    site: str, stats: Mapping[str, Any], lines: list[Mapping[str, Any]], single: bool
) -> SiteReport:
    report = SiteReport(site)
    manifest_figures: dict[str, int] = {
        "stored": len(lines),
        "relevant": sum(1 for line in lines if _relevant(line)),
        "rendered": sum(1 for line in lines if line.get("rendered")),
        "missing_date": sum(1 for line in lines if not line.get("published")),
        "bytes": sum(int(_number((line.get("warc") or {}).get("length")) or 0) for line in lines),
    }
    values: dict[str, int | None] = {}
    for figure, template in SITE_STATS.items():
        key = template.format(site=site)
        prefix = template.removesuffix("{site}")
        value = _number(stats.get(key))
        total = global_value(stats, figure)
        if value is not None or any(k.startswith(prefix) for k in stats):
            # A family counted per site: a site without its key had none of it.
            values[figure], report.sources[figure] = int(value or 0), "stats"
        elif single and total:
            values[figure], report.sources[figure] = total, "global"
        elif figure in manifest_figures and lines:
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
    report.text_lengths = [_text_chars(line) for line in lines]
    fetched = sorted(str(line["fetched_at"]) for line in lines if line.get("fetched_at"))
    if fetched:
        report.first_fetch, report.last_fetch = fetched[0], fetched[-1]
    report.titles = [
        {
            "title": str(line.get("title") or ""),
            "url": str(line.get("url") or ""),
            "published": line.get("published"),
            "text_chars": _text_chars(line),
        }
        for line in lines[:MAX_TITLES_PER_SITE]
    ]
    return report


def _relevant(line: Mapping[str, Any]) -> bool:
    relevance = line.get("relevance")
    return bool(relevance.get("relevant")) if isinstance(relevance, Mapping) else False


def _text_chars(line: Mapping[str, Any]) -> int:
    value = _number(line.get("text_chars"))
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


# --- formatting ---------------------------------------------------------------------------------------------


def _mark(site: SiteReport, figure: str) -> str:
    return "*" if site.sources.get(figure) == "manifest" else ""


def _n(value: int | None) -> str:
    return "—" if value is None else str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _bytes(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _local_path(uri: str) -> str:
    return uri.removeprefix("file://")


def _bin_labels() -> list[str]:
    labels = [f"{lo}–{hi}" for lo, hi in itertools.pairwise(TEXT_BINS)]
    return [*labels, f"{TEXT_BINS[-1]}+"]


def _bin(chars: int) -> str:
    labels = _bin_labels()
    for index, upper in enumerate(TEXT_BINS[1:]):
        if chars < upper:
            return labels[index]
    return labels[-1]


# --- HTML -----------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Naskh Arabic",Tahoma,sans-serif;
margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.6rem;margin-bottom:.3rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{padding:.3rem .5rem;border-bottom:1px solid #eee}
th{text-align:start;background:#f4f6fa}td.num{text-align:end;font-variant-numeric:tabular-nums}
.warn{background:#fff4e0;border:1px solid #f0b050;padding:.6rem 1rem;border-radius:4px}
.warn li{margin:.2rem 0}.drift td{background:#fff4e0}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}.chart{flex:1 1 320px;max-width:540px;margin:0}
.chart svg{width:100%;max-width:520px;height:auto;display:block}
table.totals{width:auto;min-width:24rem}sup{color:#667}
code,pre{background:#f4f6fa;border-radius:3px}pre{padding:.6rem;overflow-x:auto}
.muted{color:#667}[dir=rtl],[dir=auto]{unicode-bidi:plaintext}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _hbar_svg(title: str, rows: Sequence[tuple[str, float, float | None]], *, color: str, back: str) -> str:
    """Horizontal bars: (label, value, optional background value drawn lighter behind it)."""
    width, label_w, bar_h, gap, top = 520, 150, 18, 6, 28
    height = top + max(1, len(rows)) * (bar_h + gap) + 8
    biggest = max([1.0, *(max(v, b or 0) for _, v, b in rows)])
    span = width - label_w - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(title)}">',
        f'<text x="0" y="16" font-size="14" font-weight="600" fill="#1d2330">{_e(title)}</text>',
    ]
    if not rows:
        parts.append(f'<text x="0" y="{top + 14}" font-size="12" fill="#667">none</text>')
    for index, (label, value, background) in enumerate(rows):
        y = top + index * (bar_h + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" font-size="12" text-anchor="end" fill="#1d2330">'
            f"{_e(label[:24])}</text>"
        )
        if background:
            w = max(1.0, span * background / biggest)
            parts.append(
                f'<rect class="bar-back" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{back}">'
                f"<title>{_e(label)}: {background:g}</title></rect>"
            )
        w = max(1.0, span * value / biggest) if value else 0.0
        if w:
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}">'
                f"<title>{_e(label)}: {value:g}</title></rect>"
            )
        shown = f"{value:g}" + (f" / {background:g}" if background else "")
        parts.append(
            f'<text x="{label_w + max(w, span * (background or 0) / biggest) + 4:.1f}" y="{y + 13}" '
            f'font-size="11" fill="#445">{_e(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _vbar_svg(title: str, rows: Sequence[tuple[str, int]], *, color: str) -> str:
    width, height, top, bottom, left = 520, 240, 44, 36, 36
    plot_h = height - top - bottom
    slot = (width - left) / max(1, len(rows))
    biggest = max([1, *(v for _, v in rows)])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(title)}">',
        f'<text x="0" y="16" font-size="14" font-weight="600" fill="#1d2330">{_e(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#99a"/>',
    ]
    for index, (label, value) in enumerate(rows):
        x = left + index * slot + slot * 0.15
        h = plot_h * value / biggest
        if value:
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{max(h, 1.0):.1f}" fill="{color}"><title>{_e(label)} chars: {value}</title></rect>'
            )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{top + plot_h - h - 4:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#445">{value}</text>'
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" font-size="10" '
            f'text-anchor="middle" fill="#445">{_e(label)}</text>'
        )
    parts.append(
        f'<text x="{left + (width - left) / 2:.0f}" y="{height - 4}" font-size="11" text-anchor="middle" '
        f'fill="#667">text length (characters)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _render_html(report: CrawlReport) -> str:
    t = report.totals
    title = f"Crawl report: {report.crawl_id}"
    body: list[str] = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">Finished {_e(report.finished.isoformat() if report.finished else "—")} '
        f"({_e(report.finish_reason or 'unknown')}) · duration {_e(_duration(report.duration_seconds))} · "
        f"generated {_e(report.generated_at)}</p>",
    ]
    if report.warnings:
        body.append('<div class="warn" id="warnings"><strong>Warnings</strong><ul>')
        body += [f"<li>⚠ {_e(w.message)}</li>" for w in report.warnings]
        body.append("</ul></div>")
    body.append('<h2>Totals</h2><table class="totals"><tbody>')
    rows = [
        ("Article pages found", t["found"]),
        ("Articles extracted", t["extracted"]),
        ("Relevant", t["relevant"]),
        ("Stored", t["stored"]),
        ("Rendered pages", t["rendered"]),
        ("Failed fetches", t["failed"]),
        ("Pages without article text", t["empty"]),
        ("Articles without a date", t["missing_date"]),
        ("WARC bytes", _bytes(t["bytes"])),
        ("Upload backlog (objects)", int(_number(report.stats.get("storage/pending")) or 0)),
    ]
    body += [f'<tr><th scope="row">{_e(k)}</th><td class="num">{_e(v)}</td></tr>' for k, v in rows]
    body.append("</tbody></table>")

    site_rows = [(s.site, float(s.stored), float(s.found) if s.found else None) for s in report.sites]
    body.append('<h2>Charts</h2><div class="charts">')
    body.append(
        '<figure class="chart" id="chart-articles">'
        + _hbar_svg("Articles per site (stored / found)", site_rows, color="#2f6fb0", back="#c9dcf0")
        + "</figure>"
    )
    body.append(
        '<figure class="chart" id="chart-text">'
        + _vbar_svg("Text length of stored articles", report.text_histogram(), color="#3a9a6a")
        + "</figure>"
    )
    failure_rows = [(label, float(count), None) for label, count in report.failures()[:15]]
    body.append(
        '<figure class="chart" id="chart-failures">'
        + _hbar_svg("Failures", failure_rows, color="#c0503a", back="#f0d0c8")
        + "</figure>"
    )
    body.append("</div>")

    body.append("<h2>Sites</h2><table><thead><tr>")
    headers = (
        "site",
        "found",
        "stored",
        "relevant",
        "rendered",
        "failed",
        "empty text",
        "missing date",
        "median chars",
        "duration",
        "bytes",
    )
    body += [f'<th scope="col">{h}</th>' for h in headers]
    body.append("</tr></thead><tbody>")
    for s in report.sites:
        cls = ' class="drift"' if s.drift else ""
        cells = [
            _n(s.found),
            str(s.stored) + _mark(s, "stored"),
            _n(s.relevant) + _mark(s, "relevant"),
            _n(s.rendered) + _mark(s, "rendered"),
            _n(s.failed),
            _pct(s.empty_rate),
            _pct(s.missing_date_rate),
            _n(s.median_text_chars),
            _duration(s.duration_seconds),
            _bytes(s.bytes),
        ]
        body.append(f'<tr{cls} data-site="{_e(s.site)}"><th scope="row">{_e(s.site)}</th>')
        body += [f'<td class="num">{_e(c)}</td>' for c in cells]
        body.append("</tr>")
    body.append("</tbody></table>")
    body.append(
        '<p class="muted">— : not counted per site in this crawl. * : counted from the manifest '
        "(stored articles only), the crawl has no per-site stat for it.</p>"
    )

    body.append("<h2>Articles</h2>")
    for s in report.sites:
        if not s.titles:
            continue
        more = f" (first {len(s.titles)})" if s.stored > len(s.titles) else ""
        body.append(f"<details><summary>{_e(s.site)}: {s.stored} stored{more}</summary><table><tbody>")
        for item in s.titles:
            body.append(
                f'<tr><td dir="auto" lang="ar"><a href="{_e(item["url"])}">{_e(item["title"] or item["url"])}'
                f'</a></td><td class="num">{_e(item["published"] or "—")}</td>'
                f'<td class="num">{item["text_chars"]}</td></tr>'
            )
        body.append("</tbody></table></details>")

    wacz = report.store_location(report.wacz_key)
    body.append("<h2>Archive and replay</h2><ul>")
    body.append(
        f'<li>WACZ: <a href="../../{_e(report.wacz_key)}"><code>{_e(wacz)}</code></a> '
        "(opens in ReplayWeb.page)</li>"
    )
    body.append(
        f'<li>Manifest: <a href="../../{_e(report.manifest_key)}">'
        f"<code>{_e(report.store_location(report.manifest_key))}</code></a></li>"
    )
    body.append("</ul><p>Replay the WARC files in pywb:</p>")
    body.append("<pre><code>" + _e("\n".join(report.replay_commands())) + "</code></pre>")
    body.append(f"<p>Then open <code>http://localhost:8080/{_e(report.collection)}/&lt;url&gt;</code>.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )


def health_by_site(healths: Iterable[SiteHealth]) -> dict[str, list[SiteHealth]]:
    """Group runs by site, in the order given."""
    grouped: dict[str, list[SiteHealth]] = {}
    for run in healths:
        grouped.setdefault(run.site, []).append(run)
    return grouped
