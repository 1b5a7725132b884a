"""The CPU cost of rendering a JavaScript-gated page: ``python bench/render.py`` (also run by ``make bench``).

Starts ``newsroom.bigsite`` with every article gated (``--sites`` sites, default 2) and runs the full
pipeline (``scrapy crawl libya``, file store) over it, so every article is fetched, found gated and
rendered in Chromium. The number: CPU seconds (user + sys) of the whole crawl tree (the Scrapy process, the
Playwright driver and every Chromium process; ``RUSAGE_CHILDREN``, so processes that ended are counted
too) divided by the pages rendered, in milliseconds: **CPU-ms per gated page**. It includes the plain fetch
that found the gate, the extraction of the rendered page and the browser's start.

Beside it, where that CPU went, by process kind (the Scrapy process, the driver, Chromium's browser,
renderer, GPU, network and other utility processes), each process's own time sampled from /proc every
0.1 s; what a process used after its last sample shows as ``unattributed``.

``measure(...)`` returns a ``RenderBench``; ``cpu_ms_per_gated_page(...)`` just the number (for
``bench/pipeline.py``). CLI: ``--articles N`` (default 200), ``--sites``, ``--gated-share`` (default 1; a mixed
crawl like bench/pipeline.py's with 0.05: its CPU then includes the plain pages), ``--set NAME=VALUE`` (any crawl
setting), ``--json``, ``--max-ms X`` (exit status 1 when over X), ``--keep``, ``--profile FILE`` (py-spy).

``--floor``: instead of the crawl, Chromium's own floor for the same pages: a bare Playwright script (one page,
the challenge cookie set, ``goto(networkidle)`` and ``content()`` per article; no guard, capture or Scrapy),
its CPU per page by process the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]

from crawl_settings import bench_crawl_settings  # noqa: E402
from procstats import children_cpu, machine  # noqa: E402

from crawler.render import find_chromium  # noqa: E402

PY = sys.executable
_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_CHILD_SUBREAPER = 36


@dataclass
class RenderBench:
    """One all-gated crawl: pages rendered, its time, its tree's CPU, and that CPU by process kind."""

    pages: int
    seconds: float  # Scrapy's elapsed_time_seconds
    wall: float  # the crawl process from start to exit
    cpu: float  # CPU seconds of the whole tree (exact)
    by_kind: dict[str, float] = field(default_factory=dict)  # sampled CPU seconds per process kind
    processes: dict[str, int] = field(default_factory=dict)  # processes seen per kind
    stats: dict[str, Any] = field(default_factory=dict)
    returncode: int = 0
    # CPU seconds of the crawl process and of what it reaped itself: Chromium's processes that outlive
    # their parents at shutdown are missing from it (bench/pipeline.py's crawl rows count this way).
    cpu_reaped: float = 0.0
    # Each render's wall seconds (queueing for a page included), from the crawl log, and RENDER_TIMEOUT.
    render_seconds: list[float] = field(default_factory=list)
    render_timeout: float = 30.0

    def wall_summary(self) -> str:
        """Median / p90 / max render seconds and how many renders lasted RENDER_TIMEOUT or longer."""
        times = sorted(self.render_seconds)
        if not times:
            return "render wall: no render logged"

        def at(q: float) -> float:
            return times[min(len(times) - 1, int(q * len(times)))]

        late = sum(t >= self.render_timeout - 0.5 for t in times)
        return (
            f"render wall per page: median {at(0.5):.1f} s, p90 {at(0.9):.1f} s, max {times[-1]:.1f} s; "
            f"**{late} of {len(times)} at RENDER_TIMEOUT ({self.render_timeout:g} s) or later**"
        )

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu / self.pages if self.pages else float("inf")

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def breakdown(self) -> list[tuple[str, float]]:
        """(kind, CPU-ms per rendered page), largest first, with what sampling missed as ``unattributed``."""
        if not self.pages:
            return []
        rows = sorted(((k, 1000 * v / self.pages) for k, v in self.by_kind.items()), key=lambda r: -r[1])
        missed = self.cpu - sum(self.by_kind.values())
        if abs(missed) * 1000 / self.pages >= 0.5:
            rows.append(("unattributed (sampling)", 1000 * missed / self.pages))
        return rows


