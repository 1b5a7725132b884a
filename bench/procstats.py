"""CPU and memory of a process tree from /proc, sampled in a background thread (no psutil).

``TreeMonitor(root_pid)`` walks the descendants of ``root_pid`` every ``interval`` seconds and keeps, per
process, the last CPU time seen (utime + stime) and its VmHWM (the kernel's own peak RSS), plus the largest
sum of PSS over the tree at one instant; with ``timeline=True`` also, per sample, the tree's CPU so far and
its runnable threads (``TreeUsage.window``: the busy share between two instants). Processes under
``exclude`` pids (a server the benchmark also started) are left out. Linux only.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of ``pid`` from /proc/<pid>/stat, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def _memory(pid: int) -> tuple[int, int]:
    """(PSS, VmHWM) of ``pid`` in bytes; zeros for a process that is gone or a zombie.

    PSS (proportional set size) splits shared pages between the processes sharing them, so summing it
    over Chromium's processes (which share most of their memory) does not count the same page ten times.
    """
    pss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
                break
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return pss, hwm


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` used so far; 0 when it is gone."""
    stat = _stat(pid)
    return stat[1] if stat else 0.0


def runnable_threads(pid: int) -> int:
    """Threads of ``pid`` running or waiting for a core right now (state R in /proc/<pid>/task/*/stat)."""
    count = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    for tid in tasks:
        try:
            raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if raw[raw.rfind(")") + 2 : raw.rfind(")") + 3] == "R":
            count += 1
    return count


def descendants(root: int, exclude: frozenset[int] = frozenset()) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children[stat[0]].append(int(entry))
    out: list[int] = []
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in exclude:
            continue
        out.append(pid)
        stack.extend(children.get(pid, ()))
    return out


@dataclass
class TreeUsage:
    peak_rss: int = 0  # largest simultaneous sum of PSS over the tree
    hwm: dict[int, int] = field(default_factory=dict)  # per-process VmHWM
    cpu: dict[int, float] = field(default_factory=dict)  # per-process last CPU seconds seen
    processes: int = 0
    # (wall clock, CPU seconds of the tree so far, threads runnable at that instant), one per sample
    timeline: list[tuple[float, float, int]] = field(default_factory=list)

    def window(self, start: float, end: float, cores: int) -> tuple[float, float]:
        """(CPU share of ``cores``, runnable share) between wall-clock times ``start`` and ``end``.

        The CPU share is what the tree used of the cores; the runnable share is the mean of
        min(cores, runnable threads) / cores: how many cores the tree asked for, whether or not other
        processes on the machine got them first (on a loaded machine work waits longer, so it rises).
        """
        inside = [s for s in self.timeline if start <= s[0] <= end]
        if len(inside) < 2:
            return 0.0, 0.0
        (t0, c0, _), (t1, c1, _) = inside[0], inside[-1]
        cpu = (c1 - c0) / (cores * (t1 - t0)) if t1 > t0 else 0.0
        demand = sum(min(cores, r) for _, _, r in inside) / (cores * len(inside))
        return cpu, demand

    @property
    def hwm_sum(self) -> int:
        return sum(self.hwm.values())


class TreeMonitor:
    """Context manager sampling the process tree under ``root`` (include_root: count ``root`` itself)."""

    def __init__(
        self,
        root: int,
        *,
        interval: float = 0.25,
        exclude: frozenset[int] = frozenset(),
        include_root: bool = True,
        timeline: bool = False,
    ) -> None:
        self.root = root
        self.interval = interval
        self.exclude = exclude
        self.include_root = include_root
        self.timeline = timeline  # also keep CPU and runnable threads per sample (TreeUsage.window)
        self.usage = TreeUsage()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-monitor", daemon=True)

    def sample(self) -> None:
        pids = descendants(self.root, self.exclude)
        if not self.include_root:
            pids = [p for p in pids if p != self.root]
        total = runnable = 0
        for pid in pids:
            rss, hwm = _memory(pid)
            total += rss
            if hwm:
                self.usage.hwm[pid] = max(hwm, self.usage.hwm.get(pid, 0))
            stat = _stat(pid)
            if stat is not None:
                self.usage.cpu[pid] = stat[1]
            if self.timeline:
                runnable += runnable_threads(pid)
        if self.timeline:
            self.usage.timeline.append((time.time(), sum(self.usage.cpu.values()), runnable))
        self.usage.peak_rss = max(self.usage.peak_rss, total)
        self.usage.processes = max(self.usage.processes, len(self.usage.hwm))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeMonitor:
        self.sample()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()


def children_cpu() -> float:
    """CPU seconds of this process's terminated, waited-for children (and their waited-for children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine() -> dict[str, str]:
    """Cores, RAM, CPU model and Python version of this machine."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {
        "cores": str(cores),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "cpu": model,
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "kernel": platform.release(),
    }
