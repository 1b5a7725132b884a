"""``scrapy probe URL`` on every newsroom site and the generated pan-Arab site, fed back to real crawls.

For each site the probe's proposed entry (its whole stdout, used as the sources file) is crawled and must
store the same relevant articles as the hand-written entry of that site. The proposed entries list no
feeds (the home pages announce them) and no sitemaps (robots.txt names them), so these crawls also run the
crawl's feed autodiscovery end to end; a small site whose article URLs have no one shape runs the
no-``article_pattern`` path end to end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawler.sources import load_sources
from crawler.urls import canonicalize_url
from newsroom import Newsroom
from newsroom.catalog import load_catalog
from newsroom.panarab import LIBYA_SECTION, PanArabSite
from tests.crawling import CrawlRun, run_crawl, run_scrapy, scrapy_command
from tests.localserver import serve
from tests.panarab_server import serve_panarab

PANARAB_ARTICLES = 400


def probe(url: str, name: str, *options: str) -> tuple[str, dict[str, Any]]:
    """Run ``scrapy probe``; its stdout (the report as comments, then the entry) and the entry."""
    proc = run_scrapy(scrapy_command("probe", url, "--name", name, "--delay", "0", *options), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    document = yaml.safe_load(proc.stdout)
    assert len(document["sites"]) == 1
    return proc.stdout, document["sites"][0]


def relevant_stored(run: CrawlRun) -> dict[str, set[str]]:
    assert run.returncode == 0, run.log[-3000:]
    stored: dict[str, set[str]] = {}
    for line in run.manifest():
        if (line.get("relevance") or {}).get("relevant"):
            stored.setdefault(line["site"], set()).add(line["url"])
    return stored


def write_sources(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"sites": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_sources(path)  # the crawl's own loader takes it
    return path


# ---- the five newsroom sites ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_newsroom() -> Iterator[Newsroom]:
    """A newsroom of this module's own: other tests publish into the session's one between two crawls."""
    with Newsroom() as started:
        yield started


@pytest.fixture(scope="module")
def probed(own_newsroom: Newsroom) -> dict[str, tuple[str, dict[str, Any]]]:
    return {name: probe(site.base_url, name) for name, site in own_newsroom.sites.items()}


def test_probe_reports_each_newsroom_site(own_newsroom: Newsroom, probed: dict[str, Any]) -> None:
    hand = {entry["name"]: entry for entry in own_newsroom.sources()["sites"]}
    gold = own_newsroom.articles
    for name, (report, entry) in probed.items():
        site = own_newsroom.sites[name]
        assert entry["home"] == site.base_url and entry["allowed_domains"] == [site.netloc]
        assert "feeds" not in entry and "sitemaps" not in entry, entry  # found by the crawl itself
        assert "# robots.txt: HTTP 200, 1 Sitemap: line(s)" in report
        for sitemap in hand[name]["sitemaps"]:
            assert f"#   {sitemap} (robots.txt): sitemap index of 3 sitemap(s)" in report, report
        for feed in hand[name]["feeds"]:
            assert re.search(rf"^#   {re.escape(feed)} \(home page\): feed, \d+ URL\(s\)", report, re.M), (
                report
            )
        assert re.search(r"news sitemap, titles on (\d+) of \1 news entries", report), report
        # The learned shape takes every article of the site (its gold, sitemaps or not) and no listing.
        pattern = re.compile(entry["article_pattern"])
        urls = [a.url for a in gold if a.site == name]
        assert urls and all(pattern.search(re.sub(r"^https?://[^/]+", "", u)) for u in urls), entry
        listings = [*hand[name]["sections"], entry["home"]]
        assert not any(pattern.search(re.sub(r"^https?://[^/]+", "", u)) for u in listings)
        assert "# sample: 6 article(s)" in report
    # The gated site's articles are JavaScript-gated: the sample says so, and render: auto renders them.
    assert "JavaScript gate (challenge-marker)" in probed["gated"][0]
    assert probed["gated"][1]["render"] == "auto"
    # The menu's Libya sections are found (and left to the crawl's focus discovery, which walks them).
    assert (
        f"{own_newsroom.sites['wahaa'].base_url}category/libya/ «أخبار ليبيا» (the crawl finds"
        in probed["wahaa"][0]
    )
    # The legacy site's Libya section is in a table, not a menu: the crawl would not find it, so it is listed.
    assert probed["legacy"][1]["sections"] == [f"{own_newsroom.sites['legacy'].base_url}section.php?cat=1"]
    # Sampled articles are extracted and scored: some are relevant, with their title.
    assert re.search(r"^#   200 .*no gate; «.+» .*; relevant \(score", probed["feeds"][0], re.M)


def test_the_proposed_entries_find_what_the_hand_written_ones_find(
    own_newsroom: Newsroom, probed: dict[str, Any], tmp_path: Path
) -> None:
    own_newsroom.reset_requests()
    proposed = write_sources(tmp_path / "proposed.yaml", [entry for _, entry in probed.values()])
    by_probe = relevant_stored(run_crawl(proposed, tmp_path / "proposed", crawl_id="proposed"))
    by_hand = relevant_stored(
        run_crawl(own_newsroom.write_sources(tmp_path / "hand.yaml"), tmp_path / "hand", crawl_id="hand")
    )
    assert set(by_hand) == set(own_newsroom.sites)
    for name in own_newsroom.sites:
        assert by_probe.get(name) == by_hand[name], name
    # wahaa has relevant articles only its feed lists: the proposed entry names no feed, so the crawl found
    # the feed through the home page's <link rel="alternate"> (autodiscovery, end to end).
    feed_only = [a for a in own_newsroom.articles if a.discovery == ("feed",) and a.relevant]
    assert feed_only
    assert all(canonicalize_url(a.url) in by_probe[a.site] for a in feed_only)


# ---- the generated pan-Arab site ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def panarab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, PanArabSite]]:
    with serve_panarab(PANARAB_ARTICLES, tmp_path_factory.mktemp("probe-panarab")) as served:
        yield served


def test_probe_of_the_pan_arab_site_and_the_crawl_of_its_entry(
    panarab: tuple[Path, PanArabSite], tmp_path: Path
) -> None:
    hand, site = panarab
    report, entry = probe(site.base_url, "big01")
    assert "# robots.txt: HTTP 200, 2 Sitemap: line(s)" in report
    assert re.search(r"news-sitemap\.xml \(robots\.txt\): news sitemap, titles on (\d+) of \1", report)
    assert f"{site.base_url}category/{LIBYA_SECTION}/ «ليبيا» (the crawl finds and walks it itself)" in report
    assert f"#   {site.base_url}feed/ (home page): feed" in report
    pattern = re.compile(entry["article_pattern"])
    assert all(pattern.search(site.article_path(n)) for n in range(1, PANARAB_ARTICLES + 1))
    assert not pattern.search(site.listing_url("category", LIBYA_SECTION, 2).replace(site.base_url, "/"))
    proposed = write_sources(tmp_path / "proposed.yaml", [entry])
    by_probe = relevant_stored(run_crawl(proposed, tmp_path / "proposed", crawl_id="proposed"))
    by_hand = relevant_stored(run_crawl(hand, tmp_path / "hand", crawl_id="hand"))
    assert by_hand["big01"] and by_probe == by_hand


# ---- a site whose article URLs have no one shape: no article_pattern ----------------------------------------
SHAPES = (
    "/news/{n}",
    "/{year}/{month}/story-{n}-{slug}/",
    "/story.php?id={n}",
    "/articles/{slug}-{n}.html",
    "/a/{n}/{slug}",
)


def _mixed_site(specs: list[Any]) -> tuple[dict[str, bytes], list[tuple[str, bool]], str]:
    """Paths and bodies of a small site with five article URL shapes; the feed-only article's path."""
    routes: dict[str, bytes] = {}
    articles: list[tuple[str, bool]] = []
    for n, spec in enumerate(specs, start=1):
        path = SHAPES[n % len(SHAPES)].format(
            n=1000 + n, slug=spec.slug, year=spec.published.year, month=f"{spec.published.month:02d}"
        )
        paragraphs = "".join(f"<p>{p}</p>" for p in spec.paragraphs)
        routes[path] = (
            f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{spec.title}</title>'
            f'</head><body><nav><a href="/">الرئيسية</a></nav><main><article><h1>{spec.title}</h1>'
            f'<time datetime="{spec.published.isoformat()}">{spec.published.date()}</time>{paragraphs}'
            "</article></main></body></html>"
        ).encode()
        articles.append((path, spec.relevant))
    feed_only = [path for path, relevant in articles if relevant][-1]
    return routes, articles, feed_only


