"""The newsroom server: one stdlib ``ThreadingHTTPServer`` per site on 127.0.0.1, each in a daemon thread.

Pages are rendered once at start (and again for one site after ``publish``/``edit``/``set_template``);
a request is a dictionary lookup plus conditional-request and gzip handling. Every request is appended
to an in-memory log (``Newsroom.requests``) that tests use to prove what a crawler did or did not fetch.

Besides the sites, an ``outside`` listener on another loopback address (127.0.0.2, where no site lives and
which no sources file names) logs every request that reaches it under the site name ``outside`` (TCP, and
UDP datagrams as method ``UDP``): the gated site's probe article points its script there.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from .catalog import SITE_NAMES, load_catalog
from .dates import LIBYA_TZ, iso
from .models import RELEVANT_CASES, ArticleSpec, GoldArticle, RequestRecord
from .sites import RENDERERS
from .sites.base import Resource, SiteRenderer, route_key
from .sites.gated import CHALLENGE_COOKIE, GatedSite, challenge_page

logger = logging.getLogger(__name__)

NOT_FOUND = Resource(
    '<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8"><title>404</title></head>'
    "<body><h1>الصفحة غير موجودة</h1></body></html>".encode(),
    "text/html; charset=utf-8",
    status=404,
)
FORBIDDEN_API = Resource(b'{"error": "challenge required"}', "application/json", status=403)


@dataclass
class Site:
    """One running site: its name, port and base URL (with trailing slash)."""

    name: str
    host: str
    port: int
    renderer: SiteRenderer
    server: ThreadingHTTPServer
    routes: dict[str, Resource]
    template: str = "v1"
    thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], newsroom: Newsroom, name: str) -> None:
        super().__init__(address, _Handler)
        self.newsroom = newsroom
        self.site_name = name


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.server.site_name, format % args)

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        newsroom = self.server.newsroom
        name = self.server.site_name
        newsroom._record(RequestRecord(name, self.command, self.path, dict(self.headers.items())))
        site = newsroom.sites[name]
        resource = site.routes.get(route_key(self.path), NOT_FOUND)
        if resource.gate and not self._passed_challenge():
            resource = site.routes["__challenge__"] if resource.gate == "html" else FORBIDDEN_API
        if resource.stream_bytes:
            self._stream(resource, head)
            return
        encoding = ""
        body = resource.body
        etag = resource.etag
        if (
            site.renderer.gzip_encoding
            and resource.compressible
            and "gzip" in (self.headers.get("Accept-Encoding") or "")
        ):
            encoding = "gzip"
            body = resource.gzipped
            etag = etag[:-1] + '-gzip"'
        if resource.status == 200 and self._not_modified(resource, etag):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", resource.http_last_modified)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(resource.status)
        self.send_header("Content-Type", resource.content_type)
        self.send_header("Content-Length", str(len(body)))
        if resource.status == 200:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", resource.http_last_modified)
        if site.renderer.gzip_encoding:
            self.send_header("Vary", "Accept-Encoding")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        for key, value in resource.headers:
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _stream(self, resource: Resource, head: bool) -> None:
        self.send_response(resource.status)
        self.send_header("Content-Type", resource.content_type)
        self.send_header("Content-Length", str(resource.stream_bytes))
        self.end_headers()
        if head:
            return
        chunk = bytes(1 << 20)
        left = resource.stream_bytes
        try:
            while left > 0:
                self.wfile.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading: what a size cap does

    def _passed_challenge(self) -> bool:
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie") or "")
        except CookieError:
            return False
        morsel = cookie.get(CHALLENGE_COOKIE[0])
        return morsel is not None and morsel.value == CHALLENGE_COOKIE[1]

    def _not_modified(self, resource: Resource, etag: str) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or etag in tags or resource.etag in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                return False
            return resource.last_modified <= since
        return False


class _OutsideHandler(BaseHTTPRequestHandler):
    """Any request that reaches the ``outside`` address is logged and answered with a small page."""

    server: _OutsideServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.warning("outside %s", format % args)

    def do_GET(self) -> None:
        self.server.newsroom._record(
            RequestRecord("outside", self.command, self.path, dict(self.headers.items()))
        )
        body = b"<!DOCTYPE html><title>outside</title><p>secret from a host no site lives on</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


class _OutsideServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], newsroom: Newsroom) -> None:
        super().__init__(address, _OutsideHandler)
        self.newsroom = newsroom


class Newsroom:
    """Five offline Arabic news sites with gold articles; see ``docs/design.md``.

    ``Newsroom(host="127.0.0.1", base_port=0)``: port 0 lets the OS choose; ``base_port=N`` binds the
    sites on N, N+1, ... in the order of ``SITE_NAMES``.
    """

    def __init__(self, host: str = "127.0.0.1", base_port: int = 0, outside_host: str = "127.0.0.2") -> None:
        self.host = host
        self.base_port = base_port
        self.outside_host = outside_host
        self._outside: _OutsideServer | None = None
        self._outside_udp: socket.socket | None = None
        self._udp_thread: threading.Thread | None = None
        self._outside_thread: threading.Thread | None = None
        self.sites: dict[str, Site] = {}
        self._catalog: dict[str, list[ArticleSpec]] = load_catalog()
        self._articles: list[GoldArticle] = []
        self._requests: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._lock = threading.RLock()
        self._started = False

    # ---- life cycle --------------------------------------------------------------------------------
    def start(self) -> Newsroom:
        """Bind every site, render all pages and start serving; returns self."""
        if self._started:
            return self
        servers: dict[str, _SiteServer] = {}
        try:
            for index, name in enumerate(SITE_NAMES):
                port = self.base_port + index if self.base_port else 0
                servers[name] = _SiteServer((self.host, port), self, name)
        except OSError:
            for server in servers.values():
                server.server_close()
            raise
        bases = {name: f"http://{self.host}:{srv.server_address[1]}/" for name, srv in servers.items()}
        outside_url = self._start_outside()
        for name, srv in servers.items():
            renderer = RENDERERS[name](bases[name], bases)
            if isinstance(renderer, GatedSite) and outside_url and self._outside_udp is not None:
                renderer.outside_url = outside_url
                renderer.outside_stun = f"{self.outside_host}:{self._outside_udp.getsockname()[1]}"
            self.sites[name] = Site(name, self.host, int(srv.server_address[1]), renderer, srv, {})
        for name in SITE_NAMES:
            self._render(name)
        self._refresh_articles()
        for site in self.sites.values():
            thread = threading.Thread(
                target=site.server.serve_forever,
                kwargs={"poll_interval": 0.2},
                name=f"newsroom-{site.name}",
                daemon=True,
            )
            site.thread = thread
            thread.start()
        self._started = True
        logger.info("newsroom started: %s", ", ".join(f"{s.name}={s.base_url}" for s in self.sites.values()))
        return self

    def _start_outside(self) -> str | None:
        try:
            self._outside = _OutsideServer((self.outside_host, 0), self)
        except OSError as exc:  # no such loopback address here: the probe then aims at a closed port
            logger.warning("newsroom: no outside listener on %s: %s", self.outside_host, exc)
            return None
        self._outside_thread = threading.Thread(
            target=self._outside.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="newsroom-outside",
            daemon=True,
        )
        self._outside_thread.start()
        self._outside_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._outside_udp.bind((self.outside_host, 0))
        threading.Thread(
            target=self._listen_udp, args=(self._outside_udp,), name="newsroom-udp", daemon=True
        ).start()
        return self.outside_url

    def _listen_udp(self, sock: socket.socket) -> None:
        """Datagrams to the outside address (WebRTC's STUN requests) are logged as method ``UDP``."""
        while self._outside_udp is sock:
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self._record(RequestRecord("outside", "UDP", f"{len(data)} bytes from {peer[0]}", {}))

    @property
    def outside_url(self) -> str | None:
        """The base URL of the ``outside`` listener (None when it could not bind)."""
        if self._outside is None:
            return None
        return f"http://{self.outside_host}:{self._outside.server_address[1]}/"

    def stop(self) -> None:
        """Stop serving and close every socket."""
        if self._outside is not None:
            self._outside.shutdown()
            self._outside.server_close()
            if self._outside_thread is not None:
                self._outside_thread.join(timeout=5)
            self._outside = self._outside_thread = None
        if self._outside_udp is not None:
            sock, self._outside_udp = self._outside_udp, None
            if self._udp_thread is not None:
                self._udp_thread.join(timeout=5)
            sock.close()
        for site in self.sites.values():
            if site.thread is not None:
                site.server.shutdown()
                site.thread.join(timeout=5)
                site.thread = None
            site.server.server_close()
        self._started = False

    def __enter__(self) -> Newsroom:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- gold --------------------------------------------------------------------------------------
    @property
    def articles(self) -> list[GoldArticle]:
        """Gold articles of all sites (URLs need the ports, so only after ``start``)."""
        if not self.sites:
            raise RuntimeError("Newsroom.articles needs start(): article URLs carry the ports")
        return list(self._articles)

    def article(self, article_id: str) -> GoldArticle:
        for gold in self._articles:
            if gold.id == article_id:
                return gold
        raise KeyError(article_id)

    @property
    def challenge_cookie(self) -> dict[str, str]:
        """The cookie the ``gated`` site's JavaScript challenge sets (for tests that skip the browser)."""
        return {CHALLENGE_COOKIE[0]: CHALLENGE_COOKIE[1]}

    def _gold(self, site: Site, spec: ArticleSpec) -> GoldArticle:
        url = site.renderer.article_url(spec)
        published = iso(spec.published) if spec.has_time else spec.published.date().isoformat()
        return GoldArticle(
            id=spec.id,
            site=spec.site,
            url=url,
            canonical_url=url,
            title=spec.title,
            author=spec.author,
            published=published,
            language="ar",
            paragraphs=list(spec.paragraphs),
            relevant=spec.relevant,
            relevance_case=spec.case,
            gated=spec.site == "gated",
            discovery=spec.discovery,
            modified=iso(spec.modified),
            section=spec.section,
            story=spec.story or spec.id,
        )

    def _refresh_articles(self) -> None:
        self._articles = [
            self._gold(self.sites[s.site], s) for name in SITE_NAMES for s in self._catalog[name]
        ]

    def _render(self, name: str) -> None:
        site = self.sites[name]
        routes = site.renderer.build(self._catalog[name], site.template)
        if name == "gated":
            routes["__challenge__"] = challenge_page()
        site.routes = routes  # one reference swap: handlers see the old or the new table, never a mix

    # ---- sources file ------------------------------------------------------------------------------
    def sources(self) -> dict[str, Any]:
        """The sources document (the schema ``crawler.sources`` reads) for the running sites."""
        entries = []
        for name in SITE_NAMES:
            site = self.sites[name]
            r = site.renderer
            entry: dict[str, Any] = {
                "name": name,
                "home": site.base_url,
                "allowed_domains": [site.netloc],
                "sitemaps": [r.url(r.sitemap_index)],
                "feeds": [r.url(p) for p in r.feed_paths],
                "sections": [r.url(r.section_path(s, 1)) for s in r.sections],
                "article_pattern": r.article_pattern,
                "render": r.render,
            }
            if r.render_wait_selector:
                entry["render_wait_selector"] = r.render_wait_selector
            entries.append(entry)
        return {"sites": entries}

    def write_sources(self, path: str | Path) -> Path:
        """Write the sources YAML for the running sites; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = "# Written by newsroom.Newsroom.write_sources for the offline newsroom.\n"
        text += yaml.safe_dump(self.sources(), allow_unicode=True, sort_keys=False, width=200)
        target.write_text(text, encoding="utf-8")
        return target

    # ---- request log ----------------------------------------------------------------------------
    def _record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._requests.append(record)

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request served so far, oldest first."""
        with self._log_lock:
            return list(self._requests)

    def count(self, site: str, path: str) -> int:
        """How many requests ``site`` answered for exactly ``path`` (path + query, as sent)."""
        with self._log_lock:
            return sum(1 for r in self._requests if r.site == site and r.path == path)

    def requests_for(self, site: str) -> list[RequestRecord]:
        with self._log_lock:
            return [r for r in self._requests if r.site == site]

    def reset_requests(self) -> None:
        with self._log_lock:
            self._requests.clear()

    # ---- runtime changes ------------------------------------------------------------------------
    def publish(
        self,
        site: str,
        title: str,
        paragraphs: Sequence[str],
        author: str | None = None,
        relevance_case: str = "plain",
        published: datetime | None = None,
        slug: str | None = None,
    ) -> GoldArticle:
        """Add a new article dated now; it appears in the site's sitemaps, feed, first section page, home."""
        with self._lock:
            specs = self._catalog[site]
            number = max(s.number for s in specs) + 1
            when = (published or datetime.now(LIBYA_TZ)).replace(microsecond=0)
            spec = ArticleSpec(
                id=f"{site}-{number:03d}",
                site=site,
                number=number,
                key=slug or f"breaking-{number}",
                slug=slug or f"breaking-{number}",
                title=title,
                author=author,
                published=when,
                modified=when,
                paragraphs=list(paragraphs),
                case=relevance_case,
                section="libya" if relevance_case in RELEVANT_CASES else "world",
                discovery=("sitemap", "news_sitemap", "feed", "section"),
                has_time=site != "legacy",
            )
            specs.append(spec)
            self._render(site)
            self._refresh_articles()
            return self.article(spec.id)

    def edit(self, article_id: str, paragraphs: Sequence[str]) -> GoldArticle:
        """Replace an article's body; its ETag, Last-Modified and sitemap lastmod change."""
        with self._lock:
            spec = self._spec(article_id)
            spec.paragraphs = list(paragraphs)
            now = datetime.now(LIBYA_TZ).replace(microsecond=0)
            spec.modified = max(now, spec.modified + timedelta(seconds=1))
            self._render(spec.site)
            self._refresh_articles()
            return self.article(article_id)

    def set_template(self, site: str, version: str) -> None:
        """Switch a site's article template ("v1" or "v2", a redesign that moves the body elsewhere)."""
        with self._lock:
            target = self.sites[site]
            previous = target.template
            target.template = version
            try:
                self._render(site)
            except ValueError:
                target.template = previous
                raise

    def _spec(self, article_id: str) -> ArticleSpec:
        for spec in itertools.chain.from_iterable(self._catalog.values()):
            if spec.id == article_id:
                return spec
        raise KeyError(article_id)

    def specs(self) -> Iterator[ArticleSpec]:
        return itertools.chain.from_iterable(self._catalog.values())
