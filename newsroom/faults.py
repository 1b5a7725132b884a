"""A fault-injecting Arabic news site on 127.0.0.1: one URL per network or content fault, for crawler tests.

``FaultSite`` is a small stdlib ``ThreadingHTTPServer`` (port 0 by default) serving a tiny news site (home,
robots.txt, sitemap, a few normal articles whose text comes from ``newsroom/corpus``) plus one article URL
per fault in ``FAULTS``: 5xx then 200, 429/503 with ``Retry-After``, a timeout, a connection reset, a body
shorter than its Content-Length, a trickled body, redirect loops and endless redirect chains, oversize bodies,
a gzip bomb, invalid bytes in the declared encoding, malformed HTML, PDF and image answers, and redirects out
of scope (another port, ``file:``). ``robots="5xx"``, ``"timeout"`` or ``"404"`` makes robots.txt itself fail;
``crawl_delay`` adds a ``Crawl-delay`` line to it.

Every request is logged (``requests``, ``count(path)``, ``times(path)``, with arrival and answer times) so a
test can prove how often the crawler asked for each URL, and how far apart (``spacings()``) and how many at
once (``max_in_flight()``). ``write_sources(path)`` writes the sources YAML the ``libya`` spider reads.

    with FaultSite(timeout=3.0) as site:
        site.write_sources(tmp / "sources.yaml")
        ...
        assert site.count("/news/flaky-5xx") == 3
"""

from __future__ import annotations

import contextlib
import gzip
import html
import itertools
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from .catalog import load_catalog
from .models import ArticleSpec

ARTICLE_PATTERN = r"^/news/"
MiB = 1024 * 1024

# What each fault URL does, and what a correct crawler does about it (docs/faults.md has the full table).
FAULTS: dict[str, str] = {
    "flaky-5xx": "500, then 502, then 200: retried twice, archived",
    "rate-limited": "429 with Retry-After: 1, then 200: retried after the delay, archived",
    "unavailable": "503 with Retry-After: 1, then 200: retried after the delay, archived",
    "unavailable-bare": "503 without Retry-After, then 200: the host backed off, retried, archived",
    "rate-limited-long": "429 with Retry-After: 3600 every time: not retried, failed (http_429)",
    "timeout": "never answers within the download timeout: retried, then failed (TimeoutError)",
    "reset-once": "connection reset (RST) on the first request, then 200: retried, archived",
    "truncated": "Content-Length larger than the body, then close: retried, then failed (ResponseFailed)",
    "trickle": "body trickled slower than the download timeout: retried, then failed (TimeoutError)",
    "redirect-loop": "302 a -> b -> a: stopped by the duplicate filter, never archived",
    "redirect-chain": "302 to ever new URLs: stopped at REDIRECT_MAX_TIMES, failed",
    "oversize": "body larger than DOWNLOAD_MAXSIZE: download cancelled, failed",
    "big": "body between DOWNLOAD_WARNSIZE and DOWNLOAD_MAXSIZE: warned, archived",
    "gzip-bomb": "small gzip body that inflates beyond DOWNLOAD_MAXSIZE: dropped after the WARC capture",
    "bad-bytes": "invalid UTF-8 bytes inside a page declared UTF-8: archived, text decoded with replacement",
    "malformed": "unclosed and mis-nested tags: archived",
    "pdf": "application/pdf: captured in the WARC, skipped as not HTML",
    "image": "image/jpeg: captured in the WARC, skipped as not HTML",
    "offsite-redirect": "302 to another port on 127.0.0.1 not in the sources file: dropped by scope",
    "file-redirect": "302 to file:///etc/passwd: dropped",
}
#: Fault URLs whose article must end up in the archive (the others must not).
ARCHIVED_FAULTS = (
    "flaky-5xx",
    "rate-limited",
    "unavailable",
    "unavailable-bare",
    "reset-once",
    "big",
    "bad-bytes",
    "malformed",
)
ROBOTS_MODES = ("ok", "5xx", "timeout", "404", "5xx-then-ok")


