"""DuckDB reads the dataset where it lies: a crawl of the newsroom's syndication sites into a real S3 server
(SeaweedFS), then DuckDB over ``s3://.../dataset/**/*.parquet`` and over a directory copy, checked against
the stored records; the README's five example queries, checked against what the records say."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archive.store import StoreConfig, open_store
from corpus.query import connect, open_dataset
from devtools.seaweed import SeaweedS3
from newsroom import Newsroom
from tests.crawling import REPO, run_crawl, run_scrapy, scrapy_command

pytestmark = pytest.mark.slow

SITES = "legacy,feeds,drupal"


@dataclass
class Corpus:
    uri: str
    location: StoreConfig
    store: Any
    records: list[dict[str, Any]]
    texts: dict[str, str]
    edited_url: str
    local: Path
    env: dict[str, str]
    s3_settings: dict[str, str]


def _records(store: Any) -> list[dict[str, Any]]:
    records = []
    for key in sorted(store.list("manifests/")):
        records += [json.loads(line) for line in store.get_bytes(key).decode().splitlines() if line.strip()]
    return records


@pytest.fixture(scope="module")
def corpus(seaweed: SeaweedS3, tmp_path_factory: pytest.TempPathFactory) -> Any:
    workdir = tmp_path_factory.mktemp("corpus-duckdb")
    seaweed.start()
    bucket = seaweed.create_bucket("corpus-duckdb")
    uri = seaweed.uri(bucket, "libya")
    env = {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    s3 = {
        "AWS_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_REGION_NAME": seaweed.region,
        "S3_ADDRESSING_STYLE": "path",
    }
    with Newsroom() as newsroom:  # its own: this test edits an article
        sources = newsroom.write_sources(workdir / "sources.yaml")
        # small parts, so the crawl writes several as it goes
        settings = {**s3, "DATASET_PART_ROWS": "20"}
        first = run_crawl(
            sources,
            workdir / "run1",
            crawl_id="corpus-1",
            archive_uri=uri,
            settings=settings,
            spider_args={"sites": SITES},
            env=env,
        )
        assert first.returncode == 0, first.log[-3000:]
        edited = next(s for s in newsroom.specs() if s.site == "feeds" and s.relevant and not s.story)
        gold = newsroom.edit(
            edited.id, [*edited.paragraphs, "وأضاف المصدر أن التحقيقات في القضية ما زالت جارية في ليبيا."]
        )
        second = run_crawl(
            sources,
            workdir / "run2",
            crawl_id="corpus-2",
            archive_uri=uri,
            settings=settings,
            spider_args={"sites": SITES},
            env=env,
        )
        assert second.returncode == 0, second.log[-3000:]
    options = seaweed.store_options()
    store = open_store(uri, **options)
    location = StoreConfig.from_uri(uri, options)
    records = _records(store)
    texts = {r["json_key"]: (store.get_bytes(r["text_key"]) or b"").decode() for r in records}
    local = workdir / "copy"
    for key in store.list(""):
        target = local / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key) or b"")
    return Corpus(uri, location, store, records, texts, gold.canonical_url, local, env, s3)


def _check_against_records(con: Any, source: str, corpus: Corpus) -> None:
    rows = con.execute(
        f"SELECT record_key, site, month, url, title, text, warc_file, warc_offset, text_sha256, version, cluster, places "
        f"FROM {source}"
    ).fetchall()
    assert len(rows) == len(corpus.records)
    by_key = {r["json_key"]: r for r in corpus.records}
    assert len({row[0] for row in rows}) == len(rows)  # each stored version once
    for key, site, month, url, title, text, warc_file, offset, sha, version, cluster, places in rows:
        record = by_key[key]
        assert (site, url, title) == (record["site"], record["url"], record["title"])
        assert month == (record["published"] or "unknown")[:7]
        assert text == corpus.texts[key]
        assert (warc_file, offset) == (record["warc"]["filename"], record["warc"]["offset"])
        assert (sha, version) == (record["text_sha256"], record["version"])
        assert cluster == record["cluster"]
        assert list(places) == record["entities"]["places"]
        assert "corpus" not in record  # the worker's features are not stored, only what came of them


def test_duckdb_reads_the_dataset_in_s3(corpus: Corpus) -> None:
    con = connect(corpus.location)  # the bundled httpfs, the store's endpoint and keys
    glob = f"read_parquet('{corpus.uri}/dataset/**/*.parquet', hive_partitioning = true)"
    _check_against_records(con, glob, corpus)
    sites = dict(con.execute(f"SELECT site, count(*) FROM {glob} GROUP BY site").fetchall())
    assert sites == dict(Counter(r["site"] for r in corpus.records))


def test_duckdb_reads_the_dataset_in_a_directory(corpus: Corpus) -> None:
    con = connect()
    _check_against_records(
        con, f"read_parquet('{corpus.local}/dataset/**/*.parquet', hive_partitioning = true)", corpus
    )


def test_the_crawl_wrote_parts_as_it_went_and_build_adds_nothing(corpus: Corpus) -> None:
    parts = [k for k in corpus.store.list("dataset/") if "/corpus-1-" in k]
    assert len(parts) > 1
    settings = {
        **corpus.s3_settings,
        "ARCHIVE_URI": corpus.uri,
        "ARCHIVE_SPOOL_DIR": str(corpus.local.parent / "build-spool"),
    }
    proc = run_scrapy(scrapy_command("dataset", "build", settings=settings), env=corpus.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"0 rows added, {len(corpus.records)} already in the dataset" in proc.stdout
    # the query command: DuckDB configured for the store (bundled httpfs, endpoint, keys from the AWS chain)
    sql = "SELECT count(*) AS n, count(DISTINCT canonical_url) AS articles FROM articles"
    proc = run_scrapy(scrapy_command("dataset", "query", sql, settings=settings), env=corpus.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    articles = len({r["canonical_url"] for r in corpus.records})
    assert proc.stdout.split() == ["n", "articles", str(len(corpus.records)), str(articles)]


def readme_queries() -> dict[int, str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- corpus-queries -->", 1)[1].split("<!-- /corpus-queries -->", 1)[0]
    sql = block.split("```sql", 1)[1].split("```", 1)[0]
    queries = {}
    for statement in sql.split(";"):
        match = re.search(r"--\s*(\d)\.", statement)
        if match:
            queries[int(match.group(1))] = statement.strip()
    return queries


def _latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["canonical_url"] not in best or r["version"] > best[r["canonical_url"]]["version"]:
            best[r["canonical_url"]] = r
    return list(best.values())


def _resolved(corpus: Corpus) -> dict[str, str]:
    con = open_dataset(corpus.location, corpus.store)
    return dict(con.execute("SELECT record_key, cluster FROM articles").fetchall())


def testreadme_queries(corpus: Corpus) -> None:
    queries = readme_queries()
    assert sorted(queries) == [1, 2, 3, 4, 5]
    con = open_dataset(corpus.location, corpus.store)
    cluster = _resolved(corpus)
    latest = _latest(corpus.records)

    # 1. Benghazi in June 2020, one row per story
    rows = con.execute(queries[1]).fetchall()
    expected = {
        cluster[r["json_key"]]
        for r in latest
        if "بنغازي" in r["entities"]["places"] and (r["published"] or "").startswith("2020-06")
    }
    assert expected and len(rows) == len(expected)
    copies = [r for r in latest if cluster[r["json_key"]] in expected]
    assert len(copies) > len(rows)  # the syndicated copies were there, and left out
    assert {row[3] for row in rows} <= {r["url"] for r in copies}

    # 2. Tarhuna month by month
    per_month: dict[str, set[str]] = defaultdict(set)
    counts: Counter[str] = Counter()
    for r in latest:
        if "ترهونة" in r["entities"]["places"]:
            month = (r["published"] or "unknown")[:7]
            counts[month] += 1
            per_month[month].add(cluster[r["json_key"]])
    assert counts
    assert con.execute(queries[2]).fetchall() == [(m, counts[m], len(per_month[m])) for m in sorted(counts)]

    # 3. by site
    by_site = con.execute(queries[3]).fetchall()
    assert [(s, n) for s, n, *_ in by_site] == sorted(Counter(r["site"] for r in latest).items())

    # 4. syndicated clusters: the newsroom's eleven agency stories, each on all three sites
    syndicated = con.execute(queries[4]).fetchall()
    assert len(syndicated) >= 11
    three = [row for row in syndicated if row[2] == ["drupal", "feeds", "legacy"]]
    assert len(three) == 11 and all(row[1] == 3 for row in three)

    # 5. versions of the edited article
    versions = con.execute(queries[5]).fetchall()
    assert [(url, v, crawl) for url, v, crawl, *_ in versions] == [
        (corpus.edited_url, 1, "corpus-1"),
        (corpus.edited_url, 2, "corpus-2"),
    ]
    assert versions[0][4] != versions[1][4]