# ---- per-process CPU from /proc ----------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process itself)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "scrapy (main process)"
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0")
    except OSError:
        return "gone"
    # Chromium rewrites its children's command lines into one space-separated string.
    argv = raw.split(b"\0") if b"\0" in raw else raw.split(b" ")
    exe = os.path.basename(argv[0].decode(errors="replace")) if argv and argv[0] else "?"
    if exe == "node" or "playwright" in exe:
        return "playwright driver (node)"
    chromium = any(a.startswith(b"--type=") for a in argv) or "chrom" in exe or "headless" in exe
    if "crashpad" in exe:
        return "chromium crashpad"
    if not chromium:
        return "python (extraction workers)" if exe.startswith("python") else exe
    kind = next((a.decode()[7:] for a in argv if a.startswith(b"--type=")), "browser")
    if kind == "utility":
        sub = next((a.decode() for a in argv if a.startswith(b"--utility-sub-type=")), "")
        kind = "network" if "network" in sub else "utility " + sub.rsplit(".", 1)[-1]
    return f"chromium {kind}"


class KindSampler:
    """Samples the process tree under ``root`` every ``interval`` s; ``by_kind()`` sums the last CPU seen."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root = root
        self.interval = interval
        self.cpu: dict[int, float] = {}
        self.kinds: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        parents: dict[int, list[int]] = {}
        stats: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat is not None:
                    parents.setdefault(stat[0], []).append(int(entry))
                    stats[int(entry)] = stat[1]
        stack = [self.root]
        while stack:
            pid = stack.pop()
            if pid in stats:
                self.cpu[pid] = stats[pid]
                kind = _kind(pid, self.root)  # again each time: a fork shows its parent's until it execs
                if kind not in ("gone", "?") or pid not in self.kinds:
                    self.kinds[pid] = kind
            stack.extend(parents.get(pid, ()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> KindSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def processes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for pid in self.cpu:
            kind = self.kinds.get(pid, "?")
            out[kind] = out.get(kind, 0) + 1
        return out

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, cpu in self.cpu.items():
            kind = self.kinds.get(pid, "?")
            out[kind] = out.get(kind, 0.0) + cpu
        return out


# ---- the site and the crawl --------------------------------------------------------------------------
def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def measure(
    articles: int = 200,
    *,
    sites: int = 2,
    settings: dict[str, str] | None = None,
    workdir: Path | None = None,
    concurrency: int = 64,
    per_domain: int = 16,
    timeout: float = 1800,
    profile: Path | None = None,
    gated_share: float = 1.0,
) -> RenderBench:
    """Crawl ``articles`` articles (``gated_share`` of them gated: all by default) over ``sites`` sites with the full pipeline; see the module doc.
    ``profile``: write py-spy's collapsed stacks of the Scrapy process there (py-spy must be installed)."""
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="bench-render-")) if workdir is None else workdir
    try:
        from pipeline import bigsite  # here: bench/pipeline.py imports this module

        with bigsite(work, articles, gated_share=gated_share, sites=sites) as (_, sources):
            return _crawl(work, sources, sites, settings or {}, concurrency, per_domain, timeout, profile)
    finally:
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)


def _crawl(
    work: Path,
    sources: Path,
    sites: int,
    settings: dict[str, str],
    concurrency: int,
    per_domain: int,
    timeout: float,
    profile: Path | None = None,
) -> RenderBench:
    run = work / "render-crawl"
    run.mkdir(parents=True, exist_ok=True)
    stats_file = run / "stats.json"
    merged = {
        **bench_crawl_settings(
            run,
            "bench-render",
            concurrency=concurrency,
            per_domain=per_domain,
            contexts=max(2, sites),
            chromium=os.environ.get("CRAWL_CHROMIUM_PATH") or find_chromium() or "",
        ),
        **settings,
    }
    cmd = [PY, "-m", "scrapy", "crawl", "libya", "-a", f"sources={sources}"]
    for key, value in merged.items():
        if value:
            cmd += ["-s", f"{key}={value}"]
    cpu0 = children_cpu()
    started = time.perf_counter()
    with _subreaper():
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=(run / "stderr.log").open("wb")
        )
        spy = _profiler(proc.pid, profile) if profile else None
        with KindSampler(proc.pid) as sampler:
            reaped = _wait(proc, timeout)
            _reap_orphans(set(sampler.cpu) - {proc.pid})
        if spy is not None:
            spy.wait(60)
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu0
    stats: dict[str, Any] = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    log = run / "crawl.log"
    seconds = render_seconds(log.read_text(errors="replace")) if log.exists() else []
    if proc.returncode != 0 or not stats:
        print(f"!! render bench: exit {proc.returncode}; see {run}/crawl.log", file=sys.stderr)
    return RenderBench(
        pages=int(stats.get("render/pages", 0)),
        seconds=float(stats.get("elapsed_time_seconds") or wall),
        wall=wall,
        cpu=cpu,
        by_kind=sampler.by_kind(),
        processes=sampler.processes(),
        stats=stats,
        returncode=proc.returncode or 0,
        cpu_reaped=reaped,
        render_seconds=seconds,
        render_timeout=float(merged.get("RENDER_TIMEOUT") or 30.0),
    )


