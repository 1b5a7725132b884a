"""The crawl report as one self-contained HTML page: inline CSS and SVG charts, no script, no external asset.

Arabic titles sit in ``dir="auto"`` cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reporting.charts import _e, _hbar_svg, _vbar_svg
from reporting.formatting import format_bytes, format_count, format_duration, format_percent

if TYPE_CHECKING:
    from reporting.model import CrawlReport, SiteReport

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


def _mark(site: SiteReport, figure: str) -> str:
    return "*" if site.sources.get(figure) == "manifest" else ""


def render_html(report: CrawlReport) -> str:
    t = report.totals
    title = f"Crawl report: {report.crawl_id}"
    body: list[str] = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">Finished {_e(report.finished.isoformat() if report.finished else "—")} '
        f"({_e(report.finish_reason or 'unknown')}) · duration {_e(format_duration(report.duration_seconds))} · "
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
        ("WARC bytes", format_bytes(t["bytes"])),
        ("Upload backlog at the end", report.backlog_text()),
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
        "requisites fetched",
        "requisites uncaptured",
    )
    body += [f'<th scope="col">{h}</th>' for h in headers]
    body.append("</tr></thead><tbody>")
    for s in report.sites:
        cls = ' class="drift"' if s.drift else ""
        cells = [
            format_count(s.found),
            str(s.stored) + _mark(s, "stored"),
            format_count(s.relevant) + _mark(s, "relevant"),
            format_count(s.rendered) + _mark(s, "rendered"),
            format_count(s.failed),
            format_percent(s.empty_rate),
            format_percent(s.missing_date_rate),
            format_count(s.median_text_chars),
            format_duration(s.duration_seconds),
            format_bytes(s.bytes),
            str(s.requisites_fetched),
            str(s.requisites_uncaptured),
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
    body.append("</ul>")
    if report.files:
        body.append('<h2>Files</h2><table class="files"><thead><tr><th scope="col">object</th>')
        body.append('<th scope="col">bytes</th><th scope="col">SHA-256</th></tr></thead><tbody>')
        body += [
            f'<tr><td><code>{_e(f.key)}</code></td><td class="num">{f.size}</td><td><code>{_e(f.sha256)}</code></td></tr>'
            for f in report.files
        ]
        body.append("</tbody></table>")
    body.append("<p>Replay the WARC files in pywb:</p>")
    body.append("<pre><code>" + _e("\n".join(report.replay_commands())) + "</code></pre>")
    body.append(f"<p>Then open <code>http://localhost:8080/{_e(report.collection)}/&lt;url&gt;</code>.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )
