"""The text stage of the clean-up: boilerplate paragraphs go from trafilatura's output.

Each family below names the kind of site it comes from. Words of the article are never rewritten: rules
drop whole paragraphs, or cut a leaked tag/attribute out of one. All patterns are anchored or bounded so that
cleaning stays linear in the text length. Furniture inside an article (a "اقرأ أيضا" / "شاهد أيضا" box, a
video player's controls, an ad label, a newsletter prompt) drops its own lines and never cuts the text after
it; only a comment or author section cuts the rest, and only in the last half of the text.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Iterable

logger = logging.getLogger(__name__)

_WS = re.compile(r"\s+")


# Soft hyphens, zero-width spaces and no-break spaces: invisible, they only split words for a search (ZWNJ is Persian spelling).
_INVISIBLE = str.maketrans({"\xad": None, "\u200b": None, "\ufeff": None, "\xa0": " "})


def norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


# Breadcrumb trails of Arabic portals and WordPress themes: "الرئيسية » قسم » عنوان" ("/", ">", "›", "|").
_SEP_CHARS = "»«>›‹/|\\-–—"
_BREADCRUMB = re.compile(
    rf"^\s*(?:الرئيسية|الصفحة الرئيسية|الرئيسيه|home)\s*[{re.escape(_SEP_CHARS)}]\s*\S", re.IGNORECASE
)
_NOTICE = re.compile(
    # JavaScript-required notices of JS-heavy templates and bot walls.
    r"enable javascript|javascript (?:is )?(?:disabled|required)|turn on javascript|"
    r"تفعيل (?:ال)?جافا ?سكريبت|تمكين (?:ال)?جافا ?سكريبت|تفعيل javascript|"
    # Cookie banners (EU and consent-platform sites).
    r"we use cookies|this (?:web)?site uses cookies|by continuing to (?:use|browse)|accept (?:all )?cookies|"
    r"ملفات تعريف الارتباط|الكوكيز|سياسة ملفات|"
    # WordPress comment-form notes.
    r"لن يتم نشر عنوان بريدك|الحقول الإلزامية|الحقول المطلوبة|your email address will not be published|"
    r"required fields are marked|يجب أن تكون مسجل الدخول|"
    # Comment-policy / moderation notices of news portals with reader comments.
    r"(?:مراجعة|نراجع|تخضع) التعليقات (?:قبل|للمراجعة)|(?:سياسة|قواعد|شروط|إرشادات) (?:التعليقات|التعليق|النشر)|"
    r"(?:التعليقات|الآراء) (?:المنشورة|الواردة)[^.]{0,40}(?:لا تعبر|لا تمثل|تعبر عن)|"
    r"comments? (?:are|is) (?:moderated|reviewed)|comment(?:ing)? (?:policy|guidelines)|"
    # Copyright footers.
    r"جميع الحقوق محفوظة|all rights reserved|حقوق النشر محفوظة",
    re.IGNORECASE,
)
# Page tools of old Arabic portals: print view, send to a friend, a read/view counter, font size.
_PAGE_TOOL = re.compile(
    r"(?:نسخة للطباعة|نسخة مطبوعة|طباعة الخبر|طباعة المقال|اطبع الخبر|طباعة|اطبع|"
    r"أرسل|ارسل|إرسال|ارسال)(?:\s+(?:الخبر|المقال|الموضوع|الصفحة))?(?:\s+(?:لصديق|إلى صديق|الى صديق))?|"
    r"(?:عدد\s+)?(?:القراءات|المشاهدات|الزيارات|الزوار)\s*[:：]?\s*[\d٠-٩,٬.]*|"
    r"(?:قرأ|شاهد)\s*[:：]?\s*[\d٠-٩,٬.]+\s*(?:مرة|مرات)?|"
    r"تكبير الخط|تصغير الخط|حجم الخط|تغيير حجم الخط|أضف للمفضلة|اضف للمفضلة|"
    r"print(?:er[- ]friendly)?(?: version)?|send to a friend|e-?mail this|views?\s*[:：]?\s*[\d,]*|"
    r"[\s|•·/\-–]+",
    re.IGNORECASE,
)
# Teaser boxes (WordPress related-posts plugins, portal rails): they drop their own lines, wherever they are.
_TEASER_HEADINGS = (
    r"شاهد أيضاً|شاهد أيضا|شاهد ايضا|شاهد ايضاً|"
    r"مواضيع ذات صلة|أخبار ذات صلة|اخبار ذات صلة|مقالات ذات صلة|موضوعات ذات صلة|ذات صلة|"
    r"أخبار متعلقة|مواضيع متعلقة|قد يهمك أيضا|قد يهمك أيضاً|قد يعجبك أيضا|قد يعجبك أيضاً|"
    r"الأكثر قراءة|الأكثر مشاهدة|الأكثر تداولا|آخر الأخبار|أحدث الأخبار|"
    r"related posts|related articles|related stories|more stories|you may also like|recommended for you|"
    r"weitere themen|weitere artikel|ähnliche beiträge|empfohlene beiträge|das könnte sie auch interessieren|"
    r"articles similaires|sur le même sujet|noticias relacionadas|artículos relacionados|articoli correlati"
)
# Comment and author sections (WordPress, Drupal): the rest of the text is theirs.
_TERMINAL_HEADINGS = (
    r"اترك تعليقاً|اترك تعليقا|اترك رداً|اترك ردا|أضف تعليق|أضف تعليقاً|إضافة تعليق جديد|اضف تعليق|"
    r"التعليقات|تعليقات|عن الكاتب|عن الكاتبة|نبذة عن الكاتب|عن المؤلف|حول الكاتب|"
    r"leave a reply|leave a comment|about the author"
)
_INLINE_HEADINGS = (
    r"اقرأ أيضاً|اقرأ أيضا|إقرأ أيضاً|إقرأ أيضا|اقرأ ايضا|اقرأ ايضاً|طالع أيضاً|طالع أيضا|اقرأ المزيد|"
    r"read more|read also"
)
_HEADING_TRAIL = r"\s*[:：.…،\-–]*\s*"
_TERMINAL = re.compile(rf"^(?:{_TERMINAL_HEADINGS}){_HEADING_TRAIL}$", re.IGNORECASE)
_TEASER = re.compile(rf"^(?:{_TEASER_HEADINGS}){_HEADING_TRAIL}$", re.IGNORECASE)
_INLINE = re.compile(rf"^(?:{_INLINE_HEADINGS}){_HEADING_TRAIL}$", re.IGNORECASE)
_INLINE_PREFIX = re.compile(rf"^(?:{_INLINE_HEADINGS}|شاهد أيضا|شاهد أيضاً)\s*[:：]", re.IGNORECASE)
_MORE_FROM = re.compile(r"^(?:المزيد من|more from)\s+\S+(?:\s+\S+){0,3}$", re.IGNORECASE)
# "Weitere Tourentipps in Schweden", "Entdecke weitere Homestorys": German teaser-rail headings (magazines).
_MORE_HEADING = re.compile(r"^(?:weitere|entdecke weitere|mehr)\s+[^.!?:]{3,50}$", re.IGNORECASE)
# "عن يوسف رجب": an author box title (only honoured near the end of the text).
_ABOUT_NAME = re.compile(r"^عن\s+[\u0621-\u064a]+(?:\s+[\u0621-\u064a]+){0,3}$")
# Share bars of every CMS, as text.
_SHARE_WORD = re.compile(
    r"شارك(?:ها)?|مشاركة|شارك على|شارك عبر|انشر|فيسبوك|فيس بوك|تويتر|واتساب|واتس اب|تيليجرام|تلغرام|"
    r"تليجرام|لينكدإن|لينكد إن|إنستغرام|انستغرام|يوتيوب|طباعة|البريد الإلكتروني|نسخ الرابط|"
    r"facebook|twitter|whatsapp|telegram|linkedin|instagram|pinterest|reddit|email|print|share|"
    r"messenger|copy link|[x𝕏]|على|عبر|[\s,،|:•·/\-–]+",
    re.IGNORECASE,
)
# Embedded video players' controls (JW Player, Video.js, Brightcove on portals) and ad-slot labels: a line
# made only of these words is furniture inside the article.
_PLAYER_WORD = re.compile(
    r"play|pause|mute|unmute|replay|settings|quality|speed|normal|fullscreen|full screen|exit fullscreen|"
    r"volume|subtitles|captions|auto|live|loaded|progress|current time|duration|remaining time|"
    r"video player is loading|close|skip ad|skip|next up|"
    r"تشغيل|إيقاف|ايقاف|إيقاف مؤقت|كتم الصوت|كتم|إلغاء كتم الصوت|الإعدادات|الاعدادات|الجودة|السرعة|"
    r"ملء الشاشة|مباشر|مستوى الصوت|إغلاق|تخطي الإعلان|"
    r"advertisement|advertising|sponsored|anzeige|werbung|publicité|publicidad|"
    r"إعلان|اعلان|إعلانات|اعلانات|محتوى مدعوم|"
    r"\d{1,2}:\d{2}(?::\d{2})?|[\s/|•·:,\-–x×]+",
    re.IGNORECASE,
)
# Newsletter prompts of news sites and blogs.
_NEWSLETTER = re.compile(
    r"^(?:اشترك|اشتركوا|سجل|سجّل)\s+(?:في|فى|الآن في)?\s*(?:النشرة|نشرتنا|القائمة البريدية)|"
    r"^(?:sign up|subscribe)\s+(?:for|to)\s+(?:our|the)\s+(?:\w+\s+){0,2}newsletter",
    re.IGNORECASE,
)
# Page furniture of news sites and blogs in the languages the real-page set holds (English, German, French,
# Spanish, Italian, Polish, Portuguese), each matched at the start of a short line only.
_FURNITURE = re.compile(
    # "Read also" teaser lines of European news portals.
    r"^(?:à lire aussi|a lire aussi|lire aussi|lisez aussi|czytaj (?:też|także|również|więcej)|"
    r"zobacz (?:też|także|również)|dowiedz się więcej|lesen sie (?:auch|hier|mehr)|mehr zum thema|"
    r"das könnte sie auch interessieren|see also|also read|read next|leer también|lea también|"
    r"lee también|vea también|leia também|leggi anche|ver también|te puede interesar|te recomendamos|"
    r"lesen sie auch)\b|^(?:puedes ver|mire|lee|lea|ver)\s*:|"
    # Source, contact and disclaimer labels closing press releases and service pages.
    r"^(?:kontakt|pressekontakt|contact|quellen|quellenangaben|release date)\s*:?$|^(?:quelle|source)\s*:\s*\S.{0,60}$|"
    r"^\(?alle angaben ohne gewähr\)?$|"
    # Sign-up prompts of magazines and associations.
    r"sign up here|in deinen posteingang|in ihren posteingang|exklusive angebote|jetzt registrieren|"
    r"hier (?:klicken und )?(?:für [^.]{0,40})?registrieren|"
    # Advertorial labels of German-language magazines ("ANZEIGE -", "*Werbung.", "WERBUNG für …", "Anzeige"):
    # starred, in capitals, before a dash or "für", or alone; "Werbung nervt." is a sentence.
    r"^(?:\*(?:anzeige|werbung)\b|(?-i:ANZEIGE|WERBUNG)\b|(?:anzeige|werbung)\s*(?:[-–—:|]|für\b|$))|"
    # Paywall prompts of subscription news sites.
    r"please subscribe|subscribe now to|for the full story|already a subscriber|subscribers also receive|"
    r"log in for immediate access|"
    # Follow-us and app prompts of news sites.
    r"^follow (?:us|the \w+|\w+) on (?:twitter|facebook|instagram)|apps? for ios and android|"
    r"canal de telegram|^síguenos en|"
    # Category/tag labels and post navigation of blogs and CMS templates.
    r"^(?:category|kategorie|categoría|catégorie|rubrik|schlagwörter|schlagworte|stichworte)\s*:|^(?:temas|tags)$|"
    r"^(?:vorheriger|nächster) (?:artikel|beitrag)\b|^(?:previous|next) (?:post|article)\b|"
    r"vorschau auf den nächsten artikel|^weitere (?:informationen|infos)\s*(?::|unter\b|$)|"
    # Support prompts of independent magazines.
    r"^unterstütze\b|^support us\b|"
    # Photo credits and copyright lines under pictures and in footers.
    r"^(?:©|\(c\)\s|copyright\b|fotos?\s*:|photos?\s*:|crédits? photos?\s*:|bild(?:er)?\s*:|titelbild\s*:|"
    r"bildquelle\s*:|image\s*:|picture\s*:|credit\s*:|materiał chroniony prawem)|"
    # Page-date stamps of government and company sites.
    r"^(?:letzte änderung|letzte aktualisierung|zuletzt aktualisiert|last modified|last updated|"
    r"dernière mise à jour)\b|"
    # Log-in and comment prompts of blogs and forums.
    r"(?:nicht eingeloggt|eingeloggt sein,? um kommentare|must be logged in|logged in to (?:post|comment)|^keine kommentare|"
    r"^no comments yet|be the first to comment)|"
    # Reading-time badges.
    r"^\d+\s*min(?:ute)?s?\s+read$|^lesezeit\b|^temps de lecture\b|przeczytasz w|"
    # Support/donation and subscription prompts of magazines and blogs.
    r"would you consider supporting|support our (?:work|journalism)|zapraszamy (?:też )?do subskrypcji|"
    r"by signing up to our newsletter|daily edition by email|"
    # Affiliate disclosures of review sites.
    r"affiliate[- ]links?\b|references to products from one or more of our advertisers",
    re.IGNORECASE,
)
_LEAKED_TAG = re.compile(
    r"</?(?:p|div|span|br|hr|strong|em|b|i|u|a|img|figure|figcaption|h[1-6]|ul|ol|li|blockquote|section|"
    r"article|iframe|script|style|font|center|small|sup|sub|table|tr|td|th|tbody)\b[^<>]{0,500}?/?>",
    re.IGNORECASE,
)
_ESCAPED_MARKUP = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,6}|#x[0-9a-f]{1,6}|nbsp|apos);", re.IGNORECASE)
_ATTR_NAMES = (
    r"class|id|style|src|srcset|href|alt|title|width|height|data-[\w-]{1,40}|rel|target|loading|sizes"
)
# `" class="main-news-image img` and `class="x" id="y">`: a run of attribute assignments (CMS feeds and
# templates that escape their markup twice).
_ATTR_LEAK = re.compile(
    rf"(?:^|(?<=\s)|(?<=\"))\"?\s*(?:(?:{_ATTR_NAMES})\s*=\s*\"[^\"\n]{{0,300}}(?:\"|$)\s*)+/?>?",
    re.IGNORECASE,
)
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_WORDISH = re.compile(r"[\w\u0600-\u06ff]")
_LATIN_SHORT = re.compile(r"^[A-Za-z]{1,12}$")
_TERMINAL_MAX_TAIL = 0.5
_TEASER_MAX_CHARS = 160


def is_block_heading(text: str) -> bool:
    """A heading that opens a boilerplate block: teasers, comments, an author box, "more from"."""
    return bool(
        _TERMINAL.match(text)
        or _TEASER.match(text)
        or _INLINE.match(text)
        or _MORE_FROM.match(text)
        or _MORE_HEADING.match(text)
    )


def strip_markup(text: str) -> str:
    """Cut leaked markup out of one paragraph: escaped HTML, leftover tags, attribute fragments."""
    if "&" in text and _ESCAPED_MARKUP.search(text):
        text = html.unescape(text)
    if "<" in text:
        text = _LEAKED_TAG.sub(" ", text)
    if "=" in text:
        text = _ATTR_LEAK.sub(" ", text)
    return text


def _only(pattern: re.Pattern[str], text: str, limit: int = 120) -> bool:
    return len(text) <= limit and pattern.sub("", text).strip() == "" and _WORDISH.search(text) is not None


def _is_page_tools_line(text: str) -> bool:
    # Only the tools themselves: "أرسل" alone is a verb in a sentence, so a line needs two tools or a count.
    if len(text) > 120 or _PAGE_TOOL.sub("", text).strip():
        return False
    tools = [m for m in _PAGE_TOOL.findall(text) if m.strip(" |•·/-–")]
    return len(tools) >= 2 or any(c.isdigit() for c in text)


def noise_rule(text: str, arabic_page: bool) -> str | None:
    """The family a paragraph belongs to when it is boilerplate on its own, else None."""
    if not _WORDISH.search(text):
        return "punctuation"  # ".", "*", "—" and other punctuation-only lines
    if len(text) < 400 and _NOTICE.search(text):
        return "notice"
    if len(text) < 400 and _BREADCRUMB.match(text):
        return "breadcrumb"
    if _only(_SHARE_WORD, text):
        return "share"
    if _is_page_tools_line(text):
        return "page-tools"
    if _only(_PLAYER_WORD, text, 200):
        return "player-or-ad-label"
    if len(text) < 200 and _NEWSLETTER.match(text):
        return "newsletter"
    if len(text) < 300 and _FURNITURE.search(text):
        return "furniture"
    if _INLINE_PREFIX.match(text) and len(text) < 250:
        return "read-also"
    if _MORE_FROM.match(text):
        return "more-from"
    # Language switchers ("enar", "EN") on an Arabic page.
    return "language-switch" if arabic_page and _LATIN_SHORT.match(text) else None


def _dedupe_key(text: str) -> str:
    return norm(text).strip(" .،,:؛")


def clean_paragraphs(
    paragraphs: Iterable[str], title: str | None = None, trace: list[tuple[str, str]] | None = None
) -> list[str]:
    """Return the article's real paragraphs, in order, with every known boilerplate class removed.

    ``trace`` (if given) receives ``(rule, paragraph)`` for each paragraph dropped.
    """
    candidates = [
        norm(strip_markup(unicodedata.normalize("NFC", p).translate(_INVISIBLE))) for p in paragraphs
    ]
    candidates = [p for p in candidates if p]
    arabic_page = sum(len(_ARABIC.findall(p)) for p in candidates) > 0.3 * max(
        sum(len(p) for p in candidates), 1
    )
    drops: list[tuple[str, str]] = trace if trace is not None else []
    kept: list[str] = []
    total_chars = sum(len(p) for p in candidates) or 1
    index = 0
    while index < len(candidates):
        text = candidates[index]
        if _TERMINAL.match(text) or _is_about_author(candidates, index):
            tail = sum(len(p) for p in candidates[index:])
            if kept and tail <= _TERMINAL_MAX_TAIL * total_chars:
                drops.extend(("terminal-section", p) for p in candidates[index:])
                break
            index = _skip_teasers(candidates, index, drops, "terminal-heading")
            continue
        if _TEASER.match(text) or _INLINE.match(text) or _is_more_rail(candidates, index):
            limit = 1 if _INLINE.match(text) else 6
            index = _skip_teasers(candidates, index, drops, "teaser-box", limit=limit)
            continue
        rule = noise_rule(text, arabic_page)
        if rule is None:
            kept.append(text)
        else:
            drops.append((rule, text))
        index += 1
    return _drop_repeats(kept, title, drops)


def _is_more_rail(candidates: list[str], index: int) -> bool:
    # "Weitere Tourentipps in Schweden" heads a teaser rail after the article; mid-article "Weitere
    # US-Zellprojekte im Aufbau" is a subheading of the text.
    if not _MORE_HEADING.match(candidates[index]):
        return False
    before = sum(len(p) for p in candidates[:index])
    return before >= 0.5 * sum(len(p) for p in candidates)


def _is_about_author(candidates: list[str], index: int) -> bool:
    # "عن <name>" is an author box only after most of the text (a paragraph may legitimately be "عن ...").
    if index == 0 or not _ABOUT_NAME.match(candidates[index]):
        return False
    before = sum(len(p) for p in candidates[:index])
    return before >= 0.5 * sum(len(p) for p in candidates)


def _skip_teasers(
    candidates: list[str], index: int, drops: list[tuple[str, str]], rule: str, limit: int = 6
) -> int:
    """Skip a box's heading at ``index`` and the short headline/excerpt lines that follow it."""
    drops.append((rule, candidates[index]))
    index += 1
    skipped = 0
    while index < len(candidates) and skipped < limit:
        text = candidates[index]
        # Teasers are headlines (no sentence-final stop) or excerpts cut with an ellipsis.
        headline = len(text) <= _TEASER_MAX_CHARS and not text.endswith((".", "!", "؟", "?", ":", "»", "”"))
        if not (headline or text.endswith(("…", "..."))):
            break
        drops.append((rule, text))
        index += 1
        skipped += 1
    return index


def _drop_repeats(paragraphs: list[str], title: str | None, drops: list[tuple[str, str]]) -> list[str]:
    seen: set[str] = set()
    title_key = _dedupe_key(title) if title else None
    result: list[str] = []
    for text in paragraphs:
        key = _dedupe_key(text)
        if key in seen:
            drops.append(("repeated", text))
            continue
        if title_key and len(result) < 3 and key == title_key:
            drops.append(("title-repeated", text))
            continue  # the headline repeated at the top of the body
        seen.add(key)
        result.append(text)
    return result


def clean_text(text: str, title: str | None = None) -> str:
    """Clean a whole text (one paragraph per line) and return the paragraphs joined by a blank line."""
    return "\n\n".join(clean_paragraphs(text.splitlines(), title=title))
