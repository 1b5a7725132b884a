"""Tests of the offline newsroom: every site answers, the gold matches what the pages serve."""

from __future__ import annotations

import gzip
import html
import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

from newsroom import GoldArticle, Newsroom
from newsroom.sites.base import BOILERPLATE

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def by_site(newsroom: Newsroom, site: str) -> list[GoldArticle]:
    return [a for a in newsroom.articles if a.site == site]


def sitemap_locs(newsroom: Newsroom, site: str) -> dict[str, set[str]]:
    """Article URLs per sitemap kind, reached from robots.txt -> sitemap index."""
    base = newsroom.sites[site].base_url
    _, _, robots = fetch(base + "robots.txt")
    index_url = re.search(r"^Sitemap: (\S+)$", robots.decode(), re.M)
    assert index_url
    _, _, index = fetch(index_url.group(1))
    found: dict[str, set[str]] = {}
    for loc in ET.fromstring(index).iter(SM + "loc"):
        status, headers, body = fetch(loc.text or "")
        assert status == 200
        if (loc.text or "").endswith(".gz"):
            assert headers["Content-Type"] == "application/x-gzip"
            assert "Content-Encoding" not in headers
            body = gzip.decompress(body)
            kind = "sitemap_gz"
        else:
            kind = "news_sitemap" if b"sitemap-news/0.9" in body else "sitemap"
        found[kind] = {u.findtext(SM + "loc") or "" for u in ET.fromstring(body).iter(SM + "url")}
    return found


@pytest.mark.parametrize("site", ["wahaa", "legacy", "feeds", "gated", "drupal"])
def test_every_site_answers_discovery_documents(newsroom: Newsroom, site: str) -> None:
    base = newsroom.sites[site].base_url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", base)
    status, _, robots = fetch(base + "robots.txt")
    assert status == 200 and b"Disallow: /" in robots and b"Sitemap: " in robots
    locs = sitemap_locs(newsroom, site)
    assert set(locs) == {"sitemap", "sitemap_gz", "news_sitemap"}
    gold = by_site(newsroom, site)
    for kind, urls in locs.items():
        assert urls == {a.url for a in gold if kind in a.discovery}
    cookie = "nr_challenge=" + newsroom.challenge_cookie["nr_challenge"]
    status, _, home = fetch(base, {"Cookie": cookie})
    assert status == 200
    feed_link = re.search(rb'<link rel="alternate" type="application/rss\+xml"[^>]*href="([^"]+)"', home)
    assert feed_link
    status, headers, feed = fetch(urljoin(base, feed_link.group(1).decode()))
    assert status == 200 and "xml" in headers["Content-Type"]
    items = {i.findtext("link") for i in ET.fromstring(feed).iter("item")}
    assert items == {a.url for a in gold if "feed" in a.discovery}


def test_news_sitemap_has_publication_dates_over_three_years(newsroom: Newsroom) -> None:
    years: set[str] = set()
    for site in newsroom.sites:
        r = newsroom.sites[site].renderer
        _, _, body = fetch(r.url(r.sitemap_news))
        years |= {(d.text or "")[:4] for d in ET.fromstring(body).iter(NEWS + "publication_date")}
    assert {"2019", "2020", "2021"} <= years


