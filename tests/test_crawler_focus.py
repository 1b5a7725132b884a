"""Focused crawling (``crawler.focus``) on the generated pan-Arab site (``newsroom.panarab``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from crawler.config import ConfigError
from crawler.focus import Candidates, FocusConfig, FocusScorer, page_range, recency, slug_text
from crawler.focus.learn import HarvestRates, pattern_of
from newsroom.bigsite import MAX_PAGE_BYTES, MIN_PAGE_BYTES
from newsroom.panarab import LIBYA_SECTION, PanArabSite
from relevance import Topic, default_topic_path
from tests.crawling import CrawlRun, run_crawl
from tests.panarab_server import serve_panarab

ARTICLES = 1200


def _scorer(mode: str = "prioritise") -> FocusScorer:
    return FocusScorer(Topic.load(default_topic_path()), FocusConfig(mode, 0, 5.0))


# ---- the generated site ------------------------------------------------------------------------------
def test_panarab_site_lists_every_libya_article_before_it_is_fetched() -> None:
    site = PanArabSite("big01", 0, 20000, base_url="http://127.0.0.1:9/")
    libya = site.libya_numbers()
    assert 0.02 * site.articles < len(libya) < 0.06 * site.articles
    assert set(libya) <= site.libya_listed()
    quiet = [n for n in libya if site.is_quiet(n)]
    assert 0.15 * len(libya) < len(quiet) <= len(libya) / 3
    topic = Topic.load(default_topic_path())
    for number in quiet[:50]:
        # neither the headline nor the slug names Libya; the text does
        assert topic.score(site.headline(number), slug_text(site.article_url(number))).score == 0
        art = site.article(number)
        assert topic.score(art.title, art.text).relevant
    assert len(site.months()) >= 24
    month = site.month_sitemap(site.months()[3]) or b""
    assert b"<loc>" in month and b"news:title" not in month
    news = site.news_sitemap().decode()
    assert news.count("<news:title>") == len(site.news_numbers()) > 20
    status, _, body, _ = site.respond("/", "")
    assert status == 200 and b'type="application/rss+xml"' in body and b'href="/category/libya/"' in body
    assert site.respond("/feed/", "")[2].count(b"<item>") == 30
    sizes = [len(site.render_article(n)) for n in range(1, 400, 20)]
    assert min(sizes) >= MIN_PAGE_BYTES * 0.9 and max(sizes) <= MAX_PAGE_BYTES * 1.1


def test_libya_section_paginates_newest_first_to_its_end() -> None:
    site = PanArabSite("big01", 0, 3000, base_url="http://127.0.0.1:9/")
    pages = site.listing_pages("category", LIBYA_SECTION)
    assert pages > 3
    first = site.respond("/category/libya/", "")[2].decode()
    assert f'href="/category/libya/page/{pages}/"' in first and "التالي" in first
    last = site.respond(f"/category/libya/page/{pages}/", "")[2].decode()
    assert "التالي" not in last
    assert site.respond(f"/category/libya/page/{pages + 1}/", "")[0] == 404


# ---- scoring -----------------------------------------------------------------------------------------
def test_candidate_scores_use_the_topic_on_hints_and_decoded_slugs() -> None:
    scorer = _scorer()
    libya_slug = "http://s/2024/05/01/%D9%84%D9%8A%D8%A8%D9%8A%D8%A7-%D8%A7%D9%84%D9%8A%D9%88%D9%85-12/"
    assert slug_text(libya_slug) == "ليبيا اليوم"
    assert scorer.score(libya_slug) > 0
    assert scorer.score("http://s/2024/05/01/football-results-12/") == 0
    assert scorer.score("http://s/a/1", "مجلس النواب الليبي يعقد جلسة في بنغازي") > scorer.score(
        "http://s/a/1", "بنغازي"
    )
    # an ambiguous name alone (Tripoli, Lebanon) is no evidence; the Libya section is
    assert scorer.score("http://s/a/1", "طرابلس") == 0
    assert scorer.score("http://s/a/1", in_section=True) >= 5.0
    now = datetime(2024, 5, 2, tzinfo=UTC)
    assert recency("2024-05-01T10:00:00+00:00", now) > recency("2023-06-01T10:00:00+00:00", now) > 0
    assert recency("2020-01-01", now) == 0 and recency(None, now) == 0
    assert scorer.is_topic_section("http://s/where/libya/", "", in_navigation=False)
    assert scorer.is_topic_section(
        "http://s/tag/%D8%B7%D8%B1%D8%A7%D8%A8%D9%84%D8%B3-%D9%84%D9%8A%D8%A8%D9%8A%D8%A7/",
        "",
        in_navigation=False,
    )
    assert scorer.is_topic_section("http://s/x/y/", "ليبيا", in_navigation=True)
    assert not scorer.is_topic_section("http://s/x/y/", "ليبيا", in_navigation=False)
    assert not scorer.is_topic_section("http://s/category/sport/", "رياضة", in_navigation=True)
    assert not _scorer("only").wanted(0.0) and _scorer("only").wanted(5.0) and scorer.wanted(0.0)


def test_page_range_and_candidates() -> None:
    links = [
        "http://s/category/libya/page/2/",
        "http://s/category/libya/page/3/",
        "http://s/category/libya/page/9/",
    ]
    assert page_range(links) == [f"http://s/category/libya/page/{n}/" for n in range(2, 10)]
    assert page_range(["http://s/c?page=4", "http://s/c?page=2"]) == [
        f"http://s/c?page={n}" for n in (2, 3, 4)
    ]
    assert page_range(["http://s/a/page/3/", "http://s/b/page/5/"]) == []
    candidates = Candidates()
    assert candidates.offer("u", 0.0) == "new"
    assert candidates.offer("u", 0.0) is None
    assert candidates.offer("u", 12.0) == "better"
    assert not candidates.take("u", 0.0)  # the older, worse request is dropped
    assert candidates.take("u", 12.0)
    assert candidates.offer("u", 30.0) is None  # fetched already
    assert candidates.take("v", 1.0)  # not tracked


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"CRAWL_FOCUS": "everything"}, ["CRAWL_FOCUS"]),
        ({"CRAWL_SITE_BUDGET": "-3"}, ["CRAWL_SITE_BUDGET"]),
        (
            {"CRAWL_FOCUS_MIN_SCORE": "lots", "CRAWL_SITE_BUDGET": "1.5"},
            ["CRAWL_FOCUS_MIN_SCORE", "CRAWL_SITE_BUDGET"],
        ),
    ],
    ids=["mode", "negative-budget", "two-at-once"],
)
def test_bad_focus_settings_name_the_setting(settings: dict[str, str], names: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        FocusConfig.from_settings(Settings(settings))
    for name in names:
        assert name in str(info.value)
    assert FocusConfig.from_settings(Settings({})) == FocusConfig("prioritise", 0, 5.0)


# ---- crawls ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def panarab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, PanArabSite]]:
    with serve_panarab(ARTICLES, tmp_path_factory.mktemp("panarab")) as served:
        yield served


def _stored(run: CrawlRun) -> list[str]:
    return [line["url"] for line in run.manifest() if (line.get("relevance") or {}).get("relevant")]


def _crawl(
    panarab: tuple[Path, PanArabSite], tmp_path: Path, name: str, crawl_id: str = "", **settings: Any
) -> CrawlRun:
    sources, _ = panarab
    run = run_crawl(
        sources, tmp_path / name, crawl_id=crawl_id or name, settings={k: str(v) for k, v in settings.items()}
    )
    assert run.returncode == 0, run.log[-3000:]
    return run


def test_a_tenth_of_the_pages_finds_the_libya_coverage_first(
    panarab: tuple[Path, PanArabSite], tmp_path: Path
) -> None:
    _, site = panarab
    gold = {site.article_url(n) for n in site.libya_numbers()}
    budget = site.page_count() // 10
    focused = _crawl(panarab, tmp_path, "focused", CLOSESPIDER_PAGECOUNT=budget)
    plain = _crawl(panarab, tmp_path, "plain", CLOSESPIDER_PAGECOUNT=budget, CRAWL_FOCUS="off")
    found = set(_stored(focused)) & gold
    assert len(found) >= 0.95 * len(gold), (len(found), len(gold))
    assert len(set(_stored(plain)) & gold) < 0.5 * len(gold)
    # the Libya section came from the menu (the sources file lists no sections), walked to its end
    assert focused.stat("focus/sections_found") >= 1
    assert focused.stat("discovery/requests/section") >= site.listing_pages("category", LIBYA_SECTION)
    quiet = {site.article_url(n) for n in site.libya_numbers() if site.is_quiet(n)}
    assert len(quiet & found) >= 0.9 * len(quiet)
    # INFO logs no line per irrelevant article; they are counted
    assert "Dropped: not relevant" not in focused.log
    assert focused.stat("relevance/irrelevant") > 0


def test_only_mode_and_the_site_budget(panarab: tuple[Path, PanArabSite], tmp_path: Path) -> None:
    _, site = panarab
    gold = {site.article_url(n) for n in site.libya_numbers()}
    only = _crawl(panarab, tmp_path, "only", CRAWL_FOCUS="only")
    assert set(_stored(only)) == gold
    fetched = only.stat("downloader/response_count") - only.stat("discovery/requests/section")
    assert fetched < len(gold) + 60  # articles of the topic, sitemaps, feed, home, robots.txt: no others
    assert only.stat("focus/skipped_low_score") > 0.9 * (site.articles - len(gold))
    budgeted = _crawl(panarab, tmp_path, "budget", CRAWL_SITE_BUDGET=25)
    stored = _stored(budgeted)
    assert budgeted.stat("relevance/relevant") + budgeted.stat("relevance/irrelevant") == 25
    # the feeder stopped at the budget: every other candidate is the site's backlog, saved for the next crawl
    assert budgeted.stat("frontier/fed") == 25
    assert budgeted.stat("frontier/backlog_by_site/big01") == site.articles - 25
    # the best-scored candidates came first: the budget went to Libya articles
    assert len(set(stored) & gold) == 25


def test_whole_site_crawl_stores_every_libya_article_once(
    panarab: tuple[Path, PanArabSite], tmp_path: Path
) -> None:
    _, site = panarab
    gold = {site.article_url(n) for n in site.libya_numbers()}
    run = _crawl(panarab, tmp_path, "whole")
    stored = _stored(run)
    assert sorted(stored) == sorted(gold)
    assert run.stat("discovery/requests/article") >= site.articles
    assert run.stat("relevance/irrelevant") == site.articles - len(gold)


def test_no_article_pattern_and_feed_autodiscovery_end_to_end(
    panarab: tuple[Path, PanArabSite], tmp_path: Path
) -> None:
    """A sources entry as most real ones are: a home page only, no article_pattern, no feeds, no sitemaps."""
    _, site = panarab
    sources = tmp_path / "bare.yaml"
    host = site.base_url.split("//", 1)[1].rstrip("/")
    sources.write_text(
        f"sites:\n  - name: bare\n    home: {site.base_url}\n    allowed_domains: ['{host}']\n"
    )
    run = _crawl((sources, site), tmp_path, "bare", CRAWL_FOCUS="only")
    # the feed came from <link rel="alternate"> on the home page, the sitemaps from robots.txt
    assert run.stat("discovery/requests/feed") == 1 and run.stat("discovery/feed_empty") == 0
    assert run.stat("discovery/sitemaps/urlset") >= len(site.months())
    # articles were told from listings by the fallback guess: every Libya article, nothing else
    gold = {site.article_url(n) for n in site.libya_numbers()}
    assert set(_stored(run)) == gold
    assert run.stat("crawl/failed/http_404") == 0


def test_harvest_rates_learn_per_pattern_and_persist(tmp_path: Path) -> None:
    assert pattern_of("http://s/2020/01/02/slug-5/", "sitemap") == "sitemap:/N/N/N/*"
    assert (
        pattern_of("http://s/a/", "section", "http://s/category/libya/page/4/") == "section:/category/libya/"
    )
    path = tmp_path / "state" / "focus-harvest.json"
    rates = HarvestRates(path)
    for k in range(40):
        rates.record("big01", "section:/category/libya/", relevant=True)
        rates.record("big01", "sitemap:/N/N/N/*", relevant=k % 20 == 0)
    rates.record("big01", "home:/*", relevant=True)
    assert rates.adjust("big01", "section:/category/libya/") > 0 > rates.adjust("big01", "sitemap:/N/N/N/*")
    assert rates.adjust("big01", "home:/*") == 0  # too few fetches to judge
    rates.save()
    again = HarvestRates(path)
    assert again.rates == rates.rates
    path.write_text("{not json")
    assert HarvestRates(path).rates == {}


def test_the_next_crawl_uses_what_the_last_one_learned(
    panarab: tuple[Path, PanArabSite], tmp_path: Path
) -> None:
    first = _crawl(panarab, tmp_path, "learn", crawl_id="learn-1", CRAWL_SITE_BUDGET=40)
    # kept in the site's focus state in the archive store, not in the spool
    assert not (tmp_path / "learn" / "spool" / "state" / "focus-harvest.json").exists()
    section = _focus_state(tmp_path / "learn")["harvest"]["section:/category/libya/"]
    assert section[0] >= 10 and section[1] == section[0]  # every article of the Libya section was relevant
    # candidates are scored when found, before this first crawl had fetched anything to learn from
    assert first.stat("focus/learned") == 0
    second = _crawl(panarab, tmp_path, "learn", crawl_id="learn-2", CRAWL_SITE_BUDGET=40)
    # the second crawl scores with what the first one learned
    assert second.stat("focus/learned") > 0
    after = _focus_state(tmp_path / "learn")
    assert after["crawl_id"] == "learn-2" and after["harvest"]["section:/category/libya/"][0] > section[0]


def test_rates_an_older_archive_kept_in_the_spool_are_loaded(
    panarab: tuple[Path, PanArabSite], tmp_path: Path
) -> None:
    """An archive from before the rates moved to the store: its focus-harvest.json is read, then the store's."""
    legacy = tmp_path / "old" / "spool" / "state" / "focus-harvest.json"
    rates = HarvestRates(legacy)
    for _ in range(40):
        rates.record("big01", "sitemap:/N/N/N/*", relevant=False)
        rates.record("big01", "section:/category/libya/", relevant=True)
    rates.save()
    run = _crawl(panarab, tmp_path, "old", crawl_id="old-1", CRAWL_SITE_BUDGET=5)
    assert run.stat("focus/learned") > 0
    saved = _focus_state(tmp_path / "old")["harvest"]
    assert saved["sitemap:/N/N/N/*"][0] >= 40


