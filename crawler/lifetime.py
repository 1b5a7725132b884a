"""A child process of the crawl dies with it: ``die_with_parent``, first thing in every child we start.

A crawl killed with SIGKILL (the OOM killer, ``kill -9``) runs no clean-up, and a child waiting on a pipe or
a queue from it would never notice (it may hold that pipe's other end itself). So the kernel kills the
child when its parent dies (Linux ``PR_SET_PDEATHSIG``; the parent is the *thread* that started the child:
start children from the reactor thread, which lives as long as the crawl), or, elsewhere, a thread
watches the parent pid. Imports nothing of Scrapy: a child pays for what it uses only.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Arrange for this process to die when ``parent_pid`` does; exit now if it already has."""
    if not _parent_death_signal(signal.SIGKILL):
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the signal was set up
        os._exit(1)


def _parent_death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(1)
