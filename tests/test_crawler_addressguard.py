"""The address rule for Scrapy's own requests: judged on the resolved address, not only on literal IPs.

A site's feed on ``localhost:<port>`` (a name that resolves to 127.0.0.1, on a port no site lives on) must
not be fetched; the site itself, on ``127.0.0.1:<port>``, is. The decision and the resolver cache are tested
on their own with answers given by the test: no test sends traffic outside 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from crawler.addressguard import HostResolver, SiteHosts, address_refusal, url_refusal
from crawler.scope import ScopeMiddleware
from crawler.sources import parse_sources
from newsroom import Newsroom
from tests.crawling import run_crawl


@dataclass
class Trap:
    """A server on 127.0.0.1 that no sources entry names, and the paths it was asked for."""

    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def trap() -> Iterator[Trap]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Trap(int(server.server_address[1]), hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_name_resolving_to_loopback_is_not_fetched(tmp_path: Path, newsroom: Newsroom, trap: Trap) -> None:
    port = trap.port
    entry = next(e for e in newsroom.sources()["sites"] if e["name"] == "drupal")
    entry["feeds"] = [*entry["feeds"], f"http://localhost:{port}/rss.xml"]
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sites": [entry]}, allow_unicode=True), encoding="utf-8")
    run = run_crawl(sources, tmp_path / "crawl", crawl_id="address-guard")
    assert run.returncode == 0, run.log[-3000:]
    assert trap.hits == []  # not the feed, not its robots.txt
    assert run.stat("scope/dropped/private_address") >= 1
    assert run.manifest(), "the site itself, on 127.0.0.1:<port>, was crawled"


# --- the decision, with answers given by the test ----------------------------------------------------------


SOURCES = parse_sources(
    {
        "sites": [
            {"name": "local", "home": "http://127.0.0.1:8081/", "allowed_domains": ["127.0.0.1:8081"]},
            {
                "name": "intranet",
                "home": "http://news.corp.example/",
                "allowed_domains": ["news.corp.example"],
            },
            {"name": "public", "home": "https://alwasat.ly/", "feeds": ["https://feeds.example.net/rss"]},
        ]
    }
)
ANSWERS = {
    "news.corp.example": ["10.0.0.8"],
    "alwasat.ly": ["93.184.216.34"],
    "www.alwasat.ly": ["10.9.9.9"],
    "feeds.example.net": ["169.254.169.254"],
}


def _middleware() -> tuple[ScopeMiddleware, MemoryStatsCollector, list[str]]:
    asked: list[str] = []

    async def resolve(host: str) -> Sequence[str]:
        asked.append(host)
        return ANSWERS.get(host, [])

    crawler = get_crawler()
    crawler.spider = SimpleNamespace(sources=SOURCES, trusted_hosts={"feeds.example.net"})  # type: ignore[assignment]
    stats = MemoryStatsCollector(crawler)
    return ScopeMiddleware(crawler, stats, resolve), stats, asked


@pytest.mark.parametrize(
    ("url", "dropped"),
    [
        ("http://127.0.0.1:8081/news/1", None),  # the site lives there
        ("http://news.corp.example/news/1", None),  # ... and there (its own host, whatever it resolves to)
        ("https://alwasat.ly/news/1", None),  # public
        ("https://www.alwasat.ly/news/1", "private_address"),  # a subdomain gets no allowance
        ("https://feeds.example.net/rss", "private_address"),  # cloud metadata behind a feed host
        ("http://127.0.0.1:9999/admin", "offsite"),
        ("file:///etc/passwd", "scheme"),
    ],
)
def test_scope_middleware_judges_the_resolved_address(url: str, dropped: str | None) -> None:
    middleware, stats, _ = _middleware()
    if dropped is None:
        assert asyncio.run(middleware.process_request(Request(url))) is None
    else:
        with pytest.raises(IgnoreRequest):
            asyncio.run(middleware.process_request(Request(url)))
        assert stats.get_value(f"scope/dropped/{dropped}") == 1


def test_hosts_the_sites_live_on_are_not_resolved() -> None:
    middleware, _, asked = _middleware()
    asyncio.run(middleware.process_request(Request("http://127.0.0.1:8081/")))
    asyncio.run(middleware.process_request(Request("http://news.corp.example/")))
    assert asked == []


def test_site_hosts_allow_exact_hosts_and_ports_only() -> None:
    hosts = SiteHosts.of(SOURCES)
    assert hosts.lives_on("127.0.0.1", 8081)
    assert not hosts.lives_on("127.0.0.1", 8082)
    assert not hosts.lives_on("127.0.0.1", None)
    assert hosts.lives_on("news.corp.example", 8443)  # a bare host: any port
    assert not hosts.lives_on("x.news.corp.example", None)
    assert hosts.in_scope("x.news.corp.example", None)  # a page of the site, all the same
    assert url_refusal("http://127.0.0.1:8082/", ["127.0.0.1"], hosts) == "loopback"
    assert url_refusal("http://127.0.0.1:8081/", ["127.0.0.1"], hosts) is None
    assert address_refusal("8.8.8.8") is None


def test_resolver_caches_answers_and_answers_literals_itself() -> None:
    calls: list[str] = []

    async def lookup(host: str) -> Sequence[str]:
        calls.append(host)
        if host == "broken.example":
            raise OSError("no such host")
        return ["10.0.0.1"]

    async def scenario() -> list[tuple[str, ...]]:
        resolver = HostResolver(ttl=60, lookup=lookup)
        return [
            await resolver.resolve("Intranet.Example"),
            await resolver.resolve("intranet.example"),
            await resolver.resolve("127.0.0.2"),
            await resolver.resolve("[::1]"),
            await resolver.resolve("broken.example"),
        ]

    assert asyncio.run(scenario()) == [("10.0.0.1",), ("10.0.0.1",), ("127.0.0.2",), ("::1",), ()]
    assert calls == ["intranet.example", "broken.example"]
