"""One crawl on several machines: scrapy-redis on Redis, switched on by CRAWL_REDIS_URL.

Reads: CRAWL_REDIS_URL (empty: off), CRAWL_ID (must be the same on every worker), CRAWL_WORKER_ID (default:
host name and process id), CRAWL_REDIS_IDLE_CLOSE (seconds a worker of a seeded crawl waits with nothing to do
before it stops; default 10), CRAWL_REDIS_HEARTBEAT (seconds; default 5).

Every worker shares, under ``libya:<crawl-id>:``: the request queue (``requests``) and duplicate filter
(``dupefilter``) of scrapy-redis; the seeds (``seeds``, JSON pushed by ``scrapy seed``); a heartbeat per
worker (``worker:<id>``, with a time-to-live); the requests each worker has in flight (``inflight:<id>``).
The revisit digest index is shared across crawls at ``libya:digests``.

A request counts as in flight from the moment this worker takes it from the shared queue
(``InflightScheduler``) until its errback ran, or its callback's output is settled: the output ended, every
request it yielded is in the shared queue (or was found seen there) and every article it yielded is stored or
dropped (``RedisCoordinator.output_started``; Scrapy queues a callback's requests after the output ended).
Every step a request makes between the keys is one Lua script, so there is no moment where it is in none:
marking it seen and queueing it; popping it and recording it as in flight; putting a dead worker's requests
back. A seed moves to the taking worker's ``seeding:<id>`` list until its requests are queued.

A worker started before the crawl is seeded waits for it (``scrapy seed`` sets ``seeded`` with the seeds,
in one transaction): the CRAWL_REDIS_IDLE_CLOSE countdown starts only once the crawl has been seeded.

Seeds are turned into requests by the spider, so they pass through the shared duplicate filter
(scrapy-redis's own ``make_request_from_data`` sets ``dont_filter`` and would skip it).

A worker that dies (killed, machine lost) stops refreshing its heartbeat. Any other worker that finds the
heartbeat gone puts the dead worker's in-flight requests back on the queue and its seeds back with the
seeds, in one script (so one claimant): requests in flight are *requeued and fetched again*. A request
leaves the in-flight set only when its response has been fully processed (its article stored or dropped),
so a worker killed between download and storage loses nothing either.

One component per module: ``config`` (``RedisConfig``, ``apply_redis_settings``, ``seed_messages``),
``coordinator`` (``RedisCoordinator``, an extension), ``scheduler`` (``InflightScheduler``), ``spidermw``
(``InflightSpiderMiddleware``) and ``hostgate`` (``RedisHostGate``: per-host delay and concurrency for the
whole cluster, see ``crawler.politeness``).
"""
