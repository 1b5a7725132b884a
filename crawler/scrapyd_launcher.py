"""scrapyd's launcher, with credentials moved from a job's command line to its environment.

scrapyd turns a job's ``setting=NAME=VALUE`` into ``-s NAME=VALUE`` on the crawl's command line, which every
local user can read (``ps``) and which scrapyd's own log prints twice per job ("Process started/finished:
... args=[...]"). ``SecretSafeLauncher`` (``launcher`` in scripts/scrapyd.conf) passes the credential
settings (``crawler.secrets.SECRET_NAMES``) as environment variables of the same name instead, where boto3's
credential chain and ``crawler.secrets`` find them; every other setting stays on the command line. It runs
inside the scrapyd daemon, so it imports scrapyd and Twisted, never the crawl's components.

Left to scrapyd: a job still *pending* shows its settings in ``listjobs.json`` and sits in scrapyd's queue
database until it starts; give credentials to the scrapyd service's environment or an AWS credentials file
rather than as ``setting=`` where that matters.
"""

from __future__ import annotations

import sys
from typing import Any

from scrapyd.interfaces import IEnvironment
from scrapyd.launcher import Launcher, ScrapyProcessProtocol, get_crawl_args
from twisted.internet import reactor

from crawler.secrets import SECRET_NAMES


def split_secret_settings(message: dict[str, Any]) -> dict[str, str]:
    """Remove the credential settings from a job message; return them as environment variables."""
    settings = message.setdefault("settings", {})
    return {name: str(settings.pop(name)) for name in SECRET_NAMES if name in settings}


class SecretSafeLauncher(Launcher):
    """scrapyd's ``Launcher``; see the module docstring."""

    def _spawn_process(self, message: dict[str, Any], slot: int) -> None:
        # scrapyd 1.6's Launcher._spawn_process, with the credentials moved to the environment.
        project = message["_project"]
        environment = self.app.getComponent(IEnvironment)
        message.setdefault("settings", {})
        message["settings"].update(environment.get_settings(message))
        secrets = split_secret_settings(message)
        env = {**environment.get_environment(message, slot), **secrets}
        args = [sys.executable, "-m", self.runner, "crawl", *get_crawl_args(message)]
        process = ScrapyProcessProtocol(project, message["_spider"], message["_job"], env, args)
        process.deferred.addBoth(self._process_finished, slot)
        reactor.spawnProcess(process, sys.executable, args=args, env=env)  # type: ignore[misc]  # the stub misreads args=
        self.processes[slot] = process
