"""``gated``: a JavaScript-gated site (CDN challenge, then a client-side rendered article app).

Without the ``nr_challenge`` cookie every HTML page is a challenge shell whose script sets the cookie
and reloads. With it, an article page is an empty app shell; ``/static/app.js`` fetches
``/api/articles/<n>.json`` (cookie required too) and renders title, author, date and paragraphs.
robots.txt, sitemaps, the feed and static files are served without the challenge, as CDNs do.

One article (the site's first, ``probe_path``) is hostile as well: its ``/static/probe.js`` tries what a
compromised page would, so a crawl can prove its browser stays in bounds. It ``fetch()``es another loopback
address where no site lives (``outside_url``, 127.0.0.2: the newsroom's ``outside`` listener logs whatever
reaches it), opens a WebSocket there (a non-http scheme), asks for a ``file:`` URL, starts a worker that
fetches from there, sends WebRTC STUN requests (UDP) there, loads an
image from the site that redirects there, loads an image and an iframe from there, and reads ``/static/big.bin``, 100 MB from the site itself. The article still renders:
its text arrives by the usual XHR.
"""

from __future__ import annotations

import json
import logging
from typing import ClassVar

from ..dates import iso, standard_date
from ..models import ArticleSpec
from .base import NO_JS, Resource, SiteRenderer, esc, html_resource, image_resource

logger = logging.getLogger(__name__)

SITE_TITLE = "الرصد"
CHALLENGE_COOKIE = ("nr_challenge", "c7f3a9e2b1d04e6f")

CHALLENGE_JS = f"""(function () {{
  document.cookie = "{CHALLENGE_COOKIE[0]}={CHALLENGE_COOKIE[1]}; path=/; max-age=86400";
  window.location.reload();
}})();
"""

APP_JS = """(function () {
  var app = document.getElementById("app");
  if (!app) { return; }
  var layout = app.getAttribute("data-layout") || "v1";
  var xhr = new XMLHttpRequest();
  xhr.open("GET", "/api/articles/" + app.getAttribute("data-article-id") + ".json");
  xhr.onload = function () {
    if (xhr.status !== 200) { app.textContent = "تعذر تحميل المقال"; return; }
    var data = JSON.parse(xhr.responseText);
    document.title = data.title + " | " + data.site_name;
    var root = document.createElement(layout === "v2" ? "section" : "article");
    root.className = layout === "v2" ? "reader" : "story";
    var h1 = document.createElement("h1");
    h1.textContent = data.title;
    root.appendChild(h1);
    var meta = document.createElement("div");
    meta.className = "meta";
    if (data.author) {
      var by = document.createElement("span");
      by.className = "author";
      by.textContent = data.author;
      meta.appendChild(by);
    }
    var time = document.createElement("time");
    time.setAttribute("datetime", data.published);
    time.textContent = data.published_display;
    meta.appendChild(time);
    root.appendChild(meta);
    var body = document.createElement("div");
    body.className = layout === "v2" ? "reader-text" : "story-body";
    data.paragraphs.forEach(function (text) {
      var block = document.createElement(layout === "v2" ? "div" : "p");
      block.textContent = text;
      body.appendChild(block);
    });
    root.appendChild(body);
    app.appendChild(root);
  };
  xhr.send();
})();
"""

PROBE_BYTES = 100 * 1024 * 1024
PROBE_JS = """(function () {
  var outside = "%(outside)s";
  function ignore() {}
  fetch(outside + "probe/fetch", {mode: "no-cors"}).catch(ignore);
  fetch("file:///etc/passwd").catch(ignore);
  try {
    var ws = new WebSocket(outside.replace(/^http/, "ws") + "probe/socket");
    ws.onerror = ignore;
  } catch (e) {}
  try {
    var job = 'fetch("' + outside + 'probe/worker").catch(function () {});';
    new Worker(URL.createObjectURL(new Blob([job], {type: "text/javascript"})));
  } catch (e) {}
  try {
    var peer = new RTCPeerConnection({iceServers: [{urls: "stun:%(stun)s"}]});
    peer.createDataChannel("probe");
    peer.createOffer().then(function (offer) { return peer.setLocalDescription(offer); }).catch(ignore);
  } catch (e) {}
  var img = new Image();
  img.src = outside + "probe/image.png";
  var hop = new Image();
  hop.src = "/static/to-outside.png";
  document.body.appendChild(img);
  var frame = document.createElement("iframe");
  frame.src = outside + "probe/frame.html";
  document.body.appendChild(frame);
  fetch("/static/big.bin").then(function (r) {
    var reader = r.body.getReader();
    function pump() { return reader.read().then(function (chunk) { if (!chunk.done) { return pump(); } }); }
    return pump();
  }).catch(ignore);
})();
"""

APP_CSS = b"body{direction:rtl;font-family:sans-serif}#app{min-height:400px}.story-body p{line-height:1.8}"


