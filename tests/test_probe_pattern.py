"""``crawler.probe.pattern`` and ``crawler.probe.report``: the learned article shape and the proposed entry."""

from __future__ import annotations

import re

import pytest
import yaml

from crawler.probe.pattern import learn_article_pattern, target
from crawler.probe.report import Document, ProbeReport, Section, allowed_domain, site_name
from crawler.sources import parse_sources

H = "https://example.org"


@pytest.mark.parametrize(
    ("articles", "listings", "pattern"),
    [
        (
            [f"{H}/2021/09/26/a-b/", f"{H}/2020/10/02/c/", f"{H}/2019/01/05/dd-ee/"],
            [f"{H}/", f"{H}/category/libya/", f"{H}/page/2/"],
            r"^/\d{4}/\d{2}/\d{2}/[^/]+/$",
        ),
        (
            [f"{H}/news.php?id=1", f"{H}/news.php?id=22", f"{H}/news.php?id=333"],
            [f"{H}/section.php?cat=1"],
            r"^/news\.php\?id=\d+$",
        ),
        (
            [f"{H}/article/5014.html", f"{H}/article/77.html", f"{H}/article/1.html"],
            [f"{H}/section/libya/"],
            r"^/article/\d+\.html$",
        ),
        (
            [f"{H}/ar/content/a-b", f"{H}/ar/content/cc", f"{H}/ar/content/d"],
            [f"{H}/ar/taxonomy/term/3"],
            r"^/ar/content/[^/]+$",
        ),
        # ids of one length today are longer tomorrow: \d+, not \d{3}
        ([f"{H}/news/701", f"{H}/news/702", f"{H}/news/710"], [f"{H}/libya/"], r"^/news/\d+$"),
    ],
)
def test_learned_shapes(articles: list[str], listings: list[str], pattern: str) -> None:
    proposal = learn_article_pattern(articles, listings)
    assert proposal.pattern == pattern, proposal
    assert all(proposal.matches(u) for u in articles)
    assert not any(proposal.matches(u) for u in listings)


def test_two_shapes_are_alternatives() -> None:
    articles = [f"{H}/news/{n}" for n in (1, 2, 3)] + [f"{H}/2021/05/story-{n}/" for n in (1, 2, 3)]
    proposal = learn_article_pattern(articles, [f"{H}/", f"{H}/tag/x/"])
    assert proposal.pattern is not None and len(proposal.shapes) == 2
    assert all(proposal.matches(u) for u in articles)
    assert not proposal.matches(f"{H}/tag/x/")


@pytest.mark.parametrize(
    ("articles", "listings", "why"),
    [
        ([f"{H}/news/1", f"{H}/news/2"], [], "only 2 article URL(s)"),
        (
            [f"{H}/a/1", f"{H}/b/c/2", f"{H}/d/e/f/3", f"{H}/g/h/i/j/4", f"{H}/k?id=5"],
            [],
            "the article URLs come in 5 shapes (more than 3)",
        ),
        # the only shape the articles share is as wide as a listing the site shows
        (
            [f"{H}/politics/one", f"{H}/sport/two", f"{H}/economy/three"],
            [f"{H}/libya/page"],
            "also matches the listing https://example.org/libya/page",
        ),
    ],
)
def test_no_pattern_rather_than_a_wrong_one(articles: list[str], listings: list[str], why: str) -> None:
    proposal = learn_article_pattern(articles, listings)
    assert proposal.pattern is None
    assert why in proposal.reason


def test_a_word_shared_by_few_urls_is_not_taken_for_a_literal() -> None:
    proposal = learn_article_pattern([f"{H}/politics/a-1", f"{H}/politics/b-2", f"{H}/x/c-3"], [])
    assert proposal.pattern == r"^/[^/]+/[^/]+$"
    proposal = learn_article_pattern([f"{H}/news/{n}-slug" for n in range(5)], [])
    assert proposal.pattern == r"^/news/\d+\-slug$"


def test_target_is_what_sources_match() -> None:
    assert target("https://x.org/news.php?id=3#top") == "/news.php?id=3"
    assert target("https://x.org") == "/"


def test_names_and_domains_from_the_home_url() -> None:
    assert site_name("https://www.alwasat.ly/") == "alwasat"
    assert site_name("http://127.0.0.1:8080/") == "127-0-0-1-8080"
    assert allowed_domain("https://www.alwasat.ly/") == "alwasat.ly"
    assert allowed_domain("http://127.0.0.1:8080/") == "127.0.0.1:8080"
    assert allowed_domain("https://example.org:443/") == "example.org"


def test_the_proposed_entry_leaves_to_the_crawl_what_it_finds_itself() -> None:
    report = ProbeReport(url=f"{H}/", name="example", budget=40, home=f"{H}/")
    report.robots_sitemaps = [f"{H}/sitemap_index.xml"]
    report.documents = [
        Document(f"{H}/sitemap_index.xml", "sitemapindex", "robots.txt", children=2),
        Document(f"{H}/feed/", "feed", "home page", entries=20),
    ]
    report.autodiscovered_feeds = [f"{H}/feed/"]
    report.sections = [
        Section(f"{H}/category/libya/", "ليبيا", in_menu=True, article_links=20),
        Section(f"{H}/section.php?cat=1", "الشأن الليبي", in_menu=False, article_links=11),
        Section(f"{H}/section.php?cat=9", "ليبيا اليوم", in_menu=False, article_links=0),
    ]
    report.pattern = learn_article_pattern([f"{H}/news/{n}" for n in (1, 2, 3)], [f"{H}/"])
    entry = report.proposed_entry()
    assert entry == {
        "name": "example",
        "home": f"{H}/",
        "allowed_domains": ["example.org"],
        "sections": [f"{H}/section.php?cat=1"],
        "article_pattern": r"^/news/\d+$",
        "render": "auto",
    }
    text = report.render()
    assert all(line.startswith("#") for line in text.split("sites:")[0].splitlines())
    source = parse_sources(yaml.safe_load(text))[0]  # the printed text is a sources file as it is
    assert source.is_article(f"{H}/news/44") and not source.is_article(f"{H}/category/libya/")
    assert report.source().article_pattern == re.compile(r"^/news/\d+$")


def test_a_guessed_sitemap_is_listed_and_no_pattern_leaves_the_key_out() -> None:
    report = ProbeReport(url=f"{H}/", name="example", budget=40, home=f"{H}/")
    report.documents = [Document(f"{H}/sitemap.xml", "urlset", "guessed", entries=3)]
    report.pattern = learn_article_pattern([f"{H}/a/1", f"{H}/b/c/2"], [])
    entry = report.proposed_entry()
    assert entry["sitemaps"] == [f"{H}/sitemap.xml"]
    assert "article_pattern" not in entry
    assert "# article_pattern: none (the crawl's guess is used): only 2 article URL(s)" in report.render()
