"""Page requisites (crawler/requisites.py): what a page embeds, and a crawl that archives it once each."""

from __future__ import annotations

import gzip
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from warcio.archiveiterator import ArchiveIterator

from crawler.config import ConfigError
from crawler.requisites import RequisitesConfig, css_references, page_requisites, srcset_urls
from tests.crawling import CrawlRun, run_crawl
from tests.localserver import serve

PAGE = b"""<!DOCTYPE html><html><head><base href="http://news.example/ar/">
<link rel="stylesheet" href="/css/site.css"><link rel="icon" href="/favicon.png">
<link rel="preload" href="/fonts/a.woff2" as="font"><link rel="alternate" href="/feed/">
<style>@import 'print.css'; .hero{background:url("img/hero.jpg")} .x{background:url(data:image/png;base64,AA)}</style>
<script src="https://cdn.example/lib.js"></script></head><body>
<img src="pic.jpg" srcset="pic-400.jpg 400w, pic-800.jpg 800w">
<picture><source srcset="/banner.webp 1x, /banner@2x.webp 2x" type="image/webp"><img src="/banner.png"></picture>
<img src="data:image/gif;base64,R0lGOD" data-src="/lazy.jpg" data-srcset="/lazy-2x.jpg 2x">
<div style="background-image:url('/bg.png')">x</div><video poster="/poster.jpg"><source src="/clip.mp4"></video>
<a href="/article/1">a link is not a requisite</a><img src="pic.jpg#again"></body></html>"""


def test_page_requisites_finds_every_kind_of_embed() -> None:
    response = HtmlResponse("http://news.example/ar/page.html", body=PAGE, encoding="utf-8")
    found = {r.url: r.type for r in page_requisites(response)}
    base = "http://news.example"
    assert found == {
        f"{base}/css/site.css": "css",
        f"{base}/favicon.png": "icon",
        f"{base}/fonts/a.woff2": "font",
        "https://cdn.example/lib.js": "script",
        f"{base}/ar/pic.jpg": "image",
        f"{base}/ar/pic-400.jpg": "image",
        f"{base}/ar/pic-800.jpg": "image",
        f"{base}/banner.webp": "image",
        f"{base}/banner@2x.webp": "image",
        f"{base}/banner.png": "image",
        f"{base}/lazy.jpg": "image",
        f"{base}/lazy-2x.jpg": "image",
        f"{base}/bg.png": "image",
        f"{base}/poster.jpg": "image",
        f"{base}/clip.mp4": "media",
        f"{base}/ar/print.css": "css",
        f"{base}/ar/img/hero.jpg": "image",
    }


def test_css_references_imports_fonts_and_images_relative_to_the_stylesheet() -> None:
    css = """/* url(commented.png) */ @import url("fonts.css"); @import 'more.css' screen;
    @font-face{src:url(f.woff2) format("woff2"), url('f.woff') format("woff")}
    body{background:url( "/img/bg.png" )} i{background:url(#svg)}"""
    found = [(r.url, r.type) for r in css_references(css, "http://cdn.example/theme/style.css")]
    assert found == [
        ("http://cdn.example/theme/more.css", "css"),
        ("http://cdn.example/theme/fonts.css", "css"),
        ("http://cdn.example/theme/f.woff2", "font"),
        ("http://cdn.example/theme/f.woff", "font"),
        ("http://cdn.example/img/bg.png", "image"),
    ]


def test_srcset_urls() -> None:
    assert srcset_urls("a.jpg 1x, b.jpg 2x") == ["a.jpg", "b.jpg"]
    assert srcset_urls("/i/x,y.jpg 480w, /i/z.jpg 800w") == ["/i/x,y.jpg", "/i/z.jpg"]
    assert srcset_urls("single.jpg") == ["single.jpg"]


def test_config_defaults_and_bad_values() -> None:
    config = RequisitesConfig.from_settings(Settings())
    assert config.enabled and config.max_size > 0 and config.max_per_page > 0
    with pytest.raises(ConfigError) as error:
        RequisitesConfig.from_settings(
            Settings({"CRAWL_REQUISITES": "sometimes", "CRAWL_REQUISITES_MAX_SIZE": "0"})
        )
    assert "CRAWL_REQUISITES must be True or False" in str(error.value)
    assert "CRAWL_REQUISITES_MAX_SIZE must be at least 1" in str(error.value)


