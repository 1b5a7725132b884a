"""Scrapy settings for the Libya news archiver: the one place where defaults live.

Every project setting is listed here with its default, grouped by component. Components parse the settings
they use once, at start-up, into frozen config dataclasses (``from_settings``) that reject bad values before
the first request. The README's settings table mirrors this file.
"""

from __future__ import annotations

import os

BOT_NAME = "libya-news-archiver"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# --- Identity and politeness ---------------------------------------------------------------------------
# Who runs the crawl; appears in the User-Agent and in every warcinfo record. Set it to a URL or address
# where site owners can reach you.
OPERATOR_CONTACT = os.environ.get("CRAWL_OPERATOR_CONTACT", "https://github.com/libya-news-archiver")
# Filled from OPERATOR_CONTACT at start-up when left empty (see crawler.config).
USER_AGENT = ""
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output (2.13+), whatever it yields: an
# article page yields one item, so the default 100 cost a quarter of the reactor thread's time in the
# benchmark (bench/results.md). Sitemaps yield requests, which are scheduled without waiting.
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 0.25
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
COOKIES_ENABLED = True
REDIRECT_MAX_TIMES = 10
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# --- Sources and crawl identity --------------------------------------------------------------------------
# The YAML sources file (one entry per site). `-a sources=FILE` on the spider overrides it.
CRAWL_SOURCES = ""  # empty: the packaged default, sources/libya.yaml
# Identifies this crawl in WARC names, warcinfo and the manifest. Empty: scrapyd's job id when run under
# scrapyd (SCRAPY_JOB), else a UTC timestamp.
CRAWL_ID = ""
# Only sitemap entries newer than this date (YYYY-MM-DD); `-a since=` overrides.
CRAWL_SINCE = ""

# --- Storage -----------------------------------------------------------------------------------------------
# Where everything goes: file:///abs/dir, a plain path, or s3://bucket/prefix.
ARCHIVE_URI = "./archive-data"
# Local spool for objects waiting to be uploaded to a remote store (never lost when S3 is down).
ARCHIVE_SPOOL_DIR = ""  # empty: ./archive-spool
# S3: credentials come from the standard AWS chain or these settings; never logged.
AWS_ACCESS_KEY_ID = None
AWS_SECRET_ACCESS_KEY = None
AWS_SESSION_TOKEN = None
AWS_ENDPOINT_URL = None
AWS_REGION_NAME = None
AWS_USE_SSL = None
AWS_VERIFY = None
S3_ADDRESSING_STYLE = "auto"  # auto | path | virtual
S3_MULTIPART_THRESHOLD = 64 * 1024 * 1024
S3_UPLOAD_RETRIES = 5
# Uploads running at once (threads, each with its own connection from the store's pool).
ARCHIVE_UPLOAD_CONCURRENCY = 4
# Seconds to wait at the end of a crawl for uploads; what is left stays in the spool for `scrapy upload`.
ARCHIVE_DRAIN_TIMEOUT = 300.0

# --- WARC --------------------------------------------------------------------------------------------------
WARC_ENABLED = True
WARC_PREFIX = "LIBYA"
# A WARC file is finished (and uploaded, and packaged) at this size or this age, whichever comes first, so
# the data leaves the machine while the crawl runs. WARC_MAX_AGE: seconds, 0 for no rotation by age.
WARC_MAX_SIZE = 100_000_000
WARC_MAX_AGE = 300.0
WACZ_ENABLED = True
# WACZ signing (crawler/signing.py): "anonymous" (an ECDSA key pair of the crawler's own) or "off".
WACZ_SIGNING = "anonymous"
WACZ_SIGNING_KEY = None  # PEM of the private key (a secret: masked); empty: WACZ_SIGNING_KEY_FILE
WACZ_SIGNING_KEY_FILE = ""  # empty: <ARCHIVE_SPOOL_DIR>/keys/wacz-signing-key.pem, made on first use
# The store's replay collection (crawler/collection.py): updated as each crawl closes (a local store only);
# its pywb name; a part of the index with this many lines or more is written ZipNum-style (compressed).
COLLECTION_UPDATE = True
COLLECTION_NAME = "libya"
COLLECTION_ZIPNUM_LINES = 100_000
WARC_DIR = ""  # empty: <spool>/warc/<crawl id>
WARC_DIGEST_INDEX = ""  # a JSONL digest index shared between crawls; empty: <WARC_DIR>/digests.jsonl

