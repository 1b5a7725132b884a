"""The corpus settings are checked before the crawl starts, each bad value named with what to use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from crawler.config import ConfigError
from crawler.validation import validate_settings
from relevance import default_topic_path


def _settings(**values: Any) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in values.items():
        settings.set(name, value, priority="cmdline")
    return settings


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"DATASET_PART_ROWS": "0"}, "DATASET_PART_ROWS must be at least 1"),
        ({"DATASET_PART_SECONDS": "soon"}, "DATASET_PART_SECONDS must be a number"),
        ({"NEARDUP_CONTAINMENT": "70"}, "NEARDUP_CONTAINMENT must be between 0 and 1, got 70.0"),
        ({"NEARDUP_JACCARD": "0"}, "NEARDUP_JACCARD must be a positive number"),
        ({"CORPUS_ENABLED": "maybe"}, "CORPUS_ENABLED must be True or False"),
    ],
)
def test_bad_corpus_setting_is_named(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_settings(_settings(**values))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_bad_entities_file_stops_the_crawl_before_it_starts(tmp_path: Path) -> None:
    topic = tmp_path / "mine.yaml"
    topic.write_text(default_topic_path().read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "mine.entities.yaml").write_text("kinds: {nowhere: place}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"RELEVANCE_TOPIC entities: .*mine\.entities\.yaml: kinds\.nowhere"
    ):
        validate_settings(_settings(RELEVANCE_TOPIC=str(topic)))
    # a topic without an entities file is fine: its records get no entity tags
    (tmp_path / "mine.entities.yaml").unlink()
    validate_settings(_settings(RELEVANCE_TOPIC=str(topic)))
