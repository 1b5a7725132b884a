"""A bench-only Scrapy extension: what the crawl is waiting on, sampled every ``BENCH_TIMELINE_INTERVAL``.

Loaded by ``bench/pipeline.py --timeline`` (``EXTENSIONS``), it writes one JSON line per sample to
``BENCH_TIMELINE_FILE``: seconds since the spider opened, responses and articles stored so far, requests in
the downloader (how many of them are browser renders, and how many of those wait for a browser page in the
render queue), the scheduler's size, the scraper's queue, its active responses and their bytes (Scrapy stops
taking requests from the scheduler when these pass ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``), items in the pipelines,
tasks waiting in the extraction pool, whether the engine is backing out (and why), and the reactor's lag (how
late this sample's timer fired). ``summary`` reads the file back into the few numbers ``bench/pipeline.py``
prints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured


class TimelineExtension:
    def __init__(self, crawler: Any, path: str, interval: float) -> None:
        self.crawler = crawler
        self.path = Path(path)
        self.interval = interval
        self.file: Any = None
        self.loop: Any = None
        self.started = 0.0
        self.due = 0.0

    @classmethod
    def from_crawler(cls, crawler: Any) -> TimelineExtension:
        path = crawler.settings.get("BENCH_TIMELINE_FILE")
        if not path:
            raise NotConfigured("BENCH_TIMELINE_FILE is empty")
        ext = cls(crawler, path, crawler.settings.getfloat("BENCH_TIMELINE_INTERVAL", 0.5))
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider: Any) -> None:
        from twisted.internet import task

        self.file = self.path.open("w", encoding="utf-8")
        self.started = time.monotonic()
        self.due = self.started
        self.loop = task.LoopingCall(self.sample)
        self.loop.start(self.interval, now=True)

    def sample(self) -> None:
        now = time.monotonic()
        lag = max(0.0, now - self.due)
        self.due = now + self.interval
        engine = self.crawler.engine
        stats = self.crawler.stats.get_stats()
        row: dict[str, Any] = {
            "t": round(now - self.started, 2),
            "lag": round(lag, 3),
            "responses": stats.get("downloader/response_count", 0),
            "stored": stats.get("store/articles", 0),
            "rendered": stats.get("render/pages", 0),
        }
        try:
            downloader = engine.downloader
            active = list(downloader.active)
            row["down_active"] = len(active)
            row["down_render"] = sum(1 for r in active if r.meta.get("playwright"))
            # Renders among them still waiting for a browser page (crawler.render.queue; 0 without it).
            row["down_waiting"] = int(getattr(downloader, "renders_waiting", 0))
            row["down_backout"] = bool(downloader.needs_backout())
            row["sched"] = len(engine._slot.scheduler) if engine._slot else 0
            slot = engine.scraper.slot
            row["scr_queue"] = len(slot.queue)
            row["scr_active"] = len(slot.active)
            row["scr_bytes"] = slot.active_size
            row["itemproc"] = slot.itemproc_size
            row["scr_backout"] = bool(slot.needs_backout())
            row["inprogress"] = len(engine._slot.inprogress) if engine._slot else 0
        except Exception as exc:  # a Scrapy internal moved: keep sampling the rest
            row["error"] = repr(exc)
        pool = getattr(self.crawler, "worker_pool", None)
        executor = getattr(pool, "_executor", None)
        if executor is not None:
            row["pool_pending"] = len(getattr(executor, "_pending_work_items", {}))
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def closed(self, spider: Any) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.file is not None:
            self.file.close()


def summary(path: Path) -> dict[str, float]:
    """Shares of the samples (0..1) and means, over the samples from the first response to the last.

    ``renders_only``: the scheduler empty, nothing in the scraper and every request in the downloader a
    browser render (the rest of the crawl waits for them); ``renders_only_mid``: seconds of that before the
    last plain request; ``renders_tail``: seconds from the last plain request to the last sample; ``scraper_full``: the scraper holds more
    response bytes than ``SCRAPER_SLOT_MAX_ACTIVE_SIZE`` (the engine takes no request from the scheduler);
    ``downloader_full``: every CONCURRENT_REQUESTS slot taken (renders waiting in the render queue take none);
    ``down_waiting``: renders waiting for a browser page (mean); ``tail``: seconds from the last stored
    article to the last sample.
    """
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("responses", 0) and "down_active" in r]
    if not rows:
        return {}

    def share(test: Any) -> float:
        return sum(1 for r in rows if test(r)) / len(rows)

    def mean(key: str) -> float:
        return sum(float(r.get(key, 0)) for r in rows) / len(rows)

    final = rows[-1].get("stored", 0)
    last_store = next((r["t"] for r in rows if r.get("stored", 0) >= final), rows[-1]["t"])
    # The last sample with a plain request in flight or queued: after it only renders were left.
    plain_end = max((r["t"] for r in rows if r["sched"] or r["down_active"] > r["down_render"]), default=0)
    interval = (rows[-1]["t"] - rows[0]["t"]) / max(1, len(rows) - 1)
    return {
        "samples": float(len(rows)),
        "seconds": float(rows[-1]["t"] - rows[0]["t"]),
        "renders_only": share(_renders_only),
        "renders_only_mid": sum(interval for r in rows if _renders_only(r) and r["t"] < plain_end),
        "renders_tail": float(rows[-1]["t"] - plain_end),
        "scraper_full": share(lambda r: r["scr_backout"]),
        "downloader_full": share(lambda r: r["down_backout"]),
        "down_active": mean("down_active"),
        "down_render": mean("down_render"),
        "down_waiting": mean("down_waiting"),
        "sched": mean("sched"),
        "scr_active": mean("scr_active"),
        "pool_pending": mean("pool_pending"),
        "lag": mean("lag"),
        "tail": float(rows[-1]["t"] - last_store),
    }


def _renders_only(row: dict[str, Any]) -> bool:
    return row["sched"] == 0 and row["scr_active"] == 0 and 0 < row["down_active"] == row["down_render"]


def summary_line(found: dict[str, float]) -> str:
    """One sentence for the bench's notes."""
    if not found:
        return ""
    return (
        f"timeline ({found['samples']:.0f} samples over {found['seconds']:.0f} s): only renders in flight "
        f"{100 * found['renders_only']:.0f} % of the time ({found['renders_only_mid']:.0f} s while plain pages "
        f"were still to come, {found['renders_tail']:.0f} s at the end, after the last plain page), scraper full {100 * found['scraper_full']:.0f} %, "
        f"downloader full {100 * found['downloader_full']:.0f} %; means: {found['down_active']:.0f} in the "
        f"downloader ({found['down_render']:.1f} renders, {found.get('down_waiting', 0.0):.1f} of them waiting "
        f"for a browser page), scheduler {found['sched']:.0f}, scraper "
        f"{found['scr_active']:.0f}, extraction pool queue {found['pool_pending']:.0f}, reactor lag "
        f"{1000 * found['lag']:.0f} ms; {found['tail']:.1f} s after the last stored article"
    )
