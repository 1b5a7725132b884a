"""``scrapy schedule``: start a crawl on a scrapyd server (its ``schedule.json``) and print the job id.

    scrapy schedule [--url http://127.0.0.1:6800] [--project libya] [--spider libya] [--sources FILE]
                    [--since YYYY-MM-DD] [--sites a,b] [--jobid ID] [-a NAME=VALUE ...] [-s NAME=VALUE ...]

The job id is chosen here (``<UTC yyyymmdd-hhmmss>-<8 hex>``, unless ``--jobid``) and sent twice: as scrapyd's
``jobid`` and as the setting ``CRAWL_ID``, so the scrapyd job, its log file (``logs/<project>/<spider>/<job>
.log``) and the crawl's WARC names, warcinfo and manifest all carry the same id. (scrapyd 1.6 passes the job
id to the spider only as the ``_job`` argument; it no longer sets ``SCRAPY_JOB``.) ``-s`` settings are
forwarded to the job, not applied locally; ``--sources`` is made absolute when it names a local file (the
scrapyd host must see the same path). Basic auth, when the server has it, comes from SCRAPYD_USERNAME and
SCRAPYD_PASSWORD in the environment, never from the command line. The server URL defaults to
``$SCRAPYD_URL``, else http://127.0.0.1:6800. Prints the job id alone on stdout; exit status 1 when the
server cannot be reached or refuses the job (its message on stderr).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

if TYPE_CHECKING:
    import argparse

DEFAULT_URL = "http://127.0.0.1:6800"
DEFAULT_PROJECT = "libya"
DEFAULT_SPIDER = "libya"
REQUEST_TIMEOUT = 60.0


def new_job_id(now: datetime | None = None) -> str:
    """A job id that sorts by start time and is usable as CRAWL_ID: ``20250101-060000-1a2b3c4d``.

    Lowercase on purpose: archive keys lowercase crawl ids (``warc/<crawl-id>/``, ``manifests/<crawl-id>.jsonl``),
    so the job id, its log file name and the archive's keys are spelt the same.
    """
    return f"{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"


def schedule_form(
    *,
    project: str,
    spider: str,
    jobid: str,
    settings: list[tuple[str, str]],
    spider_args: list[tuple[str, str]],
) -> list[tuple[str, str]]:
    """The form fields of one ``schedule.json`` POST (``setting`` repeats; spider arguments are plain)."""
    reserved = {"project", "spider", "jobid", "setting", "priority", "_version"}
    clash = sorted({name for name, _ in spider_args} & reserved)
    if clash:
        raise UsageError(f"spider argument(s) {clash} clash with scrapyd's own schedule.json fields")
    form = [("project", project), ("spider", spider), ("jobid", jobid)]
    names = {name for name, _ in settings}
    if "CRAWL_ID" not in names:
        form.append(("setting", f"CRAWL_ID={jobid}"))
    form += [("setting", f"{name}={value}") for name, value in settings]
    form += list(spider_args)
    return form


def post_form(url: str, form: list[tuple[str, str]], timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
    """POST ``form`` to ``url`` and return the JSON answer (credentials from SCRAPYD_USERNAME/PASSWORD)."""
    data = urllib.parse.urlencode(form).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST")
    user, password = os.environ.get("SCRAPYD_USERNAME"), os.environ.get("SCRAPYD_PASSWORD")
    if user:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read().decode("utf-8"))
    if not isinstance(answer, dict):
        raise ValueError(f"{url} answered {answer!r}, not a JSON object")
    return answer


def _pairs(values: list[str] | None, flag: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{flag} expects NAME=VALUE, got {value!r}")
        pairs.append((name.strip(), rest))
    return pairs


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}  # noqa: RUF012 (ScrapyCommand declares it a ClassVar)

    def syntax(self) -> str:
        return "[--url URL] [--project NAME] [--sources FILE] [-a NAME=VALUE] [-s NAME=VALUE]"

    def short_desc(self) -> str:
        return "Schedule a crawl on scrapyd (schedule.json) and print its job id"

    def long_desc(self) -> str:
        return (
            "POST schedule.json to a scrapyd server to start the libya spider, and print the job id. The job id "
            "is also the crawl id (setting CRAWL_ID) of WARC names, warcinfo and the manifest. -s settings go to "
            "the job. Exit status 1 when scrapyd cannot be reached or refuses the job."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--url", default=None, help=f"scrapyd URL (default: $SCRAPYD_URL or {DEFAULT_URL})"
        )
        parser.add_argument("--project", default=DEFAULT_PROJECT, help="scrapyd project (default: libya)")
        parser.add_argument("--spider", default=DEFAULT_SPIDER, help="spider name (default: libya)")
        parser.add_argument("--sources", default=None, help="sources file, as seen by the scrapyd host")
        parser.add_argument("--since", default=None, help="only articles newer than YYYY-MM-DD")
        parser.add_argument("--sites", default=None, help="comma-separated subset of the sources file")
        parser.add_argument("--jobid", default=None, help="job id (default: UTC timestamp plus random hex)")
        parser.add_argument(
            "-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE", help="spider argument"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("schedule takes no positional arguments")
        base = (opts.url or os.environ.get("SCRAPYD_URL") or DEFAULT_URL).rstrip("/")
        jobid = opts.jobid or new_job_id()
        settings = _pairs(getattr(opts, "set", None), "-s")
        spider_args = _pairs(opts.spargs, "-a")
        if opts.sources:
            local = Path(opts.sources).expanduser()
            sources = str(local.resolve()) if local.is_file() else opts.sources
            spider_args.append(("sources", sources))
        if opts.since:
            spider_args.append(("since", opts.since))
        if opts.sites:
            spider_args.append(("sites", opts.sites))
        form = schedule_form(
            project=opts.project, spider=opts.spider, jobid=jobid, settings=settings, spider_args=spider_args
        )
        url = f"{base}/schedule.json"
        try:
            answer = post_form(url, form)
        except urllib.error.HTTPError as error:
            print(f"schedule: {url}: HTTP {error.code} {error.reason}", file=sys.stderr)
            self.exitcode = 1
            return
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            print(f"schedule: cannot reach scrapyd at {base}: {error}", file=sys.stderr)
            self.exitcode = 1
            return
        if answer.get("status") != "ok":
            print(f"schedule: scrapyd refused the job: {answer.get('message', answer)}", file=sys.stderr)
            self.exitcode = 1
            return
        print(answer.get("jobid", jobid))
