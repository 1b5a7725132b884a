"""Each per-page stage of the pipeline measured alone, in CPU milliseconds a page, on the crawl's own pages.

``bench/pipeline.py`` calls :func:`measure_stages` with the article bodies the site server sent (the spool
its server row fetched) and prints one row per stage; the stage bound is ``cores / sum(stages)``. Every
stage runs alone in this process (or, for the hand-over, in a spawned pool like the crawl's), timed with
the CPU clocks (``time.process_time`` for this process and its threads, /proc for the workers), so the
numbers do not depend on what else runs on the machine:

- gate detection: ``extraction.gate.JsGateDetector.detect`` (the render gate's test of every plain page);
- requisite discovery: ``crawler.requisites.page_requisites`` (embeds of every archived page);
- hand-over to the extraction workers and back: the crawl's arguments pickled into a spawn pool and a
  record of the real size back, with nothing done in the worker (parent and worker CPU);
- extraction: ``extraction.extract`` (trafilatura and the clean-up);
- relevance: ``relevance.Topic.score`` of the packaged topic on each extracted article;
- URL canonicalisation: ``crawler.urls.canonicalize_url`` of each page URL and each link it carries;
- WARC writing: request, response (gzip body as on the wire) and metadata records through
  ``archive.warc.WarcRotatingWriter`` with its digest index, gzip records to a file;
- CDXJ/WACZ: ``archive.cdxj.write_cdxj`` and ``archive.wacz.build_wacz`` over those WARC files;
- store writes, file: the text and JSON record of each article into a ``FileStore`` (atomic, fsynced);
- store writes, S3 client: the same objects and the WARC/WACZ files into an S3 store (boto3), when given;
- state and manifest: ``archive.manifest.ManifestWriter`` line and ``archive.state.CrawlState.record_text``.

The fetch (Scrapy engine), the site server, the S3 server, rendering and the research corpus are measured by
``bench/pipeline.py`` from their own runs. Run alone over a directory of HTML files::

    .venv/bin/python bench/stages.py DIR [--limit N]
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(REPO), str(BENCH)]

from procstats import cpu_seconds  # noqa: E402

HEADERS = {"Content-Type": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class StageCost:
    name: str
    pages: int
    cpu: float  # seconds
    note: str = ""

    @property
    def ms(self) -> float:
        return 1000 * self.cpu / self.pages if self.pages else 0.0


@dataclass
class Page:
    url: str
    body: bytes  # decoded HTML, as the extraction sees it


def _timed(name: str, pages: int, work: Callable[[], Any], note: str = "") -> tuple[StageCost, Any]:
    cpu0 = time.process_time()
    result = work()
    return StageCost(name, pages, time.process_time() - cpu0, note), result


def read_spool(spool: Path, index: list[tuple[str, int, int]], limit: int) -> list[Page]:
    """``limit`` pages spread evenly over the spool (all of them with ``limit`` 0)."""
    step = max(1, len(index) // limit) if limit else 1
    chosen = index[::step][: limit or None]
    pages = []
    with spool.open("rb") as fh:
        for url, offset, length in chosen:
            fh.seek(offset)
            pages.append(Page(url, fh.read(length)))
    return pages


# ---- the hand-over to the extraction workers --------------------------------------------------------
def _echo(
    body: bytes,
    url: str,
    headers: dict[str, str],
    feed: str | None,
    hint: str | None,
    topic: str | None,
    corpus: bool,
    reply: dict[str, Any],
) -> dict[str, Any]:
    return reply


def _handoff(pages: list[Page], records: list[dict[str, Any]], workers: int) -> StageCost:
    """Submit every page as the crawl does (``run_in_executor`` of the same arguments), get a record back."""
    import asyncio

    from crawler.pipelines.extract import ExtractPipeline

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(_echo, *zip(*[(b"", "", {}, None, None, None, False, {})] * workers, strict=True)))
        pids = list(pool._processes)  # the workers' CPU is read from /proc
        before = {pid: cpu_seconds(pid) for pid in pids}
        cpu0 = time.process_time()

        async def run() -> None:
            loop = asyncio.get_running_loop()
            futures = [
                loop.run_in_executor(pool, _echo, p.body, p.url, HEADERS, None, None, "topic", True, r)
                for p, r in zip(pages, records, strict=True)
            ]
            await asyncio.gather(*futures)

        asyncio.run(run())
        parent = time.process_time() - cpu0
        worker = sum(cpu_seconds(pid) - before[pid] for pid in pids)
    del ExtractPipeline  # imported to check the crawl still hands over this way
    note = f"{workers} spawn workers: parent {1000 * parent / len(pages):.2f}, workers {1000 * worker / len(pages):.2f}"
    return StageCost("hand-over to the extraction workers and back", len(pages), parent + worker, note)


# ---- the stages ---------------------------------------------------------------------------------------
@dataclass
class StageRun:
    costs: list[StageCost]
    records: list[dict[str, Any]]  # what the extraction gave, one per page
    files: list[Path]  # the WARC files and the WACZ the stages wrote

    @property
    def pages(self) -> int:
        return len(self.records)


def measure_stages(pages: list[Page], workdir: Path, *, workers: int = 2) -> StageRun:
    """Every stage but the S3 ones over ``pages`` (see ``s3_stages``)."""
    from scrapy.http import HtmlResponse

    from archive.cdxj import write_cdxj
    from archive.digests import JsonlDigestIndex
    from archive.manifest import ManifestWriter
    from archive.state import CrawlState
    from archive.store import FileStore
    from archive.wacz import Page as WaczPage
    from archive.wacz import build_wacz
    from archive.warc import WarcRotatingWriter
    from crawler.requisites import page_requisites
    from crawler.urls import canonicalize_url
    from extraction import Article, extract
    from extraction.gate import JsGateDetector
    from relevance import Topic, default_topic_path

    n = len(pages)
    costs: list[StageCost] = []
    detector = JsGateDetector()
    cost, gated = _timed(
        "gate detection", n, lambda: sum(detector.detect(p.body, p.url).gated for p in pages)
    )
    costs.append(StageCost(cost.name, n, cost.cpu, f"{gated} of {n} judged gated"))

    responses = [HtmlResponse(p.url, body=p.body, headers=HEADERS) for p in pages]
    cost, found = _timed("requisite discovery", n, lambda: sum(len(page_requisites(r)) for r in responses))
    costs.append(StageCost(cost.name, n, cost.cpu, f"{found / n:.1f} embeds a page (parsel/lxml parse)"))

    def run_extract() -> list[Any]:
        return [extract(p.body, p.url, HEADERS) for p in pages]

    cost, results = _timed("extraction", n, run_extract)
    articles = [(p, r) for p, r in zip(pages, results, strict=True) if isinstance(r, Article)]
    costs.append(StageCost(cost.name, n, cost.cpu, f"{len(articles)} of {n} pages gave an article"))
    records = [r.to_record() for r in results]
    for record in records:
        record["status"] = "article" if record.get("text") else "no_article"

    costs.append(_handoff(pages, records, workers))

    topic = Topic.load(default_topic_path())
    cost, relevant = _timed(
        "relevance",
        n,
        lambda: sum(topic.score(r.title or "", r.text or "").relevant for _, r in articles),
        f"{len(articles)} articles scored",
    )
    costs.append(StageCost(cost.name, n, cost.cpu, f"{len(articles)} scored, {relevant} relevant"))

    # The crawl canonicalises an article's URL five times: the spider's request, its rel=canonical, the
    # recovery check, the extraction's canonical URL and the corpus annotation.
    cost, _ = _timed(
        "URL canonicalisation", n, lambda: [canonicalize_url(p.url) for p in pages for _ in range(5)]
    )
    costs.append(StageCost(cost.name, n, cost.cpu, "5 calls a page"))

    # WARC writing: the capture as Scrapy hands it over (gzip body, as on the wire) and a metadata record.
    wire = [gzip.compress(p.body, 6) for p in pages]
    warc_dir = workdir / "stage-warc"
    index = JsonlDigestIndex(warc_dir / "digests.jsonl")
    writer = WarcRotatingWriter(
        warc_dir, "BENCH", "stages", warcinfo={"operator": "bench"}, digest_index=index
    )
    captured: list[tuple[Any, Page, Any]] = []

    def write_warc() -> None:
        for p, body, record in zip(pages, wire, records, strict=True):
            ref = writer.write_capture(_capture(p.url, body))
            payload = json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")
            writer.write_metadata(ref, payload, "application/json")
            captured.append((ref, p, record))
        writer.close()
        index.close()

    cost, _ = _timed("WARC writing", n, write_warc)
    warc_bytes = sum(f.stat().st_size for f in writer.finished_files)
    costs.append(
        StageCost(
            cost.name,
            n,
            cost.cpu,
            f"request, response, metadata records; {warc_bytes / n / 1024:.0f} KiB a page",
        )
    )

    wacz_pages = [
        WaczPage.create(ref.target_uri, ref.warc_date, rec.get("title")) for ref, _, rec in captured
    ]
    cost, wacz = _timed(
        "CDXJ and WACZ",
        n,
        lambda: (
            [write_cdxj(w) for w in writer.finished_files],
            build_wacz(writer.finished_files, warc_dir / "stages.wacz", wacz_pages),
        ),
    )
    costs.append(StageCost(cost.name, n, cost.cpu, "one CDXJ per WARC, the WACZ at close"))

    file_store = FileStore(workdir / "stage-store")
    cost, _ = _timed(
        "store writes, file", n, lambda: put_records(file_store, records), "text + JSON, fsynced"
    )
    costs.append(cost)

    manifest_dir = workdir / "stage-manifest"
    sent: list[str] = []
    manifest = ManifestWriter("stages", manifest_dir, lambda key, path: sent.append(key))  # type: ignore[arg-type]
    state = CrawlState("bench", "stages")

    def state_and_manifest() -> None:
        for i, (record, p) in enumerate(zip(records, pages, strict=True)):
            text_key, json_key = f"text/{i:06d}.txt", f"text/{i:06d}.json"
            row = {**record, "id": text_key, "url": p.url, "crawl_id": "stages", "site": "bench"}
            row.setdefault("title", "t")
            row.setdefault("text_key", text_key)
            row.setdefault("text_sha256", "0" * 64)
            manifest.write({k: v for k, v in row.items() if k != "text"})
            state.record_text(
                p.url,
                canonical_url=p.url,
                text_sha256="0" * 64,
                version=1,
                text_key=text_key,
                json_key=json_key,
            )

    cost, _ = _timed("state and manifest", n, state_and_manifest, "one manifest line, one state entry")
    costs.append(cost)
    return StageRun(costs, records, [*writer.finished_files, wacz[1]])


def put_records(store: Any, records: list[dict[str, Any]]) -> None:
    """Each record's text and JSON into ``store``, as the store pipeline writes them."""
    for i, record in enumerate(records):
        text = (record.get("text") or "").encode("utf-8")
        store.put_bytes(f"text/{i:06d}.txt", text, content_type="text/plain; charset=utf-8")
        data = json.dumps(record, ensure_ascii=False, indent=1, default=str).encode("utf-8")
        store.put_bytes(f"text/{i:06d}.json", data, content_type="application/json")


