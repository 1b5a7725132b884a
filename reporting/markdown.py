"""The crawl report as Markdown (GitHub-flavoured tables)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reporting import stats_keys as keys
from reporting.formatting import format_bytes, format_count, format_duration, format_percent, number

if TYPE_CHECKING:
    from reporting.model import CrawlReport


def render_markdown(report: CrawlReport) -> str:
    """The report as Markdown (GitHub-flavoured tables)."""
    t = report.totals
    out = [
        f"# Crawl report: {report.crawl_id}",
        "",
        f"- Finished: {report.finished.isoformat() if report.finished else '—'} "
        f"({report.finish_reason or 'unknown'}); duration {format_duration(report.duration_seconds)}",
        f"- Article pages found {t['found']}, extracted {t['extracted']}, relevant {t['relevant']}, "
        f"not relevant {int(number(report.stats.get(keys.NOT_RELEVANT)) or 0)}, "
        f"stored {t['stored']}, rendered pages {t['rendered']}, failed fetches {t['failed']}, "
        f"empty pages {t['empty']}, missing dates {t['missing_date']}",
        f"- WARC: {format_bytes(t['bytes'])} in {int(number(report.stats.get('warc/files')) or 0)} file(s); "
        f"upload backlog at the end {report.backlog_text()}",
        f"- WACZ: `{report.store_location(report.wacz_key)}` "
        f"({int(number(report.stats.get('wacz/packages')) or 0)} package(s), one per WARC file)",
        f"- Manifest: `{report.store_location(report.manifest_key)}`",
        "",
    ]
    if report.warnings:
        out += ["## Warnings", ""]
        out += [f"- ⚠ {w.message}" for w in report.warnings]
        out.append("")
    out += [
        "## Sites",
        "",
        "| site | found | stored | relevant | rendered | failed | empty text | missing date "
        "| median chars | duration | bytes | backlog left | requisites fetched | requisites uncaptured |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report.sites:
        out.append(
            f"| {s.site} | {format_count(s.found)} | {s.stored} | {format_count(s.relevant)} | {format_count(s.rendered)} | "
            f"{format_count(s.failed)} | {format_percent(s.empty_rate)} | {format_percent(s.missing_date_rate)} | "
            f"{format_count(s.median_text_chars)} | {format_duration(s.duration_seconds)} | {format_bytes(s.bytes)} | "
            f"{format_count(s.backlog)} | {s.requisites_fetched} | {s.requisites_uncaptured} |"
        )
    failures = report.failures()
    if failures:
        out += ["", "## Failures", "", "| reason | count |", "|---|---:|"]
        out += [f"| {label} | {count} |" for label, count in failures]
    if report.files:
        out += ["", "## Files", "", "| object | bytes | SHA-256 |", "|---|---:|---|"]
        out += [f"| `{f.key}` | {f.size} | `{f.sha256}` |" for f in report.files]
    out += ["", "## Replay", "", "```sh", *report.replay_commands(), "```", ""]
    out.append(
        f"Then open http://localhost:8080/{report.collection}/<url>. The WACZ also opens in ReplayWeb.page."
    )
    out.append("")
    return "\n".join(out)