def _focus_state(workdir: Path, site: str = "big01") -> dict[str, Any]:
    """The header of the site's newest focus state object in the archive store."""
    import gzip

    objects = sorted((workdir / "archive" / "state" / "sites" / site / "focus").glob("*.jsonl.gz"))
    assert objects
    header: dict[str, Any] = json.loads(gzip.decompress(objects[-1].read_bytes()).decode().split("\n", 1)[0])
    return header


def _fetched_articles(workdir: Path, crawl_id: str) -> list[str]:
    """The article URLs a crawl fetched (its WARC response records), from the archive store's copy."""
    from warcio.archiveiterator import ArchiveIterator

    urls = []
    for path in sorted((workdir / "archive" / "warc" / crawl_id).glob("*.warc.gz")):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type in ("response", "revisit") and re.search(r"/\d{4}/\d\d/\d\d/", uri):
                    urls.append(uri)
    return urls


def test_backfill_continues_across_budgeted_crawls_without_refetching(
    panarab: tuple[Path, PanArabSite], tmp_path: Path
) -> None:
    _, site = panarab
    gold = {site.article_url(n) for n in site.libya_numbers()}
    budget = len(gold) * 2 // 3
    first = _crawl(panarab, tmp_path, "backfill", crawl_id="backfill-1", CRAWL_SITE_BUDGET=budget)
    assert first.stat("frontier/fed") == budget
    assert first.stat("frontier/backlog_by_site/big01") == site.articles - budget
    second = _crawl(panarab, tmp_path, "backfill", crawl_id="backfill-2", CRAWL_SITE_BUDGET=budget)
    # the second crawl took the first one's backlog from the store and went on where it stopped
    assert second.stat("frontier/backlog_loaded_by_site/big01") == site.articles - budget
    assert second.stat("frontier/fed") == budget
    assert second.stat("frontier/backlog_by_site/big01") == site.articles - 2 * budget
    # what the first crawl fetched is not fetched again (the sitemaps list it as unchanged since)
    one, two = (
        _fetched_articles(tmp_path / "backfill", "backfill-1"),
        _fetched_articles(tmp_path / "backfill", "backfill-2"),
    )
    assert len(one) == len(set(one)) == budget and len(two) == len(set(two)) == budget
    assert not set(one) & set(two)
    # best-scored first: the first crawl's budget went to Libya articles, the second one's to the rest of them
    assert set(_stored(first)) <= gold and len(_stored(first)) == budget
    assert set(_stored(first)) | set(_stored(second)) == gold
    assert not set(_stored(first)) & set(_stored(second))
    # the report shows each site's backlog left
    report = (tmp_path / "backfill" / "archive" / "reports" / "backfill-2" / "report.md").read_text(
        encoding="utf-8"
    )
    assert "backlog left |" in report and f"| {site.articles - 2 * budget} |" in report
    # `since` bounds the backlog: older candidates are not loaded
    since = site.published(site.articles // 2).date().isoformat()
    third = _crawl(
        panarab, tmp_path, "backfill", crawl_id="backfill-3", CRAWL_SITE_BUDGET=1, CRAWL_SINCE=since
    )
    assert third.stat("frontier/backlog_before_since") > 0
    loaded = third.stat("frontier/backlog_loaded_by_site/big01")
    assert 0 < loaded < site.articles - 2 * budget
