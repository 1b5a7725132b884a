"""Topic scoring on an article's own text, and topic-file validation, with hand-written Arabic articles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from relevance import Relevance, Topic, TopicError, default_topic_path
from relevance.forms import surface_forms


@pytest.fixture(scope="module")
def libya() -> Topic:
    return Topic.load(default_topic_path())


# --- a small hand-labelled set ---------------------------------------------------------------------------

SUDAN = [
    "ويمر السودان بمرحلة انتقالية منذ عزل الرئيس عمر البشير في أبريل 2019، يتقاسم خلالها العسكريون "
    "والمدنيون السلطة بموجب الوثيقة الدستورية.",
    "وتعاني البلاد أزمة اقتصادية خانقة، مع تضخم تجاوز مئتين في المئة وشح في الخبز والوقود والأدوية، ما أشعل "
    "احتجاجات متفرقة في الخرطوم ومدن أخرى.",
    "وتشهد ولايات دارفور بين حين وآخر اشتباكات قبلية دامية، ترافقها عمليات حرق للقرى ونزوح للسكان نحو "
    "المعسكرات، في ظل انسحاب بعثة حفظ السلام المشتركة.",
    "وقال وزير المالية إن الحكومة تعمل مع المانحين على برنامج لدعم الأسر الفقيرة، وإن رفع الدعم عن الوقود "
    "سيجري على مراحل لتخفيف أثره على المواطنين.",
]
SUDAN_TITLE = "احتجاجات في الخرطوم على غلاء الخبز والوقود"
# The teasers a Sudanese news page shows beside the story; extraction removes them before scoring.
SUDAN_TEASERS = ["شاهد أيضاً: قوات حفتر تتقدم نحو طرابلس", "اقرأ المزيد: الليبيون ينتظرون الانتخابات"]

TUNISIA = [
    "وتواجه تونس صعوبات اقتصادية متزايدة، مع ارتفاع نسبة البطالة إلى نحو خمسة عشر في المئة وتراجع احتياطي "
    "العملة الصعبة وتنامي حجم الدين العام.",
    "ويطالب صندوق النقد الدولي الحكومة التونسية بخفض كتلة الأجور في القطاع العام وإصلاح منظومة دعم المحروقات "
    "والمواد الأساسية.",
    "ويعول المسؤولون على انتعاش الموسم السياحي وصادرات زيت الزيتون والفوسفات لتقليص عجز الميزان التجاري خلال "
    "العام الجاري.",
    "وأشار الوزير إلى أن المفاوضات مع الصندوق ستستأنف الشهر المقبل في واشنطن، معرباً عن تفاؤله بالتوصل إلى "
    "اتفاق قبل نهاية السنة.",
]
TUNISIA_TITLE = "تونس تفاوض صندوق النقد على قرض جديد"

LIBYA_HARD_POSITIVE = [
    "تجددت الاشتباكات العنيفة جنوبي طرابلس بين قوات حكومة الوفاق الوطني والقوات التي يقودها المشير خليفة "
    "حفتر، وسط قصف متبادل على محور صلاح الدين.",
    "وأعلنت عملية «بركان الغضب» أن قواتها صدت هجوماً على مشارف ترهونة، فيما قالت مصادر محلية إن الطيران "
    "المسير استهدف مواقع قرب قاعدة الوطية.",
    "ويعد مطار معيتيقة المنفذ الجوي الوحيد العامل في العاصمة، وقد أغلق مرات عدة بسبب القصف.",
    "ويتمسك المجلس الرئاسي برئاسة فائز السراج بشرعية اتفاق الصخيرات الموقع برعاية أممية.",
]
LIBYA_HARD_POSITIVE_TITLE = "قوات الوفاق تصد هجوماً على مشارف ترهونة"

LEBANON_TRIPOLI = [
    "شهدت مدينة طرابلس في شمال لبنان ليلة متوترة بعد اشتباكات بين شبان غاضبين وعناصر الجيش اللبناني قرب "
    "ساحة النور.",
    "وقال محافظ الشمال إن الاحتجاجات على تردي الأوضاع المعيشية تحولت إلى أعمال شغب في طرابلس، داعياً الأهالي "
    "إلى التهدئة.",
    "ويعاني لبنان من أسوأ أزمة اقتصادية في تاريخه الحديث، مع انهيار سعر صرف الليرة وارتفاع معدلات الفقر.",
]

YEMEN_OTHER_CONFLICT = [
    "أعلن المجلس الرئاسي في اليمن عن خطة لتوحيد التشكيلات العسكرية تحت قيادة وزارة الدفاع.",
    "وقالت مصادر عسكرية إن قوات الجيش الوطني صدت هجوماً للحوثيين على مواقعها غربي مأرب، فيما أقر مجلس النواب "
    "الموازنة العامة.",
    "ويشهد اليمن منذ أكثر من خمس سنوات حرباً بين القوات الحكومية المدعومة من تحالف تقوده السعودية وجماعة "
    "الحوثي التي تسيطر على العاصمة صنعاء.",
]


def text_of(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs)


# --- matching: clitics, look-alikes, multi-word terms --------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "canonical"),
    [
        ("وبطرابلس", "طرابلس"),
        ("للسراج", "السراج"),
        ("والليبيين", "ليبي"),
        ("لليبيين", "ليبي"),
        ("الليبيات", "ليبي"),
        ("الليبية", "ليبي"),
        ("ليبيون", "ليبي"),
        ("لليبيا", "ليبيا"),
        ("فبليبيا", "ليبيا"),
        ("بالجفرة", "الجفرة"),
        ("للجفرة", "الجفرة"),
        ("وبسرت", "سرت"),
        ("لحفتر", "حفتر"),
        ("Libya", "ليبيا"),
        ("Benghazi", "بنغازي"),
    ],
)
def test_clitic_forms_match_the_canonical_term(libya: Topic, token: str, canonical: str) -> None:
    assert libya.score("", f"قال المتحدث {token} أمس").matched == {canonical: 1}


@pytest.mark.parametrize("token", ["ليبيريا", "سرتي", "كسرت", "فسرت", "جفرة", "الحفتر", "وادي", "Liberia"])
def test_look_alikes_do_not_match(libya: Topic, token: str) -> None:
    assert libya.score("", f"قال المتحدث {token} أمس").matched == {}


def test_article_terms_never_match_without_the_article() -> None:
    assert "جفره" not in surface_forms("الجفره")
    assert "للجفره" in surface_forms("الجفره")
    # short bare terms take only و ب ل: كسرت and فسرت are verbs
    assert set(surface_forms("سرت")) == {"سرت", "بسرت", "لسرت", "وسرت", "وبسرت", "ولسرت"}


def test_multi_word_terms_match_as_sequences_longest_first(libya: Topic) -> None:
    r = libya.score(
        "",
        "اجتمع المجلس الرئاسي مع وفد من مجلس النواب ثم زار مقر حكومة الوفاق الوطني والتقى قادة قوات الوفاق "
        "وتحدث عن الوفاق بين الأطراف، كما التقى ممثلين عن الجيش الوطني الليبي",
    )
    assert r.matched == {
        "حكومة الوفاق": 2,  # "حكومة الوفاق الوطني" and "قوات الوفاق", not also "الوفاق"
        "المجلس الرئاسي": 1,
        "مجلس النواب": 1,
        "الوفاق": 1,  # the bare word, an ambiguous weak term
        "الجيش الوطني الليبي": 1,  # not "الجيش الوطني" nor the demonym
    }


def test_multi_word_term_in_a_custom_topic() -> None:
    topic = Topic.from_mapping(
        {"name": "t", "threshold": 1, "groups": {"people": {"terms": ["خليفة حفتر"]}}}, source="inline"
    )
    assert topic.score("", "التقى الوفد بالمشير وخليفة حفتر").matched == {"خليفة حفتر": 1}
    assert topic.score("", "خليفة المسلمين وحفتر").matched == {}


# --- scoring ----------------------------------------------------------------------------------------------


def test_libya_article_is_relevant(libya: Topic) -> None:
    r = libya.score("ليبيا: اشتباكات جديدة قرب سرت", text_of(*LIBYA_HARD_POSITIVE))
    assert r.relevant
    assert r.score >= r.threshold
    assert r.matched["ليبيا"] == 1


def test_hard_positive_with_only_places_and_actors_is_relevant(libya: Topic) -> None:
    r = libya.score(LIBYA_HARD_POSITIVE_TITLE, text_of(*LIBYA_HARD_POSITIVE))
    assert r.relevant
    assert "ليبيا" not in r.matched and "ليبي" not in r.matched
    assert {"حكومة الوفاق", "حفتر", "ترهونة", "طرابلس"} <= set(r.matched)


def test_teaser_only_mentions_are_not_scored(libya: Topic) -> None:
    # The page's teasers mention Libya, but the caller passes only the extracted main text.
    assert all(libya.score("", teaser).matched for teaser in SUDAN_TEASERS)
    r = libya.score(SUDAN_TITLE, text_of(*SUDAN))
    assert not r.relevant
    assert r.matched == {}
    assert r.score == 0


def test_single_passing_mention_deep_in_the_article_stays_below_threshold(libya: Topic) -> None:
    passing = "وفي سياق متصل، قال الوزير إن بلاده تتابع الأوضاع في ليبيا المجاورة بقلق."
    r = libya.score(TUNISIA_TITLE, text_of(*TUNISIA[:3], passing, TUNISIA[3]))
    assert r.matched == {"ليبيا": 1}
    assert not r.relevant


def test_dense_background_paragraph_deep_in_the_article_stays_below_threshold(libya: Topic) -> None:
    background = (
        "وتعاني ليبيا من فوضى أمنية منذ الإطاحة بنظام معمر القذافي عام 2011، إذ تتنازع الشرعية حكومة في طرابلس "
        "وسلطات موازية في الشرق يدعمها مجلس النواب وقوات المشير خليفة حفتر."
    )
    r = libya.score(TUNISIA_TITLE, text_of(*TUNISIA[:3], background, TUNISIA[3]))
    assert len(r.matched) >= 4
    assert not r.relevant


def test_headline_and_lead_count_more_than_the_body(libya: Topic) -> None:
    mention = "وتتابع الحكومة الوضع في ليبيا عن كثب"
    in_title = libya.score(mention, text_of(*TUNISIA))
    in_lead = libya.score(TUNISIA_TITLE, text_of(mention, *TUNISIA))
    in_body = libya.score(TUNISIA_TITLE, text_of(*TUNISIA, mention))
    assert in_title.score > in_lead.score > in_body.score > 0
    assert in_title.matched == in_lead.matched == in_body.matched == {"ليبيا": 1}


def test_headline_and_lead_about_libya_make_a_short_article_relevant(libya: Topic) -> None:
    lead = "ودعا الأمين العام الأطراف الليبية إلى العودة إلى طاولة الحوار ووقف القتال فوراً."
    r = libya.score("الأمم المتحدة تدعو إلى وقف إطلاق النار في ليبيا", text_of(lead, *TUNISIA[3:]))
    assert r.relevant
    # the same two mentions deep in a longer article are a passing reference
    deep = libya.score(
        TUNISIA_TITLE, text_of(*TUNISIA, "الأمم المتحدة تدعو إلى وقف إطلاق النار في ليبيا", lead)
    )
    assert not deep.relevant


def test_lebanese_tripoli_is_not_libya(libya: Topic) -> None:
    r = libya.score("مواجهات ليلية في طرابلس", text_of(*LEBANON_TRIPOLI))
    assert r.matched == {"طرابلس": 3}
    assert not r.relevant
    assert r.score == 0  # an ambiguous term without unambiguous support counts for nothing


def test_other_conflict_with_generic_institution_names_is_not_relevant(libya: Topic) -> None:
    r = libya.score("المجلس الرئاسي اليمني يوحد القوات", text_of(*YEMEN_OTHER_CONFLICT))
    assert {"المجلس الرئاسي", "الجيش الوطني", "مجلس النواب"} <= set(r.matched)
    assert not r.relevant


def test_relevance_is_frozen_and_serialisable(libya: Topic) -> None:
    r = libya.score("ليبيا", "قال الليبيون إن طرابلس هادئة")
    assert isinstance(r, Relevance)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.score = 0.0  # type: ignore[misc]
    assert r.to_dict() == {
        "relevant": r.relevant,
        "score": r.score,
        "threshold": r.threshold,
        "matched": {"ليبيا": 1, "ليبي": 1, "طرابلس": 1},
    }


def test_empty_article_scores_zero(libya: Topic) -> None:
    assert libya.score("", "") == Relevance(relevant=False, score=0.0, threshold=libya.threshold, matched={})


# --- topic files ------------------------------------------------------------------------------------------

GOOD = """\
name: sudan
threshold: 4
groups:
  places:
    weight: 2
    terms:
      - الخرطوم
      - {term: دارفور, variants: [Darfur], weight: 3}
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "topic.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_default_topic_path_is_packaged() -> None:
    path = default_topic_path()
    assert path.name == "libya.yaml" and path.parent.name == "topics" and path.is_file()


