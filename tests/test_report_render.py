"""The HTML crawl report in a real headless Chromium: its inline SVG charts render, offline."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from reporting.health import SiteHealth
from reporting.model import build_report
from tests.test_archive_report import synthetic_manifest, synthetic_stats

CHROMIUM = os.environ.get("CRAWL_CHROMIUM_PATH") or "/usr/bin/chromium"


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered RGB(A) rows of an 8-bit non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), f"unexpected PNG format depth={depth} color={color}"
    bpp = 3 if color == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    prev = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (set CRAWL_CHROMIUM_PATH)"
    with sync_playwright() as playwright:
        started = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            yield started
        finally:
            started.close()


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    history = {"alpha": [SiteHealth("r0", "alpha", "", 6, 0, 2, 3000)]}
    report = build_report(
        "crawl-1", synthetic_stats(), synthetic_manifest(), history=history, store_uri="file:///srv/archive"
    )
    path = tmp_path / "reports" / "crawl-1" / "report.html"
    path.parent.mkdir(parents=True)
    path.write_text(report.to_html(), encoding="utf-8")
    return path


def test_report_charts_render_offline(browser: Browser, report_file: Path, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 1600}, offline=True)
    requests: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report_file.as_uri())
        # Every request the page made was the page itself: no asset from anywhere else.
        assert requests == [report_file.as_uri()]
        for chart in ("#chart-articles", "#chart-text", "#chart-failures"):
            box = page.locator(f"{chart} svg").bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 50, chart
        bars = page.locator("svg rect.bar")
        assert bars.count() == 2 + 3 + 2  # two sites, three text-length bins in use, two failure reasons
        for index in range(bars.count()):
            box = bars.nth(index).bounding_box()
            assert box is not None and box["width"] > 0 and box["height"] > 0
        # The longer bar is the site with more stored articles (alpha 4, beta 3).
        alpha, beta = (page.locator("#chart-articles rect.bar").nth(i).bounding_box() for i in (0, 1))
        assert alpha is not None and beta is not None and alpha["width"] > beta["width"]
        title = page.locator("td[dir=auto]").first
        assert title.evaluate("el => getComputedStyle(el).direction") == "rtl"
        assert page.locator("#warnings li").count() >= 1
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=False)
    finally:
        context.close()
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 1600)
    colours = {row[i : i + 3] for row in rows[::8] for i in range(0, len(row), 3 * 8)}
    assert len(colours) > 20, "the screenshot is (nearly) blank"
    # The articles chart's blue bars are on screen.
    assert any(abs(c[0] - 0x2F) < 16 and abs(c[1] - 0x6F) < 16 and abs(c[2] - 0xB0) < 16 for c in colours)


def test_chromium_cli_screenshot_is_not_blank(report_file: Path, tmp_path: Path) -> None:
    """The way an operator would check it from a shell: chromium --headless --screenshot."""
    import subprocess

    shot = tmp_path / "cli.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            report_file.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    width, _height, rows = png_pixels(shot.read_bytes())
    assert width == 1200
    colours = {row[i : i + 3] for row in rows[::8] for i in range(0, len(row), 3 * 8)}
    assert len(colours) > 20
