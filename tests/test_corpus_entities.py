"""Entity tags (corpus.entities): canonical names, and each mention of an ambiguous name judged by its own
context (Tripoli in Libya, in Lebanon, or not said)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.entities import EntityTagger
from relevance import default_topic_path
from relevance.topic import TopicError


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger.load(default_topic_path())


def test_variants_and_aliases_become_one_canonical_name(tagger: EntityTagger) -> None:
    found = tagger.tag("وصول وفد إلى طرابلس الغرب", "وقال مسؤول في مصراطة إن المشير حفتر وقوات Haftar ...")
    assert found.places == ("طرابلس", "مصراتة")
    assert found.actors == ("حفتر",)
    assert found.ambiguous == ()


def test_tripoli_is_libyan_when_its_own_context_says_so(tagger: EntityTagger) -> None:
    found = tagger.tag(
        "اشتباكات في طرابلس", "اندلعت اشتباكات في العاصمة الليبية طرابلس بين مجموعتين مسلحتين."
    )
    assert "طرابلس" in found.places and not found.ambiguous


def test_tripoli_in_lebanon_is_not_tagged_libyan(tagger: EntityTagger) -> None:
    text = (
        "وقع انفجار في مدينة طرابلس شمال لبنان، وقال مسؤولون لبنانيون إن الحصيلة ثقيلة.\n\n"
        + "كلام عام " * 40
        + "\n\nوفي شأن آخر، التقى المشير خليفة حفتر وفداً في بنغازي."
    )
    found = tagger.tag("انفجار في طرابلس اللبنانية", text)
    assert "طرابلس" not in found.places and "طرابلس" not in found.ambiguous
    # the unambiguous names of the same article are still tagged
    assert found.places == ("بنغازي",) and found.actors == ("حفتر",)


def test_tripoli_without_context_is_ambiguous_even_in_a_libyan_article(tagger: EntityTagger) -> None:
    # Relevance decides per article; the tag is per mention: this Tripoli has no Libyan context near it.
    text = (
        "أعلن المشير خليفة حفتر في بنغازي خطة جديدة.\n\n" + "كلام عام " * 40 + "\n\nوقع حادث سير في طرابلس."
    )
    found = tagger.tag("حادث", text)
    assert found.ambiguous == ("طرابلس",)
    assert "طرابلس" not in found.places


def test_casablanca_is_not_al_bayda(tagger: EntityTagger) -> None:
    found = tagger.tag("مؤتمر", "عقد المؤتمر في الدار البيضاء بحضور وفد ليبي.")
    assert "البيضاء" not in found.places and "البيضاء" not in found.ambiguous


def test_entities_file_errors_name_the_file_and_entry(tmp_path: Path) -> None:
    topic = tmp_path / "t.yaml"
    topic.write_text(default_topic_path().read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "t.entities.yaml").write_text("kinds: {places: city}\n", encoding="utf-8")
    with pytest.raises(TopicError, match=r"t\.entities\.yaml: kinds\.places: expected one of"):
        EntityTagger.load(topic)
    (tmp_path / "t.entities.yaml").write_text("aliases: {نيويورك: طرابلس}\n", encoding="utf-8")
    with pytest.raises(TopicError, match="not a canonical term"):
        EntityTagger.load(topic)