def s3_stages(run: StageRun, s3: Any, bucket: str) -> list[StageCost]:
    """The S3 client (boto3, this process) and the S3 server (``s3``, a running ``SeaweedS3``) putting what
    ``run`` wrote: every record's text and JSON, the WARC files and the WACZ."""
    from archive.store import open_store

    store = open_store(f"s3://{bucket}/stages", **s3.store_options())
    n = run.pages
    weed0 = cpu_seconds(s3.process.pid)

    def put() -> None:
        put_records(store, run.records)
        for path in run.files:
            store.put_file(f"warc/{path.name}", path, content_type="application/octet-stream")

    cost, _ = _timed("store writes, S3 client", n, put)
    weed = cpu_seconds(s3.process.pid) - weed0
    return [
        StageCost(cost.name, n, cost.cpu, "text + JSON record + the WARC and WACZ files (boto3)"),
        StageCost("S3 server (SeaweedFS)", n, weed, "serving the S3 client stage's requests"),
    ]


def _capture(url: str, body: bytes) -> Any:
    from archive.capture import Capture

    return Capture(
        url=url,
        method="GET",
        request_headers=[("Accept-Encoding", "gzip, deflate"), ("User-Agent", "bench")],
        status=200,
        reason="OK",
        response_headers=[("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")],
        body=body,
        fetched_at=datetime.now(UTC),
    )


def _html_files(directory: Path, limit: int) -> Iterator[Page]:
    for i, path in enumerate(sorted(directory.rglob("*.htm*"))):
        if limit and i >= limit:
            return
        yield Page(f"http://bench.example/{path.name}", path.read_bytes())


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    pages = list(_html_files(args.directory, args.limit))
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        costs = measure_stages(pages, Path(tmp), workers=os.cpu_count() or 1).costs
    for c in costs:
        print(f"{c.name:48} {c.ms:7.2f} CPU ms a page  {c.note}")
    print(f"{'sum':48} {sum(c.ms for c in costs):7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