def challenge_page() -> Resource:
    """The shell served instead of any HTML page to a client without the challenge cookie."""
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Just a moment...</title>
<meta name="robots" content="noindex, nofollow">
<link rel="stylesheet" href="/static/app.css">
<link rel="alternate" type="application/rss+xml" title="{SITE_TITLE}" href="/rss.xml">
</head><body>
<noscript><p>{NO_JS}</p></noscript>
<div class="challenge"><p>{NO_JS}</p><p>Checking your browser before accessing the site.</p></div>
<script src="/static/challenge.js"></script>
</body></html>"""
    resource = html_resource(text)
    resource.headers = (("Cache-Control", "no-store"),)
    return resource


class GatedSite(SiteRenderer):
    name = "gated"
    display_name = SITE_TITLE
    page_gate = "html"
    render_wait_selector = "#app h1"
    article_pattern = r"^/news/\d+$"
    sitemap_index = "/sitemap_index.xml"
    sitemap_plain = "/sitemaps/posts.xml"
    sitemap_gz = "/sitemaps/posts-archive.xml.gz"
    sitemap_news = "/sitemaps/news.xml"
    feed_paths = ("/rss.xml",)
    disallow = ("/admin/",)
    section_names: ClassVar[dict[str, str]] = {"libya": "ليبيا", "world": "العالم العربي"}
    # Where the probe article's script reaches out to: set by the newsroom to its ``outside`` listener.
    outside_url = "http://127.0.0.2:9/"
    outside_stun = "127.0.0.2:9"

    @property
    def probe_number(self) -> int:
        return min((spec.number for spec in self.articles), default=0)

    @property
    def probe_path(self) -> str:
        return f"/news/{700 + self.probe_number}"

    def article_path(self, spec: ArticleSpec) -> str:
        return f"/news/{700 + spec.number}"

    def section_path(self, section: str, page: int) -> str:
        return f"/{section}/" if page == 1 else f"/{section}/page/{page}/"

    def head(self, title: str, extra: str = "") -> str:
        return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css">
<link rel="alternate" type="application/rss+xml" title="{SITE_TITLE}" href="{self.url("/rss.xml")}">
{extra}</head><body>
<header class="topbar"><a href="/"><img src="/static/logo.png" alt="{SITE_TITLE}" width="120" height="40"></a>
<nav><a href="{self.section_path("libya", 1)}">ليبيا</a> <a href="{self.section_path("world", 1)}">العالم العربي</a></nav></header>
<noscript>{NO_JS}</noscript>"""

    def tail(self, probe: bool = False) -> str:
        links = " ".join(f'<a href="{esc(h)}">{esc(t)}</a>' for h, t in self.noise_links())
        script = '<script src="/static/probe.js"></script>' if probe else ""
        return f"""<footer class="bottom">{links}<p>جميع الحقوق محفوظة © {SITE_TITLE}</p></footer>
<script src="/static/app.js"></script>{script}</body></html>"""

    def listing(self, items: list[ArticleSpec]) -> str:
        return "".join(
            f'<li><a href="{self.article_path(a)}">{esc(a.title)}</a> <time datetime="{iso(a.published)}">'
            f"{standard_date(a.published)}</time></li>"
            for a in items
        )

    def render_home(self) -> str:
        return (
            self.head(SITE_TITLE)
            + f"<main><h1>آخر الأخبار</h1><ul>{self.listing(self.linkable()[:10])}</ul></main>"
            + self.tail()
        )

    def render_section(self, section: str, page: int, pages: int, items: list[ArticleSpec]) -> str:
        nav = ""
        if page < pages:
            nav = (
                f'<a class="next" rel="next" href="{self.section_path(section, page + 1)}">الصفحة التالية</a>'
            )
        name = self.section_names[section]
        return (
            self.head(f"{name} | {SITE_TITLE}")
            + f"<main><h1>{name}</h1><ul>{self.listing(items)}</ul>{nav}</main>"
            + self.tail()
        )

    def render_article(self, spec: ArticleSpec) -> str:
        extra = f'<link rel="canonical" href="{esc(self.article_url(spec))}">'
        layout = ' data-layout="v2"' if self.template == "v2" else ""
        return (
            self.head(SITE_TITLE, extra)
            + f'<div id="app" data-article-id="{700 + spec.number}"{layout}></div>'
            + self.tail(probe=spec.number == self.probe_number)
        )

    def api_body(self, spec: ArticleSpec) -> bytes:
        data = {
            "id": spec.id,
            "site_name": SITE_TITLE,
            "title": spec.title,
            "author": spec.author,
            "published": iso(spec.published),
            "published_display": standard_date(spec.published),
            "section": self.section_names[spec.section],
            "paragraphs": spec.paragraphs,
        }
        return json.dumps(data, ensure_ascii=False).encode()

    def feeds(self) -> dict[str, Resource]:
        items = self.sorted_articles("feed")
        descriptions = {a.id: " ".join(a.paragraphs[0].split()[:12]) + " …" for a in items}
        return {"/rss.xml": self.rss(items, descriptions, "/rss.xml")}

    def extra_routes(self) -> dict[str, Resource]:
        routes = {
            "/static/challenge.js": Resource(CHALLENGE_JS.encode(), "application/javascript; charset=utf-8"),
            "/static/app.js": Resource(APP_JS.encode(), "application/javascript; charset=utf-8"),
            "/static/app.css": Resource(APP_CSS, "text/css; charset=utf-8"),
            "/static/logo.png": image_resource(),
            "/static/probe.js": Resource(
                (PROBE_JS % {"outside": self.outside_url, "stun": self.outside_stun}).encode(),
                "application/javascript; charset=utf-8",
            ),
            "/static/big.bin": Resource(b"", "application/octet-stream", stream_bytes=PROBE_BYTES),
            # An allowed URL that redirects to the outside address (an open redirect on the site).
            "/static/to-outside.png": Resource(
                b"",
                "text/plain",
                status=302,
                headers=(("Location", self.outside_url + "probe/redirected.png"),),
            ),
        }
        for spec in self.articles:
            routes[f"/api/articles/{700 + spec.number}.json"] = Resource(
                self.api_body(spec),
                "application/json; charset=utf-8",
                last_modified=spec.modified,
                gate="api",
            )
        return routes