@dataclass(frozen=True)
class FaultRequest:
    """One request the site answered (or tried to)."""

    method: str
    path: str
    at: float  # time.monotonic() when the request line arrived
    headers: dict[str, str] = field(default_factory=dict)
    done: float | None = None  # time.monotonic() when the answer was written (None: still answering)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], site: FaultSite) -> None:
        super().__init__(address, _Handler)
        self.site = site


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is FaultSite.requests

    def do_GET(self) -> None:
        site = self.server.site
        index = site._record(FaultRequest("GET", self.path, time.monotonic(), dict(self.headers.items())))
        handler = site._route(self.path)
        # The crawler may hang up first (timeout, size limit): expected here.
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                handler(self)
                self.wfile.flush()
        finally:
            site._answered(index)

    # --- answers -----------------------------------------------------------------------------------
    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def send_html(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.send(status, body, "text/html; charset=utf-8", headers)

    def redirect(self, location: str) -> None:
        self.send(302, b"", "text/html; charset=utf-8", {"Location": location})

    def reset(self) -> None:
        # SO_LINGER with a zero timeout turns close() into a TCP RST instead of an orderly FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def stall(self, seconds: float) -> None:
        """Say nothing for ``seconds`` (or until the site stops), then close."""
        self.server.site._stopping.wait(seconds)
        self.close_connection = True


class FaultSite:
    """A fault-injecting news site; see the module docstring.

    ``timeout`` is the crawler's DOWNLOAD_TIMEOUT in the test: "slow" answers are made slower than it.
    ``max_size`` is the crawler's DOWNLOAD_MAXSIZE: "oversize" bodies and gzip bombs are made larger.
    ``warn_size`` is DOWNLOAD_WARNSIZE: the "big" page lies between the two.
    ``robots``: "ok", "5xx" (robots.txt always answers 503), "timeout" (robots.txt never answers), "404", or
    "5xx-then-ok" (503 to the first three requests, then the usual robots.txt).
    ``crawl_delay``: a ``Crawl-delay`` line for every user agent in robots.txt (seconds).
    ``articles``: how many normal articles; ``faults``: which fault URLs to serve (default: all).
    ``name`` is the site name in the sources file; ``offsite_url`` is where "offsite-redirect" points.
    ``first_story`` picks which corpus stories the pages use (two sites in one crawl should differ);
    ``article_delay`` slows every normal article answer down by that many seconds.
    """

    def __init__(
        self,
        name: str = "faults",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 3.0,
        max_size: int = 1 * MiB,
        warn_size: int = 256 * 1024,
        robots: str = "ok",
        articles: int = 3,
        faults: tuple[str, ...] | None = None,
        offsite_url: str = "http://127.0.0.1:9/news/elsewhere",
        first_story: int = 0,
        article_delay: float = 0.0,
        crawl_delay: float | None = None,
    ) -> None:
        if robots not in ROBOTS_MODES:
            raise ValueError(f"robots must be one of {ROBOTS_MODES}, not {robots!r}")
        unknown = set(faults or ()) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {sorted(FAULTS)}")
        if not 0 < warn_size < max_size:
            raise ValueError("need 0 < warn_size < max_size")
        self.name = name
        self.host = host
        self.timeout = timeout
        self.max_size = max_size
        self.warn_size = warn_size
        self.robots = robots
        self.faults = tuple(FAULTS) if faults is None else tuple(faults)
        self.offsite_url = offsite_url
        self.article_delay = article_delay
        self.crawl_delay = crawl_delay
        self._requests: list[FaultRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server((host, port), self)
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None
        stories = _relevant_stories()
        needed = articles + len(ARCHIVED_FAULTS)
        picked = [stories[(first_story + i) % len(stories)] for i in range(needed)]
        self._stories = iter(picked)
        self.normal_paths = [f"/news/story-{i + 1}" for i in range(articles)]
        self._pages: dict[str, bytes] = {path: self._article(path) for path in self.normal_paths}
        for fault in self.faults:
            if fault in ARCHIVED_FAULTS:
                self._pages[self.fault_path(fault)] = self._article(self.fault_path(fault))
        self._bomb = _gzip_bomb(max_size * 4)

    # --- life cycle --------------------------------------------------------------------------------
    def start(self) -> FaultSite:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"faultsite-{self.name}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FaultSite:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- addresses and gold ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    @staticmethod
    def fault_path(fault: str) -> str:
        return f"/news/{fault}"

    @property
    def expected_archived(self) -> list[str]:
        """URLs whose article text must end up in the manifest, exactly once."""
        paths = self.normal_paths + [self.fault_path(f) for f in self.faults if f in ARCHIVED_FAULTS]
        return [self.url(p) for p in paths]

    def sources(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "home": self.base_url,
            "allowed_domains": [self.netloc],
            "sitemaps": [self.url("/sitemap.xml")],
            "article_pattern": ARTICLE_PATTERN,
            "render": "never",
        }

    def write_sources(self, path: str | Path, *others: FaultSite) -> Path:
        """Write a sources YAML with this site (and ``others``); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = {"sites": [self.sources(), *(o.sources() for o in others)]}
        target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return target

    # --- request log -------------------------------------------------------------------------------
    def _record(self, request: FaultRequest) -> int:
        with self._lock:
            self._requests.append(request)
            return len(self._requests) - 1

    def _answered(self, index: int) -> None:
        with self._lock:
            request = self._requests[index]
            self._requests[index] = FaultRequest(
                request.method, request.path, request.at, request.headers, time.monotonic()
            )

    @property
    def requests(self) -> list[FaultRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, path: str) -> int:
        """Requests for ``path`` (path + query, as sent)."""
        with self._lock:
            return sum(1 for r in self._requests if r.path == path)

    def count_prefix(self, prefix: str) -> int:
        with self._lock:
            return sum(1 for r in self._requests if r.path.startswith(prefix))

    def times(self, path: str) -> list[float]:
        with self._lock:
            return [r.at for r in self._requests if r.path == path]

    def spacings(self) -> list[float]:
        """Seconds between consecutive arrivals, whatever the path."""
        times = sorted(r.at for r in self.requests)
        return [b - a for a, b in itertools.pairwise(times)]

    def max_in_flight(self) -> int:
        """The most requests the site was answering at one moment."""
        requests = self.requests
        events = sorted([(r.at, 1) for r in requests] + [(r.done or r.at, -1) for r in requests])
        most = current = 0
        for _, step in events:
            current += step
            most = max(most, current)
        return most

    # --- pages -------------------------------------------------------------------------------------
    def _article(self, path: str) -> bytes:
        spec = next(self._stories)
        return article_html(spec, self.url(path)).encode("utf-8")

    def _links(self) -> list[str]:
        return self.normal_paths + [self.fault_path(f) for f in self.faults]

    def _home(self) -> bytes:
        items = "".join(f'<li><a href="{p}">{html.escape(p)}</a></li>' for p in self._links())
        # Links a crawler must never follow: other schemes and a host that is not configured.
        bad = (
            '<li><a href="file:///etc/passwd">ملف</a></li>'
            '<li><a href="data:text/html,&lt;p&gt;x">بيانات</a></li>'
            f'<li><a href="{html.escape(self.offsite_url)}">موقع آخر</a></li>'
        )
        page = (
            '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
            f"<title>أخبار ليبيا — {self.name}</title></head><body><h1>آخر الأخبار</h1>"
            f"<ul>{items}{bad}</ul></body></html>"
        )
        return page.encode("utf-8")

    def _sitemap(self) -> bytes:
        urls = "".join(f"<url><loc>{html.escape(self.url(p))}</loc></url>" for p in self._links())
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        ).encode()

    def _robots(self) -> bytes:
        delay = f"Crawl-delay: {self.crawl_delay:g}\n" if self.crawl_delay is not None else ""
        return f"User-agent: *\nAllow: /\n{delay}Sitemap: {self.url('/sitemap.xml')}\n".encode()

    def _route(self, raw_path: str) -> Callable[[_Handler], None]:
        path = raw_path.split("?", 1)[0]
        if path == "/robots.txt":
            return self._answer_robots
        if path == "/":
            return lambda h: h.send_html(self._home())
        if path == "/sitemap.xml":
            return lambda h: h.send(200, self._sitemap(), "application/xml")
        if path in self.normal_paths:
            return lambda h: self._answer_article(h, path)
        fault = path.removeprefix("/news/").split("/", 1)[0]
        if path.startswith("/news/") and fault in self.faults:
            return lambda h: self._answer_fault(h, fault, raw_path)
        return lambda h: h.send_html("<html><body>غير موجودة</body></html>".encode(), status=404)

    def _answer_article(self, h: _Handler, path: str) -> None:
        if self.article_delay:
            self._stopping.wait(self.article_delay)  # a slower site, so a test can stop a crawl midway
        h.send_html(self._pages[path])

    def _answer_robots(self, h: _Handler) -> None:
        if self.robots == "5xx" or (self.robots == "5xx-then-ok" and self.count("/robots.txt") <= 3):
            h.send(503, b"Service Unavailable", "text/plain")
        elif self.robots == "timeout":
            h.stall(self.timeout * 3)
        elif self.robots == "404":
            # RFC 9309: a 4xx robots.txt means "no rules", whatever its body says.
            h.send(404, b"User-agent: *\nDisallow: /\n", "text/plain")
        else:
            h.send(200, self._robots(), "text/plain")

    def _answer_fault(self, h: _Handler, fault: str, raw_path: str) -> None:
        path = raw_path.split("?", 1)[0]
        nth = self.count(path)  # this request included
        page = self._pages.get(path, b"")
        if fault == "flaky-5xx":
            if nth <= 2:
                h.send_html(b"<h1>Internal error</h1>", status=500 if nth == 1 else 502)
            else:
                h.send_html(page)
        elif fault in ("rate-limited", "unavailable"):
            if nth == 1:
                h.send_html(
                    b"<h1>Slow down</h1>", 429 if fault == "rate-limited" else 503, {"Retry-After": "1"}
                )
            else:
                h.send_html(page)
        elif fault == "unavailable-bare":
            if nth == 1:
                h.send_html(b"<h1>Busy</h1>", 503)
            else:
                h.send_html(page)
        elif fault == "rate-limited-long":
            h.send_html(b"<h1>Come back tomorrow</h1>", 429, {"Retry-After": "3600"})
        elif fault == "timeout":
            h.stall(self.timeout * 3)
        elif fault == "reset-once":
            if nth == 1:
                h.rfile.read(0)
                h.reset()
            else:
                h.send_html(page)
        elif fault == "truncated":
            body = article_filler(4000)
            h.send_response(200)
            h.send_header("Content-Type", "text/html; charset=utf-8")
            h.send_header("Content-Length", str(len(body) * 3))
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
            h.close_connection = True
        elif fault == "trickle":
            body = article_filler(2000)
            h.send_response(200)
            h.send_header("Content-Type", "text/html; charset=utf-8")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            step = max(1, len(body) // 40)
            for start in range(0, len(body), step):
                if self._stopping.wait(self.timeout * 2 / 40):
                    break
                h.wfile.write(body[start : start + step])
                h.wfile.flush()
        elif fault == "redirect-loop":
            h.redirect("/news/redirect-loop/b" if not path.endswith("/b") else "/news/redirect-loop")
        elif fault == "redirect-chain":
            h.redirect(f"/news/redirect-chain?hop={self.count_prefix('/news/redirect-chain')}")
        elif fault == "oversize":
            h.send_html(article_filler(self.max_size * 2))
        elif fault == "big":
            # Padding after </html> keeps the article intact while the body passes DOWNLOAD_WARNSIZE.
            padding = b"<!--" + b"x" * (self.warn_size + (self.max_size - self.warn_size) // 2) + b"-->"
            h.send_html(page + padding)
        elif fault == "gzip-bomb":
            h.send(200, self._bomb, "text/html; charset=utf-8", {"Content-Encoding": "gzip"})
        elif fault == "bad-bytes":
            broken = page.replace(b"<p>", b"<p>\xff\xfe\xc3(", 2)
            h.send_html(broken)
        elif fault == "malformed":
            broken = (
                page.replace(b"</p>", b"").replace(b"</article>", b"</div></span>").replace(b"</html>", b"")
            )
            h.send_html(b"<table><tr><td>" + broken)
        elif fault == "pdf":
            h.send(
                200,
                b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
                "application/pdf",
            )
        elif fault == "image":
            jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
            h.send(200, jpeg, "image/jpeg")
        elif fault == "offsite-redirect":
            h.redirect(self.offsite_url)
        elif fault == "file-redirect":
            h.redirect("file:///etc/passwd")
        else:  # pragma: no cover - FAULTS and this dispatch are kept in step by the constructor check
            raise AssertionError(fault)


def _relevant_stories() -> list[ArticleSpec]:
    catalog = load_catalog()
    return [spec for specs in catalog.values() for spec in specs if spec.case == "plain"]


def article_html(spec: ArticleSpec, url: str) -> str:
    """A plain article page for ``spec`` at ``url`` (canonical link, date, byline, paragraphs)."""
    published = spec.published.isoformat()
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in spec.paragraphs)
    byline = f'<p class="byline">{html.escape(spec.author)}</p>' if spec.author else ""
    title = html.escape(spec.title)
    return (
        '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
        f'<title>{title}</title><link rel="canonical" href="{html.escape(url)}">'
        f'<meta property="article:published_time" content="{published}"></head>'
        '<body><nav><a href="/">الرئيسية</a></nav><article>'
        f'<h1>{title}</h1>{byline}<time datetime="{published}">{published[:10]}</time>'
        f"{paras}</article><footer>جميع الحقوق محفوظة</footer></body></html>"
    )


def article_filler(size: int) -> bytes:
    """An HTML page of about ``size`` bytes of Arabic text (for truncated, trickled and oversize bodies)."""
    head = b'<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8"><title>x</title></head><body>'
    para = (
        "<p>أعلنت المؤسسة الوطنية للنفط في ليبيا استئناف الإنتاج في حقل الشرارة جنوب غرب البلاد.</p>".encode()
    )
    count = max(1, (size - len(head)) // len(para))
    return head + para * count + b"</body></html>"


def _gzip_bomb(inflated: int) -> bytes:
    """A gzip stream of ``inflated`` bytes of spaces inside an HTML page (a few kilobytes compressed)."""
    chunk = b" " * MiB
    out = gzip.compress(b"<html><body>" + chunk * max(1, inflated // MiB) + b"</body></html>", 9)
    return out
