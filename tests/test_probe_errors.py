"""``scrapy probe`` on bad input: one clear ``error:`` line and an exit code, never a traceback; politeness."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.crawling import run_scrapy, scrapy_command
from tests.localserver import serve

HOME = b"""<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>site</title></head>
<body><nav><a href="/">home</a></nav><main><a href="/news/2021/first-story-here">first</a></main></body></html>"""


def _handler(routes: dict[str, tuple[int, str, bytes]], log: list[tuple[float, str]]) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            log.append((time.monotonic(), self.path))
            status, kind, body = routes.get(self.path, (404, "text/plain", b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def site() -> Iterator[tuple[dict[str, tuple[int, str, bytes]], list[tuple[float, str]], str]]:
    routes: dict[str, tuple[int, str, bytes]] = {}
    log: list[tuple[float, str]] = []
    with serve(_handler(routes, log)) as base:
        yield routes, log, base


def _probe(url: str, *options: str) -> tuple[int, str, str]:
    proc = run_scrapy(scrapy_command("probe", url, *options), timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_unreachable_site() -> None:
    code, out, err = _probe(f"http://127.0.0.1:{_closed_port()}/", "--delay", "0")
    assert code == 1, err
    assert "Traceback" not in err
    assert "error:" in err and "robots.txt could not be read" in err, err
    assert "sites:" not in out


def test_robots_txt_that_forbids_everything(site: tuple) -> None:
    routes, log, base = site
    routes["/robots.txt"] = (200, "text/plain", b"User-agent: *\nDisallow: /\n")
    routes["/"] = (200, "text/html; charset=utf-8", HOME)
    code, _out, err = _probe(base + "/", "--delay", "0")
    assert code == 1, err
    assert "Traceback" not in err
    assert "robots.txt forbids it" in err, err
    assert [path for _, path in log] == ["/robots.txt"]  # the home page itself was never asked for


def test_robots_txt_answering_500_keeps_the_probe_off(site: tuple) -> None:
    routes, log, base = site
    routes["/robots.txt"] = (500, "text/plain", b"oops")
    routes["/"] = (200, "text/html; charset=utf-8", HOME)
    code, _, err = _probe(base + "/", "--delay", "0")
    assert code == 1 and "Traceback" not in err
    assert "robots.txt could not be read" in err, err
    assert "/" not in {path for _, path in log}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, "application/pdf", b"%PDF-1.4 not a page"), "is not an HTML page (application/pdf)"),
        ((404, "text/html", b"<html><body>gone</body></html>"), "HTTP 404"),
    ],
)
def test_a_home_page_that_is_not_a_page(site: tuple, answer: tuple[int, str, bytes], message: str) -> None:
    routes, _, base = site
    routes["/report.pdf"] = answer
    code, out, err = _probe(base + "/report.pdf", "--delay", "0")
    assert code == 1, err
    assert "Traceback" not in err
    assert message in err, err
    assert out == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ftp://example.org/",), "is not an http(s) URL"),
        (("http://127.0.0.1/", "--budget", "1"), "--budget 1: at least 3"),
        (("http://127.0.0.1/", "--name", "Bad Name"), "--name 'Bad Name'"),
        (("http://127.0.0.1/", "--delay", "-1"), "--delay -1"),
    ],
)
def test_bad_options(args: tuple[str, ...], message: str) -> None:
    code, _, err = _probe(*args)
    assert code == 2
    assert message in err and "Traceback" not in err, err


def test_the_probe_is_polite_and_bounded(site: tuple) -> None:
    """robots.txt first, the delay between any two requests, the site's Crawl-delay, and the budget."""
    routes, log, base = site
    routes["/robots.txt"] = (
        200,
        "text/plain",
        f"User-agent: *\nCrawl-delay: 0.6\nSitemap: {base}/sm.xml\n".encode(),
    )
    links = "".join(f'<a href="/news/2021/story-number-{n}">story {n}</a>' for n in range(30))
    routes["/"] = (200, "text/html; charset=utf-8", HOME.replace(b"</main>", links.encode() + b"</main>"))
    index = "".join(f"<sitemap><loc>{base}/sm-{n}.xml</loc></sitemap>" for n in range(10))
    routes["/sm.xml"] = (200, "application/xml", f'<sitemapindex xmlns="x">{index}</sitemapindex>'.encode())
    code, out, err = _probe(base + "/", "--delay", "0.3", "--budget", "6", "--sample", "2")
    assert code == 0, err
    paths = [path for _, path in log]
    assert paths[0] == "/robots.txt" and paths[1] == "/"
    assert len(paths) <= 6
    assert "# left out by the budget or --max-sitemaps: " in out, out
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(log)]
    # Crawl-delay 0.6 (above --delay 0.3) is a floor between two starts; seen from the server, a start is
    # a connection's arrival, which a loaded machine delays by some tens of milliseconds more or less.
    assert min(gaps) >= 0.45, gaps


def test_the_delay_option_spaces_requests(site: tuple) -> None:
    routes, log, base = site
    routes["/robots.txt"] = (200, "text/plain", b"User-agent: *\nDisallow: /private/\n")
    links = "".join(f'<a href="/news/2021/story-number-{n}">story {n}</a>' for n in range(5))
    routes["/"] = (200, "text/html; charset=utf-8", HOME.replace(b"</main>", links.encode() + b"</main>"))
    code, _, err = _probe(base + "/", "--delay", "0.4", "--sample", "3")
    assert code == 0, err
    assert len(log) >= 4
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(log)]
    assert min(gaps) >= 0.3, gaps  # --delay 0.4, with the same allowance