# --- crawls -------------------------------------------------------------------------------------------

WAHAA_THEME = (
    "/wp-content/themes/wahaa/style.css?ver=5.3",
    "/wp-content/themes/wahaa/fonts/amiri.css",
    "/wp-content/themes/wahaa/fonts/amiri-regular.woff2",
    "/wp-content/themes/wahaa/fonts/amiri-regular.woff",
    "/wp-content/themes/wahaa/img/pattern.png",
    "/wp-content/themes/wahaa/img/header-bg.png",
    "/wp-content/uploads/2021/01/banner-300x250.webp",
    "/wp-content/uploads/2021/01/banner-300x250@2x.webp",
    "/wp-content/uploads/2021/01/ad-lazy-300x250.png",
    "/wp-content/themes/wahaa/js/lazyload.min.js?ver=1.2",
    "/wp-content/uploads/2021/01/cropped-icon-32x32.png",
)


def _wahaa_sources(newsroom: Any, path: Path) -> Path:
    wahaa = newsroom.sites["wahaa"]
    entry = next(s for s in newsroom.sources()["sites"] if s["name"] == "wahaa")
    entry["render"] = "never"
    path.write_text(yaml.safe_dump({"sites": [entry]}), encoding="utf-8")
    assert wahaa.base_url in entry["home"]
    return path


def _responses(crawl: CrawlRun) -> dict[str, str]:
    """Target URI -> record type of every response/revisit in the crawl's WARCs."""
    found: dict[str, str] = {}
    for warc in sorted((crawl.archive / "warc").rglob("*.warc.gz")):
        with warc.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "revisit"):
                    found[record.rec_headers.get_header("WARC-Target-URI")] = record.rec_type
    return found


@pytest.fixture(scope="module")
def wahaa_crawls(
    newsroom: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CrawlRun, CrawlRun, list[Any]]:
    """Two crawls of the wahaa site sharing a digest index; the newsroom's log of the first."""
    workdir = tmp_path_factory.mktemp("requisites")
    sources = _wahaa_sources(newsroom, workdir / "sources.yaml")
    shared = {"WARC_DIGEST_INDEX": str(workdir / "digests.jsonl"), "INCREMENTAL_ENABLED": "False"}
    newsroom.reset_requests()
    first = run_crawl(sources, workdir / "one", crawl_id="req-one", settings=shared)
    served = newsroom.requests
    second = run_crawl(sources, workdir / "two", crawl_id="req-two", settings=shared)
    return first, second, served


def test_every_theme_requisite_fetched_once_and_archived(wahaa_crawls: Any, newsroom: Any) -> None:
    first, _, served = wahaa_crawls
    assert first.returncode == 0, first.log[-3000:]
    paths = [r.path for r in served if r.site == "wahaa"]
    for path in WAHAA_THEME:
        assert paths.count(path) == 1, (path, paths.count(path))
    images = [p for p in paths if p.startswith("/wp-content/uploads/") and "?w=400" in p]
    assert len(images) >= 10, "responsive (srcset) article images were not fetched"
    archived = _responses(first)
    base = newsroom.sites["wahaa"].base_url.rstrip("/")
    for path in WAHAA_THEME:
        # The theme's images are one pixel each: after the first, identical payloads are revisits.
        assert archived.get(base + path) in ("response", "revisit"), path
    assert archived[base + WAHAA_THEME[0]] == archived[base + WAHAA_THEME[1]] == "response"
    assert first.stat("requisites/requests") == first.stat("requisites/fetched") > len(WAHAA_THEME)
    assert first.stat("requisites/requests/font") == 2
    assert first.stat("requisites/skipped/duplicate") > 0
    assert not [k for k in first.stats if k.startswith("requisites/failed")], first.stats
    # Embeds are neither pages nor articles: nothing more was extracted, nothing failed as a page.
    assert first.stat("crawl/failed_kind/requisite") == 0
    assert not [line for line in first.manifest() if "/wp-content/" in line["url"]]


