"""`scrapy extract`: run as a subprocess on a file and on a page served by a local http.server."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.localserver import serve

REPO = Path(__file__).resolve().parent.parent
SCRAPY = str(Path(sys.executable).with_name("scrapy"))

PARAGRAPHS = [
    "أعلنت حكومة الوفاق الوطني الليبية أن قواتها استعادت السيطرة على منطقة أبو قرين جنوب شرق مدينة مصراتة.",
    "وقال المتحدث باسم قوات الحكومة إن القوات دمرت عدداً من الآليات المسلحة وسيطرت على ذخائر ومعدات عسكرية.",
    "ودعت بعثة الأمم المتحدة للدعم في ليبيا جميع الأطراف إلى احترام وقف إطلاق النار الساري منذ يناير.",
]
TITLE = "الوفاق تستعيد أبو قرين جنوب مصراتة"
PAGE = (
    f"<html lang='ar'><head><title>{TITLE} | الواحة</title><meta property='og:site_name' content='الواحة'>"
    "<meta property='article:published_time' content='2020-01-26'></head><body><article>"
    f"<h1>{TITLE}</h1>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</article></body></html>"
)


def run_extract(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRAPY, "extract", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_file_with_url(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(PAGE.encode("utf-8"))
    done = run_extract(str(page), "--url", "https://alwaha.test/a")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["url"] == "https://alwaha.test/a"
    assert record["title"] == TITLE
    assert record["text"] == "\n\n".join(PARAGRAPHS)
    assert record["published"] == "2020-01-26"
    # What the crawl stores: the relevance decision included, the fields only a crawl knows absent.
    assert record["relevance"]["relevant"] is True
    assert record["text_sha256"] == hashlib.sha256(record["text"].encode("utf-8")).hexdigest()
    assert record["text_chars"] == len(record["text"])
    assert record["text_source"] == "page"
    assert record["cleanup"] == "full" and record["cleanup_note"] is None
    for name in ("crawl_id", "site", "fetched_at", "text_key", "json_key", "version", "warc"):
        assert name in record and record[name] is None, name
    assert TITLE in done.stdout  # ensure_ascii=False: Arabic printed as is


def test_file_without_url_gets_file_uri(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(PAGE.encode("utf-8"))
    done = run_extract(str(page))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["url"] == page.resolve().as_uri()


def test_explain_lists_what_each_stage_removed(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    share = "<div class='post-share'><a href='/s'>فيسبوك</a> <a href='/t'>تويتر</a></div>"
    page.write_bytes(
        PAGE.replace("</article>", f"<p>جميع الحقوق محفوظة للواحة</p></article>{share}").encode("utf-8")
    )
    done = run_extract(str(page), "--url", "https://alwaha.test/a", "--explain")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["record"]["text"] == "\n\n".join(PARAGRAPHS)  # the stored record: text, not paragraphs
    removed = output["removed"]
    assert {"stage": "dom", "rule": "hint:share", "element": "div.post-share", "chars": 12} in removed
    assert any(r["stage"] == "text" and r["rule"] == "notice" and "محفوظة" in r["element"] for r in removed)


def test_missing_file_exits_1_with_message(tmp_path: Path) -> None:
    done = run_extract(str(tmp_path / "missing.html"))
    assert done.returncode == 1
    assert "no such file" in done.stderr


def test_no_article_prints_record_and_exits_0(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    done = run_extract(str(empty), "--url", "https://alwaha.test/e")
    assert done.returncode == 0
    assert json.loads(done.stdout) == {
        "url": "https://alwaha.test/e",
        "status": "no_article",
        "reason": "empty-body",
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/news/1":
            self.send_error(404)
            return
        # windows-1256 declared only in the header: the charset path of the command is the crawl's.
        body = PAGE.encode("cp1256")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=windows-1256")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    with serve(_Handler) as url:
        yield url


def test_url_fetched_over_http(server: str) -> None:
    done = run_extract(f"{server}/news/1")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["encoding"] == "windows-1256"
    assert record["text"] == "\n\n".join(PARAGRAPHS)
    assert record["url"] == f"{server}/news/1"


def test_url_http_error_exits_1(server: str) -> None:
    done = run_extract(f"{server}/missing")
    assert done.returncode == 1
    assert "HTTP 404" in done.stderr
