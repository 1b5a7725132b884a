"""parse_arabic_date: the three month-name families, Maghrebi and Moroccan variants, Eastern Arabic and
Persian digits, day names, date-only text, times and ISO strings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extraction import parse_arabic_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 يناير 2020", date(2020, 1, 12)),
        ("12 كانون الثاني 2020", date(2020, 1, 12)),
        ("12 جانفي 2020", date(2020, 1, 12)),
        ("3 شباط 2020", date(2020, 2, 3)),
        ("3 فيفري 2020", date(2020, 2, 3)),
        ("4 أبريل 2019", date(2019, 4, 4)),
        ("4 نيسان 2019", date(2019, 4, 4)),
        ("4 أفريل 2019", date(2019, 4, 4)),
        ("15 ماي 2020", date(2020, 5, 15)),
        ("15 أيار 2020", date(2020, 5, 15)),
        ("1 جوان 2020", date(2020, 6, 1)),
        ("5 جويلية 2019", date(2019, 7, 5)),
        ("5 تموز 2019", date(2019, 7, 5)),
        ("5 يوليوز 2019", date(2019, 7, 5)),
        ("3 أوت 2020", date(2020, 8, 3)),
        ("3 آب 2020", date(2020, 8, 3)),
        ("3 غشت 2020", date(2020, 8, 3)),
        ("24 أيلول 2020", date(2020, 9, 24)),
        ("7 تشرين الأول 2019", date(2019, 10, 7)),
        ("7 تشرين الاول 2019", date(2019, 10, 7)),
        ("9 تشرين الثاني 2020", date(2020, 11, 9)),
        ("25 كانون الأول 2020", date(2020, 12, 25)),
        ("25 دجنبر 2020", date(2020, 12, 25)),
    ],
)
def test_month_families(text: str, expected: date) -> None:
    assert parse_arabic_date(text) == expected


def test_combined_levantine_and_egyptian_names() -> None:
    assert parse_arabic_date("منتصف ليل 12 كانون الثاني/يناير 2020") == date(2020, 1, 12)


def test_eastern_arabic_and_persian_digits() -> None:
    assert parse_arabic_date("٢٤ أغسطس ٢٠٢٠") == date(2020, 8, 24)
    assert parse_arabic_date("۲۴ اوت ۲۰۲۰") == date(2020, 8, 24)
    assert parse_arabic_date("٢٠٢٠/١٢/٢٥") == date(2020, 12, 25)


def test_day_names_and_punctuation() -> None:
    assert parse_arabic_date("الأحد، 12 يناير، 2020") == date(2020, 1, 12)
    assert parse_arabic_date("نشر يوم الثلاثاء 1 ديسمبر 2020") == date(2020, 12, 1)


def test_date_only_text_gives_a_date_not_a_datetime() -> None:
    value = parse_arabic_date("24/08/2020")
    assert value == date(2020, 8, 24)
    assert not isinstance(value, datetime)


def test_time_after_the_date_with_arabic_am_pm() -> None:
    assert parse_arabic_date("الاثنين 7 تشرين الأول 2019 - 10:05 م") == datetime(2019, 10, 7, 22, 5)
    assert parse_arabic_date("24/08/2020 09:30 ص") == datetime(2020, 8, 24, 9, 30)


def test_iso_strings() -> None:
    assert parse_arabic_date("2020-08-24") == date(2020, 8, 24)
    assert parse_arabic_date("2020-12-01T02:00:00+03:00") == datetime(
        2020, 12, 1, 2, 0, tzinfo=timezone(timedelta(hours=3))
    )
    assert parse_arabic_date("2026-01-08T11:42:50Z") == datetime(2026, 1, 8, 11, 42, 50, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["", "لا يوجد تاريخ هنا", "12 رمضان 1441", "مايكل 12 2020", "31 فبراير 2020"]
)
def test_no_date(text: str) -> None:
    assert parse_arabic_date(text) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789٠١٢٣٤٥٦٧٨٩/-:. يناركوشتبسمأاإآلثيحزرفجوتغصدم", max_size=80))
def test_any_text_parses_or_gives_none(text: str) -> None:
    value = parse_arabic_date(text)
    assert value is None or 1990 <= value.year <= 2100


def test_numeric_character_references_are_unescaped() -> None:
    # "الجمعة ٢٩ آذار ٢٠١٩" with its Eastern Arabic digits still written as references.
    text = "الجمعة &#1634;&#1641; آذار &#1634;&#1632;&#1633;&#1641;"
    assert parse_arabic_date(text) == date(2019, 3, 29)
    assert parse_arabic_date("&#x0662;&#x0669; آذار &#x0662;&#x0660;&#x0661;&#x0669;") == date(2019, 3, 29)