# ---- Chromium's own floor -----------------------------------------------------------------------------
# A bare Playwright script: one browser (the crawl's Chromium and BROWSER_ARGS), one context holding the
# challenge cookie, one page loading each gated article until the network idles, then its DOM. No guard, no
# capture, no Scrapy: what any render of the page costs at least.
_FLOOR_SCRIPT = """
import asyncio, json, sys
from playwright.async_api import async_playwright

async def main(chromium, args, urls, cookies):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium or None, args=args)
        context = await browser.new_context()
        await context.add_cookies(cookies)
        page = await context.new_page()
        for url in urls:
            await page.goto(url, wait_until="networkidle")
            await page.content()
        await browser.close()

asyncio.run(main(*json.loads(sys.argv[1])))
"""


def floor(articles: int = 100, *, sites: int = 1, timeout: float = 900) -> RenderBench:
    """CPU of loading ``articles`` all-gated bigsite articles with the bare Playwright script above."""
    import urllib.request

    import yaml
    from pipeline import bigsite

    from crawler.render import BROWSER_ARGS
    from newsroom.sites.gated import CHALLENGE_COOKIE

    work = Path(tempfile.mkdtemp(prefix="bench-render-floor-"))
    try:
        with bigsite(work, articles, gated_share=1.0, sites=sites) as (_, sources):
            urls: list[str] = []
            cookies: list[dict[str, str]] = []
            for site in yaml.safe_load(sources.read_text(encoding="utf-8"))["sites"]:
                cookies.append(
                    {"name": CHALLENGE_COOKIE[0], "value": CHALLENGE_COOKIE[1], "url": site["home"]}
                )
                index = urllib.request.urlopen(site["sitemaps"][0], timeout=30).read().decode()
                for sitemap in re.findall(r"<loc>([^<]+)</loc>", index):
                    urls += re.findall(
                        r"<loc>([^<]+)</loc>", urllib.request.urlopen(sitemap, timeout=30).read().decode()
                    )
            urls = urls[:articles]
            chromium = os.environ.get("CRAWL_CHROMIUM_PATH") or find_chromium() or ""
            script = work / "floor.py"
            script.write_text(_FLOOR_SCRIPT, encoding="utf-8")
            arg = json.dumps([chromium, list(BROWSER_ARGS), urls, cookies])
            cpu0 = children_cpu()
            started = time.perf_counter()
            with _subreaper():
                proc = subprocess.Popen([PY, str(script), arg], cwd=work, env=_env())
                with KindSampler(proc.pid) as sampler:
                    reaped = _wait(proc, timeout)
                    _reap_orphans(set(sampler.cpu) - {proc.pid})
            wall = time.perf_counter() - started
            by_kind = sampler.by_kind()
            by_kind["python (bare Playwright client)"] = by_kind.pop("scrapy (main process)", 0.0)
            return RenderBench(
                pages=len(urls) if proc.returncode == 0 else 0,
                seconds=wall,
                wall=wall,
                cpu=children_cpu() - cpu0,
                by_kind=by_kind,
                processes=sampler.processes(),
                returncode=proc.returncode or 0,
                cpu_reaped=reaped,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


_RENDER_LINE = re.compile(r"(?:Rendered \S+ \(\S+\) in |Render failed \(.*?\) for \S+ after )([0-9.]+)s")


def render_seconds(log: str) -> list[float]:
    """The wall seconds of every render in a crawl log (``crawler.render.middleware``'s INFO and WARNING
    lines), failed ones included."""
    return [float(m.group(1)) for m in _RENDER_LINE.finditer(log)]


def _profiler(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` (its threads and idle time included) until it exits, as collapsed stacks."""
    spy = shutil.which("py-spy", path=str(Path(PY).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    cmd = [
        spy,
        "record",
        "--pid",
        str(pid),
        "--rate",
        "50",
        "--format",
        "raw",
        "--output",
        str(out),
        "--threads",
    ]
    return subprocess.Popen([*cmd, "--idle"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def _subreaper() -> Iterator[None]:
    """Make this process the subreaper of the crawl's tree: Chromium's processes outlive their parents at
    shutdown (the zygote and its renderers' CPU would otherwise go to init, not to ``RUSAGE_CHILDREN``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> float:
    """Wait for the crawl process; the CPU seconds of it and of the descendants it reaped itself (all that
    ``RUSAGE_CHILDREN`` shows without the subreaper: what bench/pipeline.py counts)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            print(f"!! render bench: no end after {timeout:.0f} s; stopping it", file=sys.stderr)
            proc.terminate()
            deadline = time.monotonic() + 60
        time.sleep(0.1)


def _reap_orphans(pids: set[int], wait: float = 30.0) -> None:
    """Wait for the crawl's processes that were handed to this process (so their CPU is counted)."""
    deadline = time.monotonic() + wait
    pending = set(pids)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                # Not ours yet (its parent is still exiting: it comes to us then) or reaped by its parent.
                if not os.path.exists(f"/proc/{pid}"):
                    pending.discard(pid)
                continue
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(0.1)


def cpu_ms_per_gated_page(articles: int = 200, **kwargs: Any) -> float:
    """CPU-ms per rendered page of an all-gated crawl (``measure``'s number)."""
    return measure(articles, **kwargs).cpu_ms_per_page


def report(result: RenderBench) -> str:
    stats = result.stats
    failed = {k[len("render/failed/") :]: v for k, v in stats.items() if k.startswith("render/failed/")}
    lines = [
        f"rendered {result.pages} gated pages in {result.seconds:.1f} s ({result.rate:.1f} pages/s, "
        f"wall {result.wall:.1f} s), {stats.get('render/captures', 0)} browser captures, "
        f"stored {stats.get('store/articles', 0)}, failed renders {failed or 0}",
        f"CPU: {result.cpu:.1f} s = **{result.cpu_ms_per_page:.1f} CPU-ms per gated page** "
        "(Scrapy process + Playwright driver + Chromium)",
        result.wall_summary(),
        f"  without the processes reparented at shutdown (RUSAGE_CHILDREN of the crawl alone, as "
        f"bench/pipeline.py counts): {1000 * result.cpu_reaped / result.pages if result.pages else 0:.1f} ms",
    ]
    for kind, ms in result.breakdown():
        count = result.processes.get(kind)
        lines.append(f"  {kind:34} {ms:7.1f} ms" + (f"  ({count} processes)" if count and count > 1 else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=200, help="all-gated articles (default 200)")
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument(
        "--gated-share",
        type=float,
        default=1.0,
        help="share of gated articles (default 1: all; 0.05 is bench/pipeline.py's mixed crawl)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="crawl setting")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--max-ms", type=float, default=0.0, help="exit 1 when above this many CPU-ms")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--profile", type=Path, help="py-spy's collapsed stacks of the Scrapy process, to FILE"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="instead: Chromium's own floor, the articles loaded by a bare Playwright script (no crawler)",
    )
    args = parser.parse_args(argv)
    if args.floor:
        bare = floor(args.articles)
        print(f"machine: {machine()['cores']} cores; load {os.getloadavg()[0]:.1f}")
        print(
            f"bare Playwright, {bare.pages} gated pages loaded (networkidle + content) in {bare.wall:.1f} s:"
        )
        print(
            f"CPU: {bare.cpu:.1f} s = **{bare.cpu_ms_per_page:.1f} CPU-ms per page** (the script + driver + Chromium)"
        )
        for kind, ms in bare.breakdown():
            print(f"  {kind:34} {ms:7.1f} ms")
        return 0 if bare.pages else 2
    bad = [item for item in args.set if not re.match(r"^[A-Z0-9_]+=", item)]
    if bad:
        parser.error(f"--set takes NAME=VALUE, got {bad}")
    settings = dict(item.split("=", 1) for item in args.set)
    work = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        result = measure(
            args.articles,
            sites=args.sites,
            settings=settings,
            workdir=work,
            profile=args.profile,
            gated_share=args.gated_share,
        )
    finally:
        if args.keep:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        data = asdict(result)
        data.pop("stats")
        data["cpu_ms_per_page"] = result.cpu_ms_per_page
        data["render_wall"] = result.wall_summary()
        data["render_stats"] = {k: v for k, v in result.stats.items() if k.startswith("render/")}
        print(json.dumps(data, indent=2))
    else:
        info = machine()
        print(f"machine: {info['cores']} cores, {info['cpu']}; load {os.getloadavg()[0]:.1f}")
        print(report(result))
    if result.returncode != 0 or not result.pages:
        return 2
    return 1 if args.max_ms and result.cpu_ms_per_page > args.max_ms else 0


if __name__ == "__main__":
    sys.exit(main())
