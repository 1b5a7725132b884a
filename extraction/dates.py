"""Parse the dates Arabic news pages print: month names of all three families, any digits.

Handled: ISO 8601 strings (date or date-time, with offset), day-month-year with a month name from the
Egyptian/Gulf family (يناير), the Levantine/Iraqi family (كانون الثاني), the Maghrebi family
(جانفي، جويلية، أوت) and the Moroccan one (يوليوز، غشت، شتنبر), combined forms such as
"12 كانون الثاني/يناير 2020", numeric d/m/Y and Y/m/d, Eastern Arabic (٠-٩) and Persian (۰-۹) digits,
leading day names, a trailing time ("10:30 م") and digits still written as character references
("&#1634;&#1641;"). Years outside 1990-2100 are refused, so Hijri dates
(1441) are never mistaken for Gregorian ones.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta, timezone

MIN_YEAR = 1990
MAX_YEAR = 2100

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# Every spelling maps to its month number; spaces inside names match any whitespace.
_MONTHS: dict[str, int] = {}
for _month, _names in {
    1: "يناير كانون الثاني جانفي جانفييه",
    2: "فبراير فبرائر شباط فيفري فبرير",
    3: "مارس آذار اذار أذار",
    4: "أبريل ابريل إبريل نيسان أفريل افريل",
    5: "مايو أيار ايار ماي",
    6: "يونيو يونيه حزيران جوان",
    7: "يوليو يوليه تموز جويلية جويليه يوليوز",
    8: "أغسطس اغسطس آب اب أوت اوت غشت",
    9: "سبتمبر أيلول ايلول شتنبر",
    10: "أكتوبر اكتوبر تشرين الأول تشرين الاول",
    11: "نوفمبر تشرين الثاني نونبر",
    12: "ديسمبر كانون الأول كانون الاول دجنبر",
}.items():
    _words = _names.split()
    _i = 0
    while _i < len(_words):
        # Two-word names start with كانون / تشرين.
        if _words[_i] in ("كانون", "تشرين"):
            _MONTHS[f"{_words[_i]} {_words[_i + 1]}"] = _month
            _i += 2
        else:
            _MONTHS[_words[_i]] = _month
            _i += 1


def _month_key(name: str) -> str:
    return " ".join(name.split())


_MONTH_ALT = "|".join(name.replace(" ", r"\s+") for name in sorted(_MONTHS, key=len, reverse=True))
_SEP = r"\s*[-/.,،]?\s*"
# Not preceded/followed by an Arabic letter, so "ماي" never matches inside "مايكل".
_MONTH = rf"(?<![\u0621-\u064a])(?:{_MONTH_ALT})(?![\u0621-\u064a])"
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}}){_SEP}(?P<month>{_MONTH})(?:\s*[/(]\s*(?:{_MONTH})\s*\)?)?{_SEP}(?P<year>\d{{4}})(?!\d)"
)
_MONTH_DAY_YEAR = re.compile(rf"(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}})\s*[,،]\s*(?P<year>\d{{4}})(?!\d)")
_ISO = re.compile(
    r"(?<!\d)(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:[T\s]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?"
)
_YMD = re.compile(r"(?<!\d)(?P<year>\d{4})[/.](?P<month>\d{1,2})[/.](?P<day>\d{1,2})(?!\d)")
_DMY = re.compile(r"(?<!\d)(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4})(?!\d)")
_TIME_AFTER = re.compile(
    r"^[\s,،\-–|]*(?:الساعة\s*)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<ampm>صباحاً|صباحا|مساءً|مساء|ص|م|[AaPp]\.?[Mm]\.?)?(?![\u0621-\u064a])"
)


def _valid(year: int, month: int, day: int) -> date | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _with_time(day: date, text: str) -> date | datetime:
    match = _TIME_AFTER.match(text[:40])
    if not match:
        return day
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    second = int(match.group("second") or 0)
    ampm = (match.group("ampm") or "").lower()
    if ampm and (ampm.startswith("م") or ampm.startswith("p")) and hour < 12:
        hour += 12
    elif ampm and (ampm.startswith("ص") or ampm.startswith("a")) and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return day
    return datetime(day.year, day.month, day.day, hour, minute, second)


def _parse_tz(value: str) -> timezone:
    if value == "Z":
        return UTC
    sign = -1 if value[0] == "-" else 1
    digits = value[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def _parse_iso(text: str) -> date | datetime | None:
    match = _ISO.search(text)
    if not match:
        return None
    day = _valid(int(match.group("year")), int(match.group("month")), int(match.group("day")))
    if day is None or match.group("hour") is None:
        return day
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    second = int(match.group("second") or 0)
    if hour > 23 or minute > 59 or second > 59:
        return day
    tz = _parse_tz(match.group("tz")) if match.group("tz") else None
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz)


def parse_arabic_date(text: str) -> date | datetime | None:
    """Parse the first date in ``text``; a ``datetime`` when a time follows it, else a ``date``.

    Returns None when no plausible Gregorian date is found.
    """
    if not text:
        return None
    if "&" in text:
        # "&#1634;&#1641;" (٢٩): numeric references that reach us still escaped (attributes, feeds).
        text = html.unescape(text)
    text = text.translate(_DIGITS)
    iso = _parse_iso(text)
    if iso is not None:
        return iso
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR):
        for match in pattern.finditer(text):
            month = _MONTHS.get(_month_key(match.group("month")))
            if month is None:
                continue
            day = _valid(int(match.group("year")), month, int(match.group("day")))
            if day is not None:
                return _with_time(day, text[match.end() :])
    for pattern in (_YMD, _DMY):
        for match in pattern.finditer(text):
            day = _valid(int(match.group("year")), int(match.group("month")), int(match.group("day")))
            if day is not None:
                return _with_time(day, text[match.end() :])
    return None


def to_iso(value: date | datetime) -> str:
    """ISO 8601 text for a parsed date: ``2020-01-12`` or ``2020-01-12T10:30:00[+02:00]``."""
    return value.isoformat()
