"""The sources file: validation messages name the file, the entry and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.sources import SourcesError, load_sources

GOOD = """
sites:
  - name: wahaa
    home: http://127.0.0.1:8001/
    allowed_domains: ["127.0.0.1:8001"]
    sitemaps: [http://127.0.0.1:8001/sitemap_index.xml]
    sections: [http://127.0.0.1:8001/category/libya/]
    article_pattern: '^/\\d{4}/'
    render: never
  - name: other
    home: https://news.example.org/
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads(tmp_path: Path) -> None:
    sources = load_sources(write(tmp_path, GOOD))
    assert [s.name for s in sources] == ["wahaa", "other"]
    wahaa, other = sources
    assert wahaa.render == "never"
    assert wahaa.in_scope("http://127.0.0.1:8001/2020/01/01/x/")
    assert not wahaa.in_scope("http://127.0.0.1:8002/2020/01/01/x/")  # another port is another site
    assert wahaa.is_article("http://127.0.0.1:8001/2020/01/01/x/") is True
    assert wahaa.is_article("http://127.0.0.1:8001/category/libya/") is False
    assert other.allowed_domains == ("news.example.org",)
    assert other.in_scope("https://www.news.example.org/a") and not other.in_scope("https://example.org/")
    assert other.is_article("https://news.example.org/a") is None


def test_packaged_default_sources_load() -> None:
    from crawler.config import default_sources_path

    sources = load_sources(default_sources_path())
    assert len(sources) >= 10
    assert all(s.home.startswith("https://") for s in sources)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sites: [\n  - name: x\n", "invalid YAML at line"),
        ("- name: x\n", "expected a mapping with a 'sites:' list"),
        ("sites: []\n", "'sites' must be a non-empty list"),
        (
            "sites:\n  - name: a\n    home: http://a.org/\n    colour: red\n",
            "entry 1 (a): unknown key(s) ['colour']",
        ),
        ("sites:\n  - name: a\n", "entry 1 (a): 'home' (the site's home URL) is missing"),
        (
            "sites:\n  - name: a\n    home: ftp://a.org/\n",
            "entry 1 (a): 'home' value 'ftp://a.org/' is not an absolute",
        ),
        ("sites:\n  - name: Bad Name\n    home: http://a.org/\n", "entry 1 (Bad Name): 'name' is missing"),
        ("sites:\n  - name: a\n    home: http://a.org/\n    render: sometimes\n", "'render' must be one of"),
        (
            "sites:\n  - name: a\n    home: http://a.org/\n    article_pattern: '('\n",
            "not a valid regular expression",
        ),
        (
            "sites:\n  - name: a\n    home: http://a.org/\n  - name: a\n    home: http://b.org/\n",
            "entry 2 (a): duplicate name",
        ),
        (
            "sites:\n  - name: a\n    home: http://a.org/\n    sections: [http://b.org/x]\n",
            "outside allowed_domains",
        ),
    ],
)
def test_bad_files_say_where_and_what(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SourcesError) as info:
        load_sources(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="not found"):
        load_sources(tmp_path / "nope.yaml")