def test_another_topic_file_with_the_same_schema(tmp_path: Path) -> None:
    sudan = Topic.load(write(tmp_path, GOOD))
    r = sudan.score(SUDAN_TITLE, text_of(*SUDAN))
    assert r.relevant
    assert r.matched == {"الخرطوم": 2, "دارفور": 1}


@pytest.mark.parametrize(
    ("body", "entry", "problem"),
    [
        (GOOD + "colour: red\n", "colour", "unknown key"),
        (GOOD.replace("weight: 3", "wieght: 3"), "groups.places.terms[1].wieght", "unknown key"),
        (GOOD.replace("weight: 3", "weight: -1"), "groups.places.terms[1].weight", "must be > 0"),
        (GOOD.replace("weight: 3", "weight: yes"), "groups.places.terms[1].weight", "expected a number"),
        (GOOD.replace("weight: 2", "weight: heavy"), "groups.places.weight", "expected a number"),
        (GOOD.replace("threshold: 4", "threshold: 0"), "threshold", "must be > 0"),
        (GOOD.replace("threshold: 4\n", ""), "threshold", "missing"),
        (GOOD.replace("[Darfur]", "[دارفور]"), "groups.places.terms[1]", "already declared"),
        (GOOD.replace("- الخرطوم", "- '،'"), "groups.places.terms[0].term", "empty after normalisation"),
        (GOOD + "    ambiguous: maybe\n", "groups.places.ambiguous", "expected true or false"),
        ("name: x\nthreshold: 1\ngroups: {a: {terms: []}}\n", "groups.a.terms", "non-empty list"),
        ("name: x\nthreshold: 1\ngroups: [\n", "<document>", "invalid YAML"),
    ],
)
def test_bad_topic_files_name_file_entry_and_problem(
    tmp_path: Path, body: str, entry: str, problem: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(TopicError) as info:
        Topic.load(path)
    err = info.value
    assert err.file == str(path)
    assert err.entry == entry
    assert problem in err.problem
    assert str(path) in str(err) and entry in str(err)


def test_missing_topic_file(tmp_path: Path) -> None:
    with pytest.raises(TopicError, match="cannot read"):
        Topic.load(tmp_path / "absent.yaml")
