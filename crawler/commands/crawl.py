"""``scrapy crawl``, with set-up errors reported as one clear line instead of a traceback.

A bad sources file, setting or storage URI stops the crawl before its first request (the components
raise while the crawler is built); this command prints their message (which names the file, entry or
setting and what to fix) and exits with status 2.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from typing import TYPE_CHECKING, Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from twisted.python.failure import Failure

if TYPE_CHECKING:
    import argparse


def setup_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "fix your configuration", not "the crawler has a bug"."""
    from crawler.config import ConfigError
    from crawler.sources import SourcesError

    types: list[type[BaseException]] = [ConfigError, SourcesError]
    try:
        from archive.store import StoreError

        types.append(StoreError)
    except ImportError:  # pragma: no cover - storage is part of the project; kept for partial installs
        pass
    return tuple(types)


def _masked(message: str, settings: Any) -> str:
    """An error line never carries a credential (a bad value is echoed in some messages)."""
    from crawler.secrets import SecretMasker

    return SecretMasker.from_settings(settings).mask(message)


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)
            return
        assert self.crawler_process
        errors = setup_error_types()
        failed: list[str] = []

        def report(failure: Failure) -> Any:
            if failure.check(*errors):
                failed.append(str(failure.value))
                return None
            return failure

        def report_task(task: asyncio.Future[Any]) -> None:
            if task.cancelled():
                return
            exc = task.exception()  # retrieved here, so asyncio does not print it again
            if exc is None:
                return
            if isinstance(exc, errors):
                failed.append(str(exc))
            else:
                traceback.print_exception(exc)

        try:
            crawler = self._create_crawler(args[0])
        except errors as exc:  # settings rejected while the crawler is built (spider.update_settings)
            print(f"error: {_masked(str(exc), self.settings)}", file=sys.stderr)
            self.exitcode = 2
            return
        started = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(started, asyncio.Future):
            started.add_done_callback(report_task)
        else:
            started.addErrback(report)  # type: ignore[attr-defined]
        self.crawler_process.start()
        if failed:
            for message in failed:
                print(f"error: {_masked(message, self.settings)}", file=sys.stderr)
            self.exitcode = 2
        elif self.crawler_process.bootstrap_failed:
            self.exitcode = 1
