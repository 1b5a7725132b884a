"""``newsroom.bigsite``: deterministic, realistic, complete sitemaps, gated pages, and a real server."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from newsroom.bigsite import (
    MAX_PAGE_BYTES,
    MIN_PAGE_BYTES,
    PER_SITEMAP,
    BigSite,
    BigSiteServer,
    gated_count,
)
from newsroom.sites.gated import CHALLENGE_COOKIE

REPO = Path(__file__).resolve().parent.parent
COOKIE = f"{CHALLENGE_COOKIE[0]}={CHALLENGE_COOKIE[1]}"


def _site(articles: int = 300, **kwargs: object) -> BigSite:
    return BigSite("big01", 0, articles, base_url="http://127.0.0.1:8123/", **kwargs)  # type: ignore[arg-type]


def test_generation_is_deterministic_and_seeded() -> None:
    one, two = _site(), _site()
    for number in (1, 17, 150, 300):
        assert one.render_article(number) == two.render_article(number)
        assert one.article(number) == two.article(number)
        assert one.api_json(number) == two.api_json(number)
    other = _site(seed="another-seed")
    assert [other.article_path(n) for n in range(1, 50)] != [one.article_path(n) for n in range(1, 50)]


def test_pages_are_in_the_size_range_and_carry_the_text() -> None:
    site = _site(400)
    sizes = []
    for number in range(1, 401, 3):
        if site.is_gated(number):
            continue
        body = site.render_article(number)
        sizes.append(len(body))
        html = body.decode("utf-8")
        art = site.article(number)
        assert '<h1 class="entry-title">' in html
        for marker in (
            'class="breadcrumbs"',
            'id="secondary"',
            'class="related-posts"',
            'id="comments"',
            "<style",
        ):
            assert marker in html
        assert all(p.replace('"', "&quot;") in html for p in art.paragraphs[:2])
    assert min(sizes) >= MIN_PAGE_BYTES - 2048
    assert max(sizes) <= MAX_PAGE_BYTES + 1024
    assert max(sizes) - min(sizes) > 50 * 1024  # sizes spread over the range, not one size


def test_sitemaps_list_every_article_exactly_once() -> None:
    site = _site(PER_SITEMAP + 123)
    assert site.sitemap_count() == 2
    index = site.sitemap_index().decode()
    assert index.count("<sitemap>") == 2
    urls = list(site.sitemap_urls())
    assert len(urls) == site.articles
    assert len(set(urls)) == len(urls)
    assert {site.number_for_path(u.removeprefix("http://127.0.0.1:8123")) for u in urls} == set(
        site.numbers()
    )
    assert site.sitemap(3) is None


def test_robots_names_the_sitemap_index() -> None:
    robots = _site().robots().decode()
    assert re.search(r"^Sitemap: http://127\.0\.0\.1:8123/sitemap_index\.xml$", robots, re.M)
    assert "User-agent: *" in robots


def test_about_five_percent_of_articles_are_gated() -> None:
    site = _site(4000)
    gated = sum(site.is_gated(n) for n in site.numbers())
    assert 0.03 * 4000 < gated < 0.07 * 4000
    assert all(_site(50, gated_share=1.0).is_gated(n) for n in range(1, 51))
    assert not any(_site(50, gated_share=0.0).is_gated(n) for n in range(1, 51))


def test_gated_count_matches_the_served_sites() -> None:
    # What the benchmark compares `render/pages` with: the gated articles of the sites a server would bind.
    server = BigSiteServer(1003, sites=4).bind()
    try:
        served = sum(site.is_gated(n) for site in server.sites for n in site.numbers())
        assert sum(site.articles for site in server.sites) == 1003
    finally:
        for s in server.served:
            s.sock.close()
    assert gated_count(1003, 4) == served > 0
    assert gated_count(1003, 4, gated_share=0.0) == 0


def test_gated_pages_need_the_cookie() -> None:
    site = _site(600)
    number = next(n for n in site.numbers() if site.is_gated(n))
    path = site.article_path(number)
    status, _, shell, _ = site.respond(path, "")
    assert status == 200 and b"Just a moment..." in shell
    assert site.article(number).paragraphs[0].encode() not in shell
    status, _, page, _ = site.respond(path, COOKIE)
    assert status == 200 and f'data-article-id="{number}"'.encode() in page
    assert b"/static/app.js" in page
    api = f"/api/articles/{number}.json"
    assert site.respond(api, "")[0] == 403
    status, ctype, body, _ = site.respond(api, COOKIE)
    assert status == 200 and ctype.startswith("application/json")
    assert site.article(number).paragraphs[0].encode() in body
    # An open article does not care about the cookie, and unknown paths are 404.
    open_number = next(n for n in site.numbers() if not site.is_gated(n))
    assert site.respond(site.article_path(open_number), "")[2] == site.render_article(open_number)
    assert site.respond(path.replace(f"-{number}/", f"-{number + 100000}/"), "")[0] == 404


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    sources = tmp_path / "sources.yaml"
    cmd = [sys.executable, "-m", "newsroom.bigsite", "serve", "--articles", "120", "--sites", "2"]
    proc = subprocess.Popen(
        [*cmd, "--sources-out", str(sources)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(300):
            if sources.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert sources.exists(), proc.stderr.read().decode() if proc.stderr else "no sources file"
        yield sources
    finally:
        proc.terminate()
        proc.wait(10)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


@pytest.mark.slow
def test_server_serves_sites_from_the_sources_file(served: Path) -> None:
    sites = yaml.safe_load(served.read_text(encoding="utf-8"))["sites"]
    assert [s["name"] for s in sites] == ["big01", "big02"]
    urls: list[str] = []
    for entry in sites:
        status, _, robots = _get(entry["home"] + "robots.txt")
        assert status == 200 and f"Sitemap: {entry['sitemaps'][0]}".encode() in robots
        _, _, index = _get(entry["sitemaps"][0])
        for sitemap in re.findall(rb"<loc>([^<]+)</loc>", index):
            _, _, body = _get(sitemap.decode())
            urls += [u.decode() for u in re.findall(rb"<loc>([^<]+)</loc>", body)]
    assert len(urls) == len(set(urls)) == 120
    status, headers, body = _get(urls[0], {"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    assert _get(sites[0]["home"] + "no/such/page")[0] == 404


def test_server_splits_articles_over_sites() -> None:
    server = BigSiteServer(10, 3).bind()
    try:
        assert [s.articles for s in server.sites] == [4, 3, 3]
        assert len({s.base_url for s in server.sites}) == 3
        entry = server.sources()["sites"][0]
        assert entry["allowed_domains"] == [entry["home"].removeprefix("http://").rstrip("/")]
    finally:
        for served in server.served:
            served.sock.close()
