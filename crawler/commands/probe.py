"""``scrapy probe URL``: look at a new site before crawling it, and propose its sources entry.

    scrapy probe https://alwasat.ly/ > alwasat.yaml       # report as comments, then the entry
    scrapy crawl libya -a sources=alwasat.yaml

Fetches robots.txt, the home page, the sitemaps, the feeds the home page announces, the menu's sections of
the topic and a sample of articles (extracted, gate-checked and scored as the crawl would), learns the
article URL shape, and prints a sources file for the site (``crawler.probe``). Polite: robots.txt obeyed,
one request at a time, ``--delay`` seconds apart at least (and the site's Crawl-delay); bounded: at most
``--budget`` requests, robots.txt included.

Options: ``--name`` (the entry's name; default from the host), ``--budget`` (40), ``--sample`` (6 articles),
``--max-sitemaps`` (8 sitemap documents), ``--delay`` (1.0 s), ``-o FILE`` (write the sources file there
too). Reads RELEVANCE_TOPIC and the politeness settings (``crawler.politeness``).

Exit codes: 0 with a proposed entry; 1 when the site cannot be probed (unreachable, robots.txt forbids the
home page or cannot be read, the URL is not an HTML page: one ``error:`` line says which); 2 for bad
options.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.settings import SETTINGS_PRIORITIES

from crawler.config import user_agent_for
from crawler.probe.report import site_name
from crawler.sources import _NAME_RE, SourcesError

# Loggers whose failures (robots.txt or the site unreachable) the probe reports itself.
_QUIET_LOGGERS = (
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.downloadermiddlewares.retry",
    "crawler.politeness.robots",
)
DEFAULT_BUDGET = 40
DEFAULT_SAMPLE = 6
DEFAULT_MAX_SITEMAPS = 8
DEFAULT_DELAY = 1.0


class Command(ScrapyCommand):
    requires_project = True
    quiet = False

    def syntax(self) -> str:
        return "URL [--name NAME] [--budget N] [--sample N] [--max-sitemaps N] [--delay S] [-o FILE]"

    def short_desc(self) -> str:
        return (
            "Probe a site (robots.txt, sitemaps, feeds, sections, sample articles); propose its sources entry"
        )

    def long_desc(self) -> str:
        return (
            "Probe one site politely and within a request budget, and print a sources file for it: the "
            "report as comments, then the proposed entry. Exits 0 with an entry, 1 when the site cannot be "
            "probed, 2 for bad options."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--name", default=None, help="the entry's name (default: from the host)")
        parser.add_argument(
            "--budget", type=int, default=DEFAULT_BUDGET, help="requests at most (robots.txt included)"
        )
        parser.add_argument(
            "--sample", type=int, default=DEFAULT_SAMPLE, help="articles fetched and extracted"
        )
        parser.add_argument(
            "--max-sitemaps", type=int, default=DEFAULT_MAX_SITEMAPS, help="sitemap documents fetched at most"
        )
        parser.add_argument(
            "--delay", type=float, default=DEFAULT_DELAY, help="seconds between two requests at least"
        )
        parser.add_argument("-o", "--output", default=None, help="also write the sources file here")

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        problems = []
        if opts.budget < 3:
            problems.append(f"--budget {opts.budget}: at least 3 (robots.txt, the home page, one more)")
        if opts.sample < 0:
            problems.append(f"--sample {opts.sample}: 0 or more")
        if opts.max_sitemaps < 0:
            problems.append(f"--max-sitemaps {opts.max_sitemaps}: 0 or more")
        if not opts.delay >= 0:
            problems.append(f"--delay {opts.delay}: seconds, 0 or more")
        if opts.name is not None and not _NAME_RE.match(opts.name):
            problems.append(
                f"--name {opts.name!r}: a lowercase identifier ([a-z0-9_-], at most 63 characters)"
            )
        if problems:
            raise UsageError("; ".join(problems), print_help=False)
        if (self.settings.getpriority("LOG_LEVEL") or 0) < SETTINGS_PRIORITIES["cmdline"]:
            self.settings.set("LOG_LEVEL", "WARNING", priority="cmdline")  # the report is the output
            self.quiet = True
        self.settings.set("DOWNLOAD_DELAY", opts.delay, priority="cmdline")
        self.settings.set("AUTOTHROTTLE_START_DELAY", max(opts.delay, 0.0), priority="cmdline")
        if not self.settings.get("USER_AGENT") or str(self.settings.get("USER_AGENT")).startswith("Scrapy/"):
            contact = self.settings.get("OPERATOR_CONTACT") or ""
            self.settings.set("USER_AGENT", user_agent_for(contact), priority="cmdline")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give the URL of the site's home page", print_help=False)
        url = args[0].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{url!r} is not an http(s) URL", print_help=False)
        if not parts.path:
            url += "/"
        from crawler.probe.spider import ProbeSpider

        assert self.crawler_process is not None
        if self.quiet:
            # Failures to reach the site are the report's error line, not a traceback in the log (set here:
            # the crawler process's logging set-up resets the levels of loggers under "scrapy").
            for logger_name in _QUIET_LOGGERS:
                logging.getLogger(logger_name).setLevel(logging.CRITICAL)
        crawler = self.crawler_process.create_crawler(ProbeSpider)
        self.crawler_process.crawl(
            crawler,
            url=url,
            name=opts.name or site_name(url),
            budget=opts.budget,
            sample=opts.sample,
            max_sitemaps=opts.max_sitemaps,
        )
        self.crawler_process.start()
        spider = crawler.spider
        report = getattr(spider, "report", None)
        if report is None:
            print(f"error: probe of {url} did not start (see the log above)", file=sys.stderr)
            self.exitcode = 1
            return
        if report.error:
            print(f"error: {report.error}", file=sys.stderr)
            self.exitcode = 1
            return
        try:
            report.source()
        except SourcesError as exc:  # a bug of ours, not of the site: said as such
            print(f"error: the proposed entry does not load: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        text = report.render()
        if opts.output:
            Path(opts.output).write_text(text, encoding="utf-8")
        sys.stdout.write(text)