# --- Page requisites (crawler/requisites.py) ----------------------------------------------------------
# Stylesheets (their url()s and @imports), scripts, images (srcset, <picture>, lazy-load data-src), fonts and
# icons of every HTML page fetched without the browser, so it replays as readers saw it. Fetched as embeds
# only, from the site's hosts and the hosts the page embeds from; robots.txt and the address rules apply.
CRAWL_REQUISITES = True
CRAWL_REQUISITES_MAX_SIZE = 16 * 1024 * 1024  # bytes of one requisite; larger ones are dropped and counted
CRAWL_REQUISITES_MAX_PER_PAGE = 200  # requisites requested for one page (or stylesheet)

# --- Extraction and relevance -----------------------------------------------------------------------------
# Worker processes for text extraction (0: one per core).
EXTRACT_WORKERS = 0
# The relevance topic file; empty: the packaged relevance/topics/libya.yaml.
RELEVANCE_TOPIC = ""
# Keep every article (with its relevance decision) instead of only the relevant ones.
RELEVANCE_KEEP_ALL = False

# --- Faults and recovery ---------------------------------------------------------------------------------
RETRY_AFTER_ENABLED = True
RETRY_AFTER_HTTP_CODES = [429, 503]
RETRY_AFTER_MAX_DELAY = 300.0  # a longer Retry-After is not waited for: the URL counts as failed
# robots.txt answering 5xx/429 or not at all: nothing of the host is fetched; it is asked again this many
# times, this many seconds after each failure, while the crawl runs (crawler.politeness.robots).
ROBOTSTXT_UNREACHABLE_RETRIES = 2
ROBOTSTXT_UNREACHABLE_RETRY_DELAY = 60.0
RECOVERY_ENABLED = True
CRAWL_STATE_DIR = ""  # journal of finished articles for resuming; empty: <spool>/state/<crawl-id>

# --- Distributed crawls (crawler/distributed/) -----------------------------------------------------------
CRAWL_REDIS_URL = ""  # redis://host:6379/0: workers share one queue, duplicate filter and digest index
CRAWL_WORKER_ID = ""  # this worker's name in file names; empty: <host>-<pid>
CRAWL_REDIS_IDLE_CLOSE = 10.0  # seconds a worker waits on an empty shared queue before it closes
CRAWL_REDIS_HEARTBEAT = 5.0  # seconds between a worker's "alive" marks

# --- Incremental crawls ----------------------------------------------------------------------------------
# Per-site state (known articles, ETag, Last-Modified, digests, text versions) kept in the archive store.
INCREMENTAL_ENABLED = True
INCREMENTAL_STATE_PREFIX = "state/sites"
# Skip an article whose sitemap lastmod is not newer than its last fetch (no request at all).
INCREMENTAL_SKIP_BY_DATE = True
INCREMENTAL_SKIP_BY_PUBLISHED = False
# Fetch known articles unconditionally (after an extraction fix, say).
INCREMENTAL_REFETCH = False

# --- Research corpus (crawler.corpus): entity tags, near-duplicate clusters, the Parquet dataset ---------
CORPUS_ENABLED = True
DATASET_PART_ROWS = 1000  # a dataset part per partition every this many rows ...
DATASET_PART_SECONDS = 300.0  # ... or this many seconds, whichever comes first
NEARDUP_JACCARD = 0.5  # an edited copy: estimated Jaccard of word shingles at least this
NEARDUP_CONTAINMENT = 0.7  # a shortened copy: share of its shingles found in the other at least this
NEARDUP_PROCESS = (
    True  # the index in a process of its own (crawler.corpus_index); in-process when distributed
)

