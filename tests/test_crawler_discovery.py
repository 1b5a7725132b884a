"""Sitemap and feed parsing (the spider's discovery documents)."""

from __future__ import annotations

import gzip
from datetime import date

import pytest

from crawler.discovery import DecompressionLimitError, gunzip_limited, is_before, parse_feed, parse_sitemap

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>http://s/post-sitemap.xml</loc><lastmod>2020-01-02</lastmod></sitemap>
  <sitemap><loc>http://s/post-sitemap2.xml.gz</loc></sitemap>
</sitemapindex>"""

NEWS = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>http://s/a/</loc>
    <news:news><news:publication><news:name>الواحة</news:name><news:language>ar</news:language></news:publication>
      <news:publication_date>2020-06-12T10:00:00+02:00</news:publication_date>
      <news:title>قوات الوفاق تتقدم</news:title></news:news></url>
  <url><loc>http://s/b/</loc><lastmod>2019-03-01</lastmod></url>
</urlset>""".encode()

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>
<item><title>عنوان</title><link>http://s/article/1.html</link><pubDate>Sun, 12 Jan 2020 10:00:00 +0000</pubDate>
<description>&lt;p&gt;فقرة أولى&lt;/p&gt;</description></item>
<item><title>بلا رابط</title></item>
</channel></rss>""".encode()

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>x</title><link rel="alternate" href="http://s/e/1"/><link rel="edit" href="http://s/edit/1"/>
<published>2021-02-03T04:05:06Z</published><content type="html">&lt;p&gt;body&lt;/p&gt;</content></entry>
</feed>"""


def test_sitemap_index() -> None:
    sitemap = parse_sitemap(INDEX)
    assert sitemap.kind == "sitemapindex"
    assert [e.loc for e in sitemap.entries] == ["http://s/post-sitemap.xml", "http://s/post-sitemap2.xml.gz"]
    assert sitemap.entries[0].lastmod == "2020-01-02"


def test_news_sitemap_dates_and_titles() -> None:
    sitemap = parse_sitemap(NEWS)
    assert sitemap.kind == "urlset"
    first, second = sitemap.entries
    assert first.published == "2020-06-12T10:00:00+02:00"
    assert first.title == "قوات الوفاق تتقدم"
    assert second.lastmod == "2019-03-01" and second.published is None


def test_not_a_sitemap() -> None:
    assert parse_sitemap(b"<html><body>hi</body></html>").kind == "unknown"
    assert parse_sitemap(b"\x00\x01 garbage").kind == "unknown"


def test_rss_and_atom() -> None:
    rss = parse_feed(RSS)
    assert len(rss) == 1  # the entry without a link is dropped
    assert rss[0].link == "http://s/article/1.html"
    assert rss[0].content == "<p>فقرة أولى</p>"
    atom = parse_feed(ATOM)
    assert [(e.link, e.published) for e in atom] == [("http://s/e/1", "2021-02-03T04:05:06Z")]


def test_since_filter() -> None:
    since = date(2020, 1, 1)
    assert is_before("2019-12-31", since)
    assert is_before("Tue, 31 Dec 2019 23:00:00 +0000", since)
    assert not is_before("2020-01-01T00:00:00Z", since)
    assert not is_before(None, since) and not is_before("garbage", since)
    assert not is_before("2019-01-01", None)


def test_gzip_limits() -> None:
    data = gzip.compress(INDEX)
    assert gunzip_limited(data, 10_000) == INDEX
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(DecompressionLimitError):
        gunzip_limited(bomb, 1_000_000)
