"""Arabic date formatting as the newsroom's sites print it (Levantine, Maghrebi, Eastern Arabic digits)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

logger = logging.getLogger(__name__)

LIBYA_TZ = timezone(timedelta(hours=2))

WEEKDAYS = ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد")
LEVANTINE_MONTHS = (
    "كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران",
    "تموز", "آب", "أيلول", "تشرين الأول", "تشرين الثاني", "كانون الأول",
)  # fmt: skip
MAGHREBI_MONTHS = (
    "جانفي", "فيفري", "مارس", "أفريل", "ماي", "جوان",
    "جويلية", "أوت", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
)  # fmt: skip
STANDARD_MONTHS = (
    "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
    "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
)  # fmt: skip
_EASTERN = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def eastern_digits(text: str) -> str:
    return text.translate(_EASTERN)


def levantine_date(when: datetime) -> str:
    """``الأحد ١٢ كانون الثاني ٢٠٢٠`` (weekday, Eastern Arabic digits, Levantine month)."""
    text = f"{WEEKDAYS[when.weekday()]} {when.day} {LEVANTINE_MONTHS[when.month - 1]} {when.year}"
    return eastern_digits(text)


def maghrebi_datetime(when: datetime) -> str:
    """``الأحد 12 جانفي 2020 - 14:30`` as Tunisian and Algerian sites print it."""
    return (
        f"{WEEKDAYS[when.weekday()]} {when.day} {MAGHREBI_MONTHS[when.month - 1]} {when.year}"
        f" - {when.hour:02d}:{when.minute:02d}"
    )


def standard_date(when: datetime) -> str:
    """``12 يناير 2020``."""
    return f"{when.day} {STANDARD_MONTHS[when.month - 1]} {when.year}"


def rfc822(when: datetime) -> str:
    return format_datetime(when)


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")