# --- Operators: progress, report, metrics, layout drift ---------------------------------------------------
PROGRESS_INTERVAL = 30  # seconds between progress lines (0: off)
PROGRESS_BAR = "auto"  # auto (when stderr is a terminal) | on | off
METRICS_PORT = 0  # Prometheus endpoint port (0: off)
METRICS_HOST = "127.0.0.1"
REPORT_ENABLED = True  # reports/<crawl-id>/report.{md,html,json} + stats.json in the archive store
REPORT_DIR = ""  # local copy; empty: <spool>/reports
REPORT_PYWB_VENV = ".pywb-venv"  # named in the report's replay instructions
REPORT_HISTORY_TIMEOUT = 60.0
# Layout drift: warn when a site's median text length falls below this share of its recent runs ...
DRIFT_MEDIAN_RATIO = 0.5
# ... or its empty-text / missing-date rate rises by this much (0.30 = 30 points)
DRIFT_RATE_RISE = 0.30
DRIFT_WINDOW = 10  # runs compared
DRIFT_MIN_PAGES = 3  # runs with fewer pages for a site are not compared

# --- Rendering (JavaScript-gated pages) ------------------------------------------------------------------
# Chromium executable; empty: Playwright's own browser download (`playwright install chromium`) when there is
# one, else the system's chromium-headless-shell or chromium (crawler.render.find_chromium).
RENDER_CHROMIUM_PATH = os.environ.get("CRAWL_CHROMIUM_PATH", "")
RENDER_MAX_CONTEXTS = 2
RENDER_MAX_PAGES_PER_CONTEXT = 4
# Renders waiting for a free browser page that do not hold a CONCURRENT_REQUESTS slot meanwhile (plain pages
# keep flowing); beyond it waiting renders count again (crawler.render.queue). 0: they always count.
RENDER_QUEUE_SIZE = 64
# A render still running this long after its page first loaded is stopped (0: 3 x RENDER_TIMEOUT).
RENDER_HARD_TIMEOUT = 0
RENDER_TIMEOUT = 30.0
# Bytes one browser response may put into the WARC (0: DOWNLOAD_MAXSIZE); a larger one is archived cut,
# with WARC-Truncated: length. A page whose responses together need more than RENDER_MAX_PAGE_SIZE is closed.
RENDER_MAX_RESPONSE_SIZE = 0
RENDER_MAX_PAGE_SIZE = 64 * 1024 * 1024

