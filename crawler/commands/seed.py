"""``scrapy seed``: push a sources file's seeds to Redis for a distributed crawl.

    scrapy seed -a sources=FILE -s CRAWL_REDIS_URL=redis://host:6379/0 -s CRAWL_ID=libya-2026-11-23

Then start any number of workers with the same CRAWL_REDIS_URL, CRAWL_ID and sources file:

    scrapy crawl libya -a sources=FILE -s CRAWL_REDIS_URL=... -s CRAWL_ID=... -s CRAWL_WORKER_ID=w1

The seeds are JSON ({"site", "kind", "url"}); each worker turns them into requests that go through the
shared duplicate filter, so a seed pushed twice is still fetched once.
"""

from __future__ import annotations

import argparse
import sys
import time

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.config import ConfigError
from crawler.distributed.config import RedisConfig, seed_messages
from crawler.secrets import SecretMasker, install_log_masking
from crawler.sources import SourcesError, load_sources


class Command(ScrapyCommand):
    requires_project = True

    def syntax(self) -> str:
        return "-a sources=FILE -s CRAWL_REDIS_URL=URL -s CRAWL_ID=ID"

    def short_desc(self) -> str:
        return "Push the seeds of a sources file to Redis for a distributed crawl"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        masker = SecretMasker.from_settings(self.settings)  # CRAWL_REDIS_URL may carry a password
        install_log_masking(masker)
        spargs = dict(arg.split("=", 1) for arg in opts.spargs if "=" in arg)
        try:
            config = RedisConfig.from_settings(self.settings)
            if config is None:
                raise UsageError("set CRAWL_REDIS_URL (-s CRAWL_REDIS_URL=redis://host:6379/0)")
            sources_path = spargs.get("sources") or self.settings.get("CRAWL_SOURCES")
            if not sources_path:
                from crawler.config import default_sources_path

                sources_path = str(default_sources_path())
            sources = load_sources(sources_path)
        except (ConfigError, SourcesError) as exc:
            print(f"error: {masker.mask(str(exc))}", file=sys.stderr)
            self.exitcode = 2
            return
        import redis

        server = redis.Redis.from_url(config.url)
        messages = seed_messages(sources, self.settings.getbool("ROBOTSTXT_OBEY"))
        with server.pipeline() as pipe:  # one transaction: the seeds and the mark that they are there
            if messages:
                pipe.rpush(config.key("seeds"), *messages)
            pipe.set(config.key("seeded"), str(time.time()))
            pipe.execute()
        print(f"Pushed {len(messages)} seed(s) for {len(sources)} site(s) to {config.key('seeds')}")
