"""DuckDB over the dataset where it lies (a directory or S3), with nothing fetched at query time.

DuckDB reads S3 through its ``httpfs`` extension, which it would normally download on first use. The pip
package ``duckdb-ext-httpfs`` (pinned with ``duckdb`` itself: an extension only loads into the DuckDB
version it was built for) ships it in a DuckDB extension directory; :func:`connect` points DuckDB's
``extension_directory`` there, turns automatic installing and loading off, and loads httpfs from it.

:func:`open_dataset` then defines, over the parts that are live (every part under ``dataset/`` that no
compaction manifest in ``dataset-manifests/`` supersedes, see ``corpus.build``):

- ``articles``: one row per article version; ``site`` and ``month`` from the path; ``cluster`` resolved
  through the cluster-mapping table (``cluster_as_written`` keeps the value in the file);
- ``latest``: the latest version of each article (highest ``version`` per ``canonical_url``);
- ``cluster_map``: every merged cluster and the cluster it belongs to now.

This module reads no settings; ``scrapy dataset query`` passes the store configuration.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from corpus.dataset import CLUSTERS_PREFIX, DATASET_PREFIX, MANIFESTS_PREFIX, schema

logger = logging.getLogger(__name__)


class DatasetError(RuntimeError):
    """The dataset cannot be read as configured (the message says what to fix)."""


class StoreLocation(Protocol):
    """Where the archive is (``archive.store.StoreConfig`` is one)."""

    @property
    def scheme(self) -> str: ...

    @property
    def root(self) -> str: ...

    @property
    def bucket(self) -> str: ...

    @property
    def prefix(self) -> str: ...

    @property
    def endpoint_url(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...

    @property
    def access_key(self) -> str | None: ...

    @property
    def secret_key(self) -> str | None: ...

    @property
    def session_token(self) -> str | None: ...

    @property
    def use_ssl(self) -> bool | None: ...

    @property
    def addressing_style(self) -> str: ...


class ObjectReader(Protocol):
    def get_bytes(self, key: str) -> bytes | None: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...


def extension_directory() -> Path:
    """The DuckDB extension directory the ``duckdb-ext-httpfs`` package installed."""
    spec = importlib.util.find_spec("duckdb_ext")
    locations = list(spec.submodule_search_locations or []) if spec else []
    version = duckdb.__version__
    arch = {"x86_64": "linux_amd64", "aarch64": "linux_arm64"}.get(platform.machine(), platform.machine())
    for location in locations:
        root = Path(location) / "extensions"
        if (root / f"v{version}" / arch / "httpfs.duckdb_extension").exists():
            return root
    raise DatasetError(
        f"DuckDB's httpfs extension for duckdb {version} ({arch}) is not installed: "
        f"pip install duckdb-ext-httpfs=={version}.* (the project pins the pair in constraints.txt)"
    )


def connect(location: StoreLocation | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the bundled httpfs loaded and, for an S3 store, its endpoint and keys."""
    con = duckdb.connect(
        config={
            "extension_directory": str(extension_directory()),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    con.execute("LOAD httpfs")
    if location is not None and location.scheme == "s3":
        options = [
            "TYPE s3",
            "URL_STYLE 'path'" if location.addressing_style != "virtual" else "URL_STYLE 'vhost'",
        ]
        key, secret, token = location.access_key, location.secret_key, location.session_token
        if not (key and secret):
            key, secret, token = _credential_chain()
        if key and secret:
            options += [f"KEY_ID {_sql(key)}", f"SECRET {_sql(secret)}"]
            if token:
                options.append(f"SESSION_TOKEN {_sql(token)}")
        if location.region:
            options.append(f"REGION {_sql(location.region)}")
        if location.endpoint_url:
            endpoint = urlsplit(location.endpoint_url)
            options.append(f"ENDPOINT {_sql(endpoint.netloc)}")
            options.append(f"USE_SSL {'true' if endpoint.scheme == 'https' else 'false'}")
        con.execute(f"CREATE OR REPLACE SECRET archive ({', '.join(options)})")
    return con


def _credential_chain() -> tuple[str | None, str | None, str | None]:
    # The standard AWS chain (environment, ~/.aws, instance roles), as boto3 resolves it for the store.
    import boto3

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        return None, None, None
    frozen = credentials.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


def _sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def dataset_url(location: StoreLocation, key: str = "") -> str:
    """The URL DuckDB reads ``key`` at (``s3://bucket/prefix/key`` or a path)."""
    if location.scheme == "s3":
        base = f"s3://{location.bucket}/{location.prefix + '/' if location.prefix else ''}"
        return base + key
    return str(Path(location.root) / key)


def superseded_parts(reader: ObjectReader) -> set[str]:
    """Parts that a compaction replaced (named by the manifests in ``dataset-manifests/``)."""
    gone: set[str] = set()
    for key in sorted(reader.list(MANIFESTS_PREFIX)):
        data = reader.get_bytes(key)
        if not data:
            continue
        try:
            manifest = json.loads(data)
        except ValueError:
            logger.warning("dataset manifest %s is not JSON; ignored", key)
            continue
        for merged in manifest.get("parts", []):
            gone.update(merged.get("supersedes", []))
    return gone


def live_parts(reader: ObjectReader) -> list[str]:
    """Keys of the parts readers should read: every part, less those a compaction superseded."""
    gone = superseded_parts(reader)
    return sorted(k for k in reader.list(DATASET_PREFIX) if k.endswith(".parquet") and k not in gone)


def cluster_roots(reader: ObjectReader) -> dict[str, str]:
    """Every merged cluster -> the cluster it belongs to after all merges."""
    parent: dict[str, str] = {}
    for key in sorted(reader.list(CLUSTERS_PREFIX)):
        data = reader.get_bytes(key)
        if not data or not key.endswith(".parquet"):
            continue
        table = pq.read_table(pa.BufferReader(data), columns=["cluster", "merged_into"])
        for cluster, into in zip(
            table.column("cluster").to_pylist(), table.column("merged_into").to_pylist(), strict=True
        ):
            if cluster and into and cluster != into:
                parent.setdefault(cluster, into)
    roots: dict[str, str] = {}
    for cluster in parent:
        root, hops = cluster, 0
        while root in parent and hops < len(parent):
            root, hops = parent[root], hops + 1
        roots[cluster] = root
    return roots


def open_dataset(location: StoreLocation, reader: ObjectReader) -> duckdb.DuckDBPyConnection:
    """A connection with the ``articles``, ``latest`` and ``cluster_map`` views (module docstring)."""
    con = connect(location)
    roots = cluster_roots(reader)
    con.register(
        "cluster_map_arrow",
        pa.table(
            {"cluster": list(roots), "root": list(roots.values())},
            schema=pa.schema([("cluster", pa.string()), ("root", pa.string())]),
        ),
    )
    con.execute("CREATE TABLE cluster_map AS SELECT * FROM cluster_map_arrow")
    con.unregister("cluster_map_arrow")
    parts = live_parts(reader)
    if parts:
        files = ", ".join(_sql(dataset_url(location, key)) for key in parts)
        source = f"read_parquet([{files}], hive_partitioning = true, union_by_name = true)"
    else:
        empty = (
            schema()
            .append(pa.field("site", pa.string()))
            .append(pa.field("month", pa.string()))
            .empty_table()
        )
        con.register("empty_dataset", empty)
        source = "empty_dataset"
    con.execute(
        f"""CREATE VIEW articles AS
            SELECT p.* REPLACE (coalesce(m.root, p.cluster) AS cluster), p.cluster AS cluster_as_written
            FROM {source} AS p LEFT JOIN cluster_map AS m ON m.cluster = p.cluster"""
    )
    con.execute(
        """CREATE VIEW latest AS
           SELECT * FROM articles
           QUALIFY row_number() OVER (PARTITION BY canonical_url ORDER BY version DESC, fetched_at DESC) = 1"""
    )
    return con


def format_result(cursor: Any, limit: int = 50) -> str:
    """A plain text table of a query result (for ``scrapy dataset query``)."""
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchmany(limit)
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."