# --- Components ------------------------------------------------------------------------------------------
# Scrapy's duplicate filter, asking the frontier about article URLs instead of keeping them in memory
# (crawler/frontier/dupefilter.py; Redis mode uses scrapy-redis' own).
DUPEFILTER_CLASS = "crawler.frontier.dupefilter.FrontierDupeFilter"
DOWNLOADER_MIDDLEWARES: dict[str, int | None] = {
    # Before robots.txt (100): out-of-scope URLs and redirects are dropped before anything is fetched.
    "crawler.scope.ScopeMiddleware": 50,
    # Focused crawling: one fetch per candidate article (its best-scored request), CRAWL_SITE_BUDGET.
    "crawler.focus.FocusDownloaderMiddleware": 60,
    # robots.txt as RFC 9309 says (unreachable: keep off; Crawl-delay kept), in place of Scrapy's.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.politeness.robots.PolitenessRobotsTxtMiddleware": 100,
    # Honours Retry-After on 429/503 (waits without blocking, within Scrapy's retry budget).
    "crawler.retry_after.RetryAfterMiddleware": 555,
    # Conditional requests for known articles; a 304 (archived first by the WARC middleware) stops here.
    "crawler.incremental.IncrementalDownloaderMiddleware": 580,
    # Closest to the network: sees every hop (3xx included) and bodies before decompression.
    "crawler.warc.WarcCaptureMiddleware": 950,
}
# Rendering of JavaScript-gated pages: installs scrapy-playwright's download handler (Chromium starts only on
# the first gated page) and the JsGateMiddleware (585, after decompression) that decides per response.
ADDONS: dict[str, int] = {
    # First of all: credentials are masked in every log line (Scrapy's "Overridden settings" included),
    # traceback, stats dump and report (see crawler/secrets.py).
    "crawler.secrets.SecretsMaskAddon": -200,
    # Every project setting is checked before anything else is built: a bad value stops the crawl with
    # one line that names it (see crawler/validation.py).
    "crawler.validation.SettingsValidator": -100,
    "crawler.render.RenderAddon": 0,
}
SPIDER_MIDDLEWARES: dict[str, int] = {
    # After a crash: articles already archived by the killed run are not fetched again.
    "crawler.recovery.SkipDoneSpiderMiddleware": 50,
    # Article requests go to the frontier on disk (sees the others' output); a feeder hands them to the
    # scheduler best first, a few at a time (crawler/frontier/).
    "crawler.frontier.feeder.FrontierMiddleware": 10,
    # Skips article requests whose sitemap lastmod is not newer than the last fetch.
    "crawler.incremental.IncrementalSpiderMiddleware": 600,
    # Adds the page requisites (CSS, scripts, images, fonts, icons) of every archived HTML page.
    "crawler.requisites.RequisitesSpiderMiddleware": 700,
}
ITEM_PIPELINES: dict[str, int] = {
    "crawler.pipelines.extract.ExtractPipeline": 100,
    "crawler.pipelines.relevance.RelevancePipeline": 200,
    # Unchanged text (same digest as the last version) makes no new record.
    "crawler.incremental.IncrementalPipeline": 250,
    "crawler.pipelines.store.StorePipeline": 300,
}
EXTENSIONS: dict[str, int] = {
    # Focused crawling: harvest rate per site and pattern, kept in the state directory for the next crawl.
    "crawler.focus.learn.HarvestExtension": 480,
    # The host gate in front of the download handlers: 429/503 back-off, Crawl-delay, cluster-wide limits.
    "crawler.politeness.extension.HostPolitenessExtension": 80,
    # The one owner of what the crawl writes: store, spool, WARC writer, digest index, manifest, incremental
    # state; it closes them in one documented order at spider close (crawler/session.py).
    "crawler.session.ArchiveSession": 90,
    # Repairs WARC files a killed crawl left `.open` and remembers which articles it finished.
    "crawler.recovery.CrawlRecoveryExtension": 95,
    # The frontier on disk and its feeder (also a spider middleware, below: one object); after the session,
    # which saves each site's backlog, and the recovery journal, which it consults.
    "crawler.frontier.feeder.FrontierMiddleware": 96,
    # Signs each crawl's WACZ right after it is built (crawler/signing.py); after the session that owns it.
    "crawler.signing.WaczSigningExtension": 101,
    # The store's replay collection (one index over every crawl) gets this crawl's index at close.
    "crawler.collection.CollectionExtension": 102,
    # The research corpus: near-duplicate index, entity tagger, Parquet dataset parts (through storage).
    "crawler.corpus.CorpusExtension": 125,
    # Operators: the crawl report (written in the session's closing sequence), progress lines, Prometheus.
    "crawler.report.CrawlReportExtension": 150,
    "crawler.progress.ProgressExtension": 160,
    "crawler.metrics.MetricsExtension": 170,
    "crawler.statsfile.StatsFileExtension": 900,
}
# Write the final stats as JSON to this file (empty: off).
CRAWL_STATS_FILE = ""
# Focused crawling (crawler.focus): prioritise | only | off; article fetches per site per crawl (0: no cap);
# the pre-fetch score an article needs under CRAWL_FOCUS=only.
CRAWL_FOCUS = "prioritise"
CRAWL_SITE_BUDGET = 0
CRAWL_FOCUS_MIN_SCORE = 5.0
LOG_FORMATTER = "crawler.logformatter.ArchiveLogFormatter"
COMMANDS_MODULE = "crawler.commands"
# scrapy-playwright needs the asyncio reactor; plain requests still go through Scrapy's HTTP handler.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Listing pages followed from one home or section page (pagination depth).
CRAWL_MAX_LISTING_PAGES = 50