@pytest.fixture
def mixed_site() -> Iterator[tuple[str, list[tuple[str, bool]], str]]:
    specs = [s for s in load_catalog()["feeds"] if s.case in ("plain", "hard_negative_passing")][:10]
    assert any(s.relevant for s in specs) and not all(s.relevant for s in specs)
    pages, articles, feed_only = _mixed_site(specs)
    base_holder: list[str] = []

    def documents(base: str) -> dict[str, tuple[str, bytes]]:
        listed = [p for p, _ in articles if p != feed_only]
        urls = "".join(f"<url><loc>{base}{p.replace('&', '&amp;')}</loc></url>" for p in listed)
        sitemap = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        in_feed = [feed_only, *listed[-2:]]
        entries = "".join(f"<item><title>t</title><link>{base}{p}</link></item>" for p in in_feed)
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>{entries}</channel></rss>'
        links = "".join(f'<li><a href="{p}">{p}</a></li>' for p in listed[:4])
        home = (
            '<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8"><title>موقع</title>'
            '<link rel="alternate" type="application/rss+xml" href="/rss"></head><body>'
            f'<nav><a href="/">الرئيسية</a></nav><main><ul>{links}</ul></main></body></html>'
        )
        return {
            "/robots.txt": (
                "text/plain",
                f"User-agent: *\nDisallow: /admin/\nSitemap: {base}/map.xml\n".encode(),
            ),
            "/map.xml": ("application/xml", sitemap.encode()),
            "/rss": ("application/rss+xml", feed.encode()),
            "/": ("text/html; charset=utf-8", home.encode()),
            **{p: ("text/html; charset=utf-8", body) for p, body in pages.items()},
        }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            answer = documents(base_holder[0]).get(self.path)
            self.send_response(200 if answer else 404)
            kind, body = answer or ("text/plain", b"not found")
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve(Handler) as base:
        base_holder.append(base)
        yield base, articles, feed_only


def test_no_article_pattern_end_to_end(
    mixed_site: tuple[str, list[tuple[str, bool]], str], tmp_path: Path
) -> None:
    base, articles, feed_only = mixed_site
    report, entry = probe(base + "/", "mixed")
    assert "article_pattern" not in entry
    assert re.search(
        r"^# article_pattern: none \(the crawl's guess is used\): the article URLs come in \d+ shapes",
        report,
        re.M,
    )
    assert "feeds" not in entry and "sitemaps" not in entry
    run = run_crawl(write_sources(tmp_path / "proposed.yaml", [entry]), tmp_path / "crawl", crawl_id="mixed")
    stored = relevant_stored(run).get("mixed", set())
    relevant = {canonicalize_url(base + path) for path, is_relevant in articles if is_relevant}
    assert stored == relevant
    assert canonicalize_url(base + feed_only) in stored  # only the autodiscovered feed lists it
