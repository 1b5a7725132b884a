"""End to end: ``scrapy crawl libya`` against the offline newsroom, checked against its gold.

One crawl of all five sites (module fixture) answers most questions; the ``since`` and discovery-form
tests run their own smaller crawls.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from warcio.archiveiterator import ArchiveIterator

from crawler.urls import canonicalize_url
from tests.crawling import CrawlRun, run_crawl

BROWSER_HEADER = "sec-fetch-mode"  # Chromium sends it; Scrapy does not


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _f1(got: str, want: str) -> float:
    a, b = Counter(_tokens(got)), Counter(_tokens(want))
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


@pytest.fixture(scope="module")
def crawl(newsroom_crawl: CrawlRun) -> CrawlRun:
    return newsroom_crawl


def _gold(newsroom: Any) -> list[Any]:
    # Only the corpus: other tests may publish articles into the shared newsroom later.
    return [a for a in newsroom.articles if not a.id.startswith("pub-")]


def _stored(crawl: CrawlRun) -> dict[str, dict[str, Any]]:
    return {line["canonical_url"]: line for line in crawl.manifest()}


def test_crawl_finishes_cleanly(crawl: CrawlRun) -> None:
    assert crawl.returncode == 0, crawl.log[-3000:]
    assert crawl.stats["finish_reason"] == "finished"
    assert "Traceback" not in crawl.log


def test_every_relevant_article_is_stored_once_with_its_text(crawl: CrawlRun, newsroom: Any) -> None:
    stored = _stored(crawl)
    lines = crawl.manifest()
    assert len(lines) == len(stored), "an article appears twice in the manifest"
    missing, weak, wrong = [], [], []
    for gold in _gold(newsroom):
        if not gold.relevant:
            continue
        line = stored.get(canonicalize_url(gold.canonical_url))
        if line is None:
            missing.append(gold.id)
            continue
        text = (crawl.archive / line["text_key"]).read_text(encoding="utf-8")
        if _f1(text, gold.text) < 0.97:
            weak.append((gold.id, round(_f1(text, gold.text), 3)))
        record = json.loads((crawl.archive / line["json_key"]).read_text(encoding="utf-8"))
        for name, got, want in (
            ("site", record["site"], gold.site),
            ("title", record["title"], gold.title),
            ("date", (record["published"] or "")[:10], gold.published[:10]),
            ("language", record["language"], "ar"),
            ("relevant", record["relevance"]["relevant"], True),
        ):
            if got != want:
                wrong.append((gold.id, name, got, want))
        assert record["warc"]["filename"].endswith(".warc.gz")
    assert not missing, f"relevant articles not stored: {missing}"
    assert not weak, f"stored text far from gold: {weak}"
    assert not wrong, f"metadata differs from gold: {wrong}"


def test_irrelevant_articles_make_no_text_record(crawl: CrawlRun, newsroom: Any) -> None:
    stored = _stored(crawl)
    leaked = [a.id for a in _gold(newsroom) if not a.relevant and canonicalize_url(a.canonical_url) in stored]
    assert not leaked
    assert crawl.stat("relevance/irrelevant") >= len([a for a in _gold(newsroom) if not a.relevant])


def test_one_text_and_one_metadata_file_per_article(crawl: CrawlRun) -> None:
    texts = sorted((crawl.archive / "text").rglob("*.txt"))
    records = sorted((crawl.archive / "text").rglob("*.json"))
    assert len(texts) == len(records) == len(crawl.manifest())
    assert {p.with_suffix("") for p in texts} == {p.with_suffix("") for p in records}


def test_stored_records_say_how_the_clean_up_went(crawl: CrawlRun) -> None:
    # The extraction's safety net is part of what a researcher reads: "full", or "fallback" with the reason.
    for line in crawl.manifest():
        record = json.loads((crawl.archive / line["json_key"]).read_text(encoding="utf-8"))
        assert record["cleanup"] == line["cleanup"], line["url"]
        assert record["cleanup"] in {"full", "fallback"}, line["url"]
        assert (record["cleanup"] == "fallback") == bool(record["cleanup_note"]), line["url"]


def test_fetched_at_is_the_warc_date_of_the_text_record(crawl: CrawlRun) -> None:
    rendered = 0
    for line in crawl.manifest():
        warc = line["warc"]
        assert line["fetched_at"] == warc["warc_date"], line["url"]
        with (crawl.archive / "warc" / crawl.crawl_id / warc["filename"]).open("rb") as fh:
            fh.seek(warc["offset"])
            record = next(iter(ArchiveIterator(fh)))
        assert record.rec_headers.get_header("WARC-Date") == line["fetched_at"]
        # A rendered page's text comes from the rendered DOM: the conversion record, not the response.
        assert record.rec_type == ("conversion" if line["rendered"] else "response"), line["url"]
        rendered += bool(line["rendered"])
    assert rendered, "the newsroom's gated site gives rendered articles"


def test_no_url_fetched_twice(crawl: CrawlRun) -> None:
    counts = Counter(
        (r.site, r.path) for r in crawl.requests if BROWSER_HEADER not in {k.lower() for k in r.headers}
    )
    twice = {key: n for key, n in counts.items() if n > 1}
    # The gated site answers a plain fetch with the challenge; the browser then loads the same URL: that
    # is one plain fetch and one browser fetch, counted apart above.
    assert not twice, twice


def test_only_the_gated_site_is_rendered(crawl: CrawlRun, newsroom: Any) -> None:
    browser_sites = {r.site for r in crawl.requests if BROWSER_HEADER in {k.lower() for k in r.headers}}
    assert browser_sites == {"gated"}
    gated = [a for a in _gold(newsroom) if a.gated]
    assert crawl.stat("render/pages") >= len(gated)
    assert not any(k.startswith("render/failed") for k in crawl.stats), crawl.stats


def test_seckit_page_not_rendered_and_has_no_notice(crawl: CrawlRun) -> None:
    for line in crawl.manifest():
        if line["site"] != "drupal":
            continue
        assert line["rendered"] is False
        text = (crawl.archive / line["text_key"]).read_text(encoding="utf-8")
        assert "enable JavaScript" not in text


def _disallowed(base_url: str) -> list[str]:
    with urllib.request.urlopen(base_url + "robots.txt") as response:
        robots = response.read().decode("utf-8")
    return [
        line.split(":", 1)[1].strip() for line in robots.splitlines() if line.lower().startswith("disallow:")
    ]


def test_robots_disallow_respected(crawl: CrawlRun, newsroom: Any) -> None:
    for name, site in newsroom.sites.items():
        disallowed = [prefix for prefix in _disallowed(site.base_url) if prefix]
        assert disallowed, f"{name} robots.txt has no Disallow line"
        hits = [
            r.path
            for r in crawl.requests
            if r.site == name and any(r.path.startswith(prefix) for prefix in disallowed)
        ]
        assert not hits, f"{name}: fetched {hits} despite robots.txt"


def test_robots_disallow_refuses_a_configured_url(newsroom: Any, tmp_path: Path) -> None:
    legacy = newsroom.sites["legacy"]
    assert "/print.php" in _disallowed(legacy.base_url)
    forbidden = legacy.base_url + "print.php?id=1002"
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump(
            {
                "sites": [
                    {"name": "legacy", "home": legacy.base_url, "sections": [forbidden], "render": "never"}
                ]
            }
        ),
        encoding="utf-8",
    )
    newsroom.reset_requests()
    result = run_crawl(
        sources, tmp_path / "run", crawl_id="robots", settings={"CRAWL_MAX_LISTING_PAGES": "0"}
    )
    assert result.returncode == 0
    assert result.stat("robotstxt/forbidden") >= 1
    assert not [r for r in newsroom.requests if r.path.startswith("/print.php")]


def test_offsite_mailto_javascript_and_dead_links(crawl: CrawlRun) -> None:
    assert crawl.stat("discovery/skipped/offsite") > 0
    assert crawl.stat("discovery/skipped/scheme") > 0
    assert crawl.stat("crawl/failed/http_404") >= 1
    # Off-site links point to other newsroom ports: none of them was requested as part of another site.
    assert crawl.stat("scope/dropped/offsite") == 0


def test_every_discovery_form_found_its_own_articles(crawl: CrawlRun, newsroom: Any) -> None:
    stored = _stored(crawl)
    forms: Counter[str] = Counter()
    for gold in _gold(newsroom):
        if gold.site != "wahaa" or len(gold.discovery) != 1:
            continue
        forms[gold.discovery[0]] += 1
        fetched = any(
            r.site == "wahaa"
            and canonicalize_url("http://x" + r.path).endswith(canonicalize_url(gold.url).split("/", 3)[3])
            for r in crawl.requests
        )
        assert fetched, f"{gold.id}, listed only in {gold.discovery[0]}, was not fetched"
        if gold.relevant:
            assert canonicalize_url(gold.canonical_url) in stored
    assert {"sitemap_gz", "news_sitemap", "feed", "section"} <= set(forms), forms


def test_windows_1256_page_decoded(crawl: CrawlRun, newsroom: Any) -> None:
    stored = _stored(crawl)
    legacy = [a for a in _gold(newsroom) if a.site == "legacy" and a.relevant]
    assert legacy
    for gold in legacy:
        line = stored[canonicalize_url(gold.canonical_url)]
        record = json.loads((crawl.archive / line["json_key"]).read_text(encoding="utf-8"))
        assert record["encoding"] in ("windows-1256", "cp1256")
        text = (crawl.archive / line["text_key"]).read_text(encoding="utf-8")
        assert gold.paragraphs[0] in text


def test_since_limits_news_sitemap(newsroom: Any, tmp_path: Path) -> None:
    wahaa = newsroom.sites["wahaa"]
    news_only = [a for a in _gold(newsroom) if a.site == "wahaa" and a.discovery == ("news_sitemap",)]
    assert len(news_only) >= 2
    dates = sorted(a.published[:10] for a in news_only)
    since = dates[-1]  # the newest news-sitemap-only article is kept, older ones are not fetched
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump(
            {
                "sites": [
                    {
                        "name": "wahaa",
                        "home": wahaa.base_url,
                        "allowed_domains": [f"127.0.0.1:{wahaa.port}"],
                        "article_pattern": r"^/\d{4}/\d{2}/\d{2}/[^/]+/$",
                        "render": "never",
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    newsroom.reset_requests()
    result = run_crawl(sources, tmp_path / "run", crawl_id="since", spider_args={"since": since})
    assert result.returncode == 0
    paths = {r.path for r in newsroom.requests if r.site == "wahaa"}
    for gold in news_only:
        path = "/" + canonicalize_url(gold.url).split("/", 3)[3]
        fetched = any(canonicalize_url("http://x" + p).endswith(path) for p in paths)
        assert fetched == (gold.published[:10] >= since), (gold.id, gold.published, since)
    assert result.stat("discovery/skipped/before_since") > 0


def test_bad_sources_file_stops_before_any_request(newsroom: Any, tmp_path: Path) -> None:
    wahaa = newsroom.sites["wahaa"]
    sources = tmp_path / "bad.yaml"
    sources.write_text(
        f"sites:\n  - name: wahaa\n    home: {wahaa.base_url}\n  - name: broken\n    homepage: {wahaa.base_url}\n",
        encoding="utf-8",
    )
    newsroom.reset_requests()
    result = run_crawl(sources, tmp_path / "run", crawl_id="bad")
    assert result.returncode == 2
    assert f"sources file {sources}: entry 2 (broken): unknown key(s) ['homepage']" in result.log
    assert not newsroom.requests