def test_legacy_page_is_windows_1256_with_header_charset_only(newsroom: Newsroom) -> None:
    gold = by_site(newsroom, "legacy")[0]
    status, headers, body = fetch(gold.url)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=windows-1256"
    assert b"charset" not in body.lower()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = html.unescape(body.decode("cp1256"))
    for paragraph in gold.paragraphs:
        assert html.escape(paragraph, quote=True) in body.decode("cp1256")
    levantine = ("كانون", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول", "تشرين")
    assert any(month in text for month in levantine)
    assert re.search("[٠-٩]{4}", text), "Eastern Arabic digits in the date"
    assert f"/print.php?id={gold.url.rsplit('=', 1)[1]}" in text


def test_wahaa_page_layout_gzip_and_arabic_slugs(newsroom: Newsroom) -> None:
    gold = by_site(newsroom, "wahaa")
    arabic = [a for a in gold if "%D9%" in a.url or "%D8%" in a.url]
    assert len(arabic) >= 2
    status, headers, body = fetch(arabic[0].url, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    page = gzip.decompress(body).decode()
    assert '<html lang="ar" dir="rtl">' in page
    for marker in (
        "شارك على فيسبوك",
        "شاهد أيضاً",
        "اترك تعليقاً",
        "عن الكاتب",
        "الرئيسية</a> »",
        "figcaption",
    ):
        assert marker in page
    assert 'class="entry-content"' in page
    assert f'<link rel="canonical" href="{arabic[0].url}">' in page
    assert 'property="article:published_time" content="' + arabic[0].published in page
    assert f"{html.escape(arabic[0].title)} - الواحة" in page
    # the old-style short link redirects to the pretty URL
    number = int(arabic[0].id.rsplit("-", 1)[1])
    status, headers, _ = fetch(newsroom.sites["wahaa"].base_url + f"?p={number}")
    assert status == 301 and headers["Location"] == arabic[0].url


def test_url_variants_reach_the_same_article(newsroom: Newsroom) -> None:
    gold = next(a for a in by_site(newsroom, "drupal") if len(a.discovery) > 1)
    _, _, plain = fetch(gold.url)
    _, _, tracked = fetch(gold.url + "?utm_source=facebook&utm_medium=social")
    assert plain == tracked
    status, _, _ = fetch(newsroom.sites["drupal"].base_url + "ar/content/no-such-story")
    assert status == 404


def test_home_pages_carry_link_noise(newsroom: Newsroom) -> None:
    others = {s.base_url for s in newsroom.sites.values()}
    for site in ("wahaa", "legacy", "feeds", "drupal"):
        _, _, body = fetch(newsroom.sites[site].base_url)
        text = body.decode("utf-8", errors="replace")
        for needle in ("mailto:", "javascript:", "http://example.org/", "utm_source=", "#comments"):
            assert needle in text, (site, needle)
        assert any(o in text for o in others if o != newsroom.sites[site].base_url)
        dead = re.findall(r'href="(/2018/05/03/deleted-story/)"', text)
        assert dead and fetch(urljoin(newsroom.sites[site].base_url, dead[0]))[0] == 404


def test_feed_descriptions_carry_whole_bodies(newsroom: Newsroom) -> None:
    base = newsroom.sites["feeds"].base_url
    _, _, rss = fetch(base + "feed.xml")
    assert b"&lt;p&gt;" in rss
    items = {i.findtext("link"): i.findtext("description") or "" for i in ET.fromstring(rss).iter("item")}
    for gold in by_site(newsroom, "feeds"):
        body = items[gold.url]
        assert "<p>" in body
        for paragraph in gold.paragraphs:
            assert f"<p>{html.escape(paragraph)}</p>" in body
    _, _, atom = fetch(base + "atom.xml")
    entries = ET.fromstring(atom).findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == len(items)


def test_feeds_article_page_template(newsroom: Newsroom) -> None:
    gold = by_site(newsroom, "feeds")[0]
    _, _, body = fetch(gold.url)
    page = body.decode()
    assert f'<time datetime="{gold.published}">' in page
    assert "نستخدم ملفات تعريف الارتباط" in page
    article = page.split('<article class="article">', 1)[1].split("</article>", 1)[0]
    assert "اقرأ أيضاً" in article
    assert all(html.escape(p) in article for p in gold.paragraphs)


def test_gated_article_needs_challenge_cookie(newsroom: Newsroom) -> None:
    gold = by_site(newsroom, "gated")[0]
    status, _, body = fetch(gold.url)
    page = body.decode()
    assert status == 200
    assert "Sorry, you need to enable JavaScript to visit this website." in page
    assert gold.title not in page and not any(p[:40] in page for p in gold.paragraphs)
    assert '<script src="/static/challenge.js">' in page
    base = newsroom.sites["gated"].base_url
    _, _, script = fetch(base + "static/challenge.js")
    assert b"nr_challenge=" in script and b"reload" in script
    cookie = {"Cookie": "nr_challenge=" + newsroom.challenge_cookie["nr_challenge"]}
    _, _, shell = fetch(gold.url, cookie)
    assert b'<div id="app"' in shell and gold.paragraphs[0].encode() not in shell
    api = base + "api/articles/" + gold.url.rsplit("/", 1)[1] + ".json"
    assert fetch(api)[0] == 403
    status, _, data = fetch(api, cookie)
    record = json.loads(data)
    assert status == 200 and record["paragraphs"] == gold.paragraphs and record["title"] == gold.title
    for path in ("static/app.js", "static/app.css", "static/logo.png", "rss.xml", "sitemap_index.xml"):
        assert fetch(base + path)[0] == 200


def test_drupal_noscript_notice_with_server_rendered_body(newsroom: Newsroom) -> None:
    gold = by_site(newsroom, "drupal")[0]
    page = fetch(gold.url)[2].decode()
    assert "<noscript>" in page and "Sorry, you need to enable JavaScript" in page
    assert "field--name-body" in page
    assert all(html.escape(p) in page for p in gold.paragraphs)
    assert re.search(
        r"\d+ (جانفي|فيفري|مارس|أفريل|ماي|جوان|جويلية|أوت|سبتمبر|أكتوبر|نوفمبر|ديسمبر) \d{4}", page
    )


def test_sections_paginate(newsroom: Newsroom) -> None:
    r = newsroom.sites["wahaa"].renderer
    url = r.url(r.section_path("libya", 1))
    seen: list[str] = []
    while url:
        page = fetch(url)[2].decode()
        seen.append(url)
        nxt = re.search(r'<a class="next page-numbers" href="([^"]+)">الصفحة التالية</a>', page)
        url = urljoin(url, nxt.group(1)) if nxt else ""
    assert len(seen) >= 3
    section_only = [a for a in by_site(newsroom, "wahaa") if a.discovery == ("section",)]
    assert section_only
    page3 = fetch(seen[2])[2].decode()
    assert all(urlsplit(a.url).path in page3 for a in section_only)


def test_wahaa_discovery_forms_are_partly_disjoint(newsroom: Newsroom) -> None:
    forms = {a.discovery for a in by_site(newsroom, "wahaa")}
    for only in ("sitemap_gz", "news_sitemap", "feed", "section"):
        assert (only,) in forms
    home = fetch(newsroom.sites["wahaa"].base_url)[2].decode()
    for gold in by_site(newsroom, "wahaa"):
        if len(gold.discovery) == 1:
            assert urlsplit(gold.url).path not in home


def test_conditional_requests(newsroom: Newsroom) -> None:
    gold = by_site(newsroom, "legacy")[1]
    status, headers, _ = fetch(gold.url)
    assert status == 200
    assert fetch(gold.url, {"If-None-Match": headers["ETag"]})[0] == 304
    assert fetch(gold.url, {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert fetch(gold.url, {"If-None-Match": '"other"'})[0] == 200


def test_request_log_counts(newsroom: Newsroom) -> None:
    newsroom.reset_requests()
    base = newsroom.sites["feeds"].base_url
    fetch(base + "robots.txt")
    fetch(base + "robots.txt")
    fetch(base + "section/libya/?page=2")
    assert newsroom.count("feeds", "/robots.txt") == 2
    assert newsroom.count("feeds", "/section/libya/?page=2") == 1
    assert newsroom.count("wahaa", "/robots.txt") == 0
    assert all(r.method == "GET" and r.headers for r in newsroom.requests)


def test_publish_and_edit_change_sitemaps_feeds_and_etags(newsroom: Newsroom) -> None:
    fresh = newsroom.publish(
        "drupal",
        "عاجل: اجتماع طارئ لمجلس النواب في بنغازي",
        ["عقد مجلس النواب الليبي اجتماعاً طارئاً في بنغازي.", "وناقش المجلس الأوضاع الأمنية.", "ورفعت الجلسة."],
        author="سنية الجريدي",
    )
    assert fresh in newsroom.articles
    assert fresh.url in sitemap_locs(newsroom, "drupal")["sitemap"]
    _, _, feed = fetch(newsroom.sites["drupal"].base_url + "rss.xml")
    assert fresh.url.encode() in feed
    status, headers, _ = fetch(fresh.url)
    assert status == 200
    edited = newsroom.edit(
        fresh.id, [*fresh.paragraphs, "وأضاف المتحدث أن الجلسة المقبلة ستعقد الأسبوع القادم."]
    )
    status, new_headers, body = fetch(fresh.url, {"If-None-Match": headers["ETag"]})
    assert status == 200 and new_headers["ETag"] != headers["ETag"]
    assert edited.paragraphs[-1].encode() in body
    assert edited.modified > fresh.modified


def test_layout_v2_moves_the_body(newsroom: Newsroom) -> None:
    gold = next(a for a in by_site(newsroom, "wahaa") if len(a.discovery) > 1)
    try:
        newsroom.set_template("wahaa", "v2")
        page = gzip.decompress(fetch(gold.url, {"Accept-Encoding": "gzip"})[2]).decode()
        assert "entry-content" not in page and "story-body" in page
        assert all(html.escape(p) in page for p in gold.paragraphs)
    finally:
        newsroom.set_template("wahaa", "v1")
    assert "entry-content" in fetch(gold.url)[2].decode()
    with pytest.raises(ValueError):
        newsroom.set_template("wahaa", "v9")


def test_robots_disallowed_pages_are_linked(newsroom: Newsroom) -> None:
    for site in newsroom.sites.values():
        robots = fetch(site.base_url + "robots.txt")[2].decode()
        rules = re.findall(r"^Disallow: (\S+)$", robots, re.M)
        cookie = {"Cookie": "nr_challenge=" + newsroom.challenge_cookie["nr_challenge"]}
        home = fetch(site.base_url, cookie)[2].decode("utf-8", errors="replace")
        links = re.findall(r'href="([^"]+)"', home)
        assert any(urlsplit(urljoin(site.base_url, h)).path.startswith(tuple(rules)) for h in links), (
            site.name
        )


def test_sources_file(newsroom_sources: Path, newsroom: Newsroom) -> None:
    data = yaml.safe_load(newsroom_sources.read_text(encoding="utf-8"))
    names = [s["name"] for s in data["sites"]]
    assert names == ["wahaa", "legacy", "feeds", "gated", "drupal"]
    for entry in data["sites"]:
        site = newsroom.sites[entry["name"]]
        assert entry["home"] == site.base_url
        assert entry["allowed_domains"] == [f"127.0.0.1:{site.port}"]
        assert entry["render"] in ("auto", "always", "never")
        pattern = re.compile(entry["article_pattern"])
        for gold in by_site(newsroom, entry["name"]):
            parts = urlsplit(gold.url)
            assert pattern.search(parts.path + (f"?{parts.query}" if parts.query else "")), gold.url
        for section in entry["sections"]:
            assert not pattern.search(urlsplit(section).path)


def test_corpus_sanity(newsroom: Newsroom) -> None:
    articles = newsroom.articles
    assert len(articles) >= 70
    assert len({a.id for a in articles}) == len(articles)
    assert len({a.url for a in articles}) == len(articles)
    assert sum(not a.relevant for a in articles) >= 20
    assert sum(a.site == "gated" for a in articles) >= 6
    assert sum(a.site == "drupal" for a in articles) >= 5
    cases = [a.relevance_case for a in articles]
    assert cases.count("hard_positive_no_libya_word") >= 8
    for case in ("hard_negative_passing", "hard_negative_teaser", "hard_negative_other_conflict"):
        assert case in cases
    for gold in articles:
        assert gold.language == "ar" and 3 <= len(gold.paragraphs) <= 8
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}\+02:00)?", gold.published), gold.published
        assert not any(b in gold.text for b in BOILERPLATE), gold.id
        assert gold.gated == (gold.site == "gated")
        words = "ليبي" in gold.text or "ليبي" in gold.title
        if gold.relevance_case == "hard_positive_no_libya_word":
            assert not words, gold.id
        if gold.relevance_case == "hard_negative_passing":
            assert sum(s.count("ليبي") for s in re.split(r"[.،]", gold.text)) == 1, gold.id
        if gold.relevance_case in ("hard_negative_teaser", "hard_negative_other_conflict", "off_topic"):
            assert not words, gold.id
    teaser = next(a for a in articles if a.relevance_case == "hard_negative_teaser" and a.site == "wahaa")
    page = fetch(teaser.url)[2].decode()
    related = page.split("شاهد أيضاً", 1)[1]
    assert "ليبي" in related or "طرابلس" in related or "حفتر" in related