def test_requisites_of_a_later_crawl_are_revisits(wahaa_crawls: Any, newsroom: Any) -> None:
    _, second, _ = wahaa_crawls
    assert second.returncode == 0, second.log[-3000:]
    base = newsroom.sites["wahaa"].base_url.rstrip("/")
    archived = _responses(second)
    for path in WAHAA_THEME:
        assert archived.get(base + path) == "revisit", path
    assert second.stat("warc/revisits") >= second.stat("requisites/fetched")


def test_requisites_off(newsroom: Any, tmp_path: Path) -> None:
    sources = _wahaa_sources(newsroom, tmp_path / "sources.yaml")
    newsroom.reset_requests()
    result = run_crawl(
        sources,
        tmp_path / "run",
        crawl_id="req-off",
        settings={"CRAWL_REQUISITES": "False", "CRAWL_MAX_LISTING_PAGES": "0"},
    )
    assert result.returncode == 0
    assert not [r for r in newsroom.requests if r.path.startswith("/wp-content/")]
    assert not [k for k in result.stats if k.startswith("requisites/")]


class _CdnHandler(BaseHTTPRequestHandler):
    """A CDN: robots.txt keeps crawlers off /private/."""

    protocol_version = "HTTP/1.1"
    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).served.append(self.path)
        if self.path == "/robots.txt":
            self._send(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        elif self.path == "/cdn/site.css":
            self._send(b"body{background:url(/cdn/bg.png)}", "text/css")
        elif self.path in ("/cdn/bg.png", "/private/tracker.png"):
            self._send(b"\x89PNG\r\n\x1a\n", "image/png")
        else:
            self._send(b"", "text/plain", 404)

    def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
        payload = gzip.compress(body) if content_type == "text/css" else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if content_type == "text/css":
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_embeds_from_another_host_obey_its_robots_and_the_address_rules(tmp_path: Path) -> None:
    with serve(_CdnHandler) as cdn, serve(_CdnHandler) as unlisted:
        cdn_host = cdn.removeprefix("http://")
        unlisted_url = unlisted.replace("127.0.0.1", "127.0.0.3")

        class Site(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path == "/":
                    body = (
                        f'<html><head><link rel="stylesheet" href="{cdn}/cdn/site.css"></head><body>'
                        f'<img src="{cdn}/private/tracker.png"><img src="{unlisted_url}/cdn/bg.png">'
                        "<p>home</p></body></html>"
                    ).encode()
                    content_type = "text/html; charset=utf-8"
                else:
                    body, content_type = b"User-agent: *\nAllow: /\n", "text/plain"
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        with serve(Site) as site:
            _CdnHandler.served = []
            sources = tmp_path / "sources.yaml"
            # The CDN lives on a loopback address, so the site lists it as a host it lives on; the other
            # host is not listed: a private address, refused by the address rules.
            sources.write_text(
                yaml.safe_dump(
                    {
                        "sites": [
                            {
                                "name": "site",
                                "home": site + "/",
                                "allowed_domains": [site.removeprefix("http://"), cdn_host],
                                "render": "never",
                            }
                        ]
                    }
                ),
                encoding="utf-8",
            )
            result = run_crawl(sources, tmp_path / "run", crawl_id="cdn")
    assert result.returncode == 0, result.log[-3000:]
    assert "/robots.txt" in _CdnHandler.served
    assert "/cdn/site.css" in _CdnHandler.served and "/cdn/bg.png" in _CdnHandler.served
    assert "/private/tracker.png" not in _CdnHandler.served
    assert result.stat("robotstxt/forbidden") >= 1
    assert result.stat("scope/dropped/private_address") == 1
    assert result.stat("requisites/failed/IgnoreRequest") == 2
    archived = _responses(result)
    assert archived.get(f"{cdn}/cdn/site.css") == "response"
    assert archived.get(f"{cdn}/cdn/bg.png") == "response"
