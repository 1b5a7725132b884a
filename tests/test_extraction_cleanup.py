"""The Arabic clean-up stage: one test per defect class of the old pipeline (../shared/seeds), with a
seed-like string, checking the defect goes and the real paragraphs stay word for word."""

from __future__ import annotations

from lxml.html import document_fromstring

from extraction.cleanup import clean_dom, clean_paragraphs, clean_text, strip_markup

P1 = "قال متحدث باسم الحكومة الليبية المعترف بها دوليًا إن 20 من قوات حفتر قتلوا في منطقة الوشكة غربي مدينة سرت."
P2 = (
    "وذكر المتحدث أن الطائرات التابعة لقوات الحكومة الليبية استهدفت عددًا من المركبات والذخيرة في تلك المنطقة."
)
P3 = "ودعت تركيا وروسيا أمس إلى وقف إطلاق النار في ليبيا بحلول منتصف ليل 12 يناير، وفق بيان مشترك."
BODY = [P1, P2, P3]


def test_js_notice_removed() -> None:
    out = clean_paragraphs(["Sorry, you need to enable JavaScript to visit this website.", *BODY])
    assert out == BODY


def test_arabic_js_and_cookie_notices_removed() -> None:
    notices = [
        "يرجى تفعيل جافا سكريبت لعرض هذا الموقع",
        "نستخدم ملفات تعريف الارتباط لتحسين تجربتك على موقعنا.",
        "This website uses cookies to improve your experience.",
    ]
    assert clean_paragraphs([notices[0], P1, notices[1], P2, notices[2], P3]) == BODY


def test_breadcrumbs_removed_for_each_separator() -> None:
    for crumb in (
        "الرئيسية / أهم الأنباء / مقتل 20 من قوات حفتر غربي سرت",
        "الرئيسية > عربية ودولية > الرئيس التركي والروسي يدعوان لوقف النار في ليبيا",
        "الرئيسية » الدولي » “الوفاق” تطرد  قوات حفتر من منطقة جنوب مصراتة",
    ):
        assert clean_paragraphs([crumb, *BODY]) == BODY


def test_related_block_and_comment_form_at_end_removed() -> None:
    seed_tail = [
        "شاهد أيضاً",
        "وقفة أمام سفارة الإمارات في السودان رفضًا لاستدراج سودانيين للقتال في ليبيا واليمن",
        "الخرطوم تحقق في استدراج الإمارات سودانيين للقتال في ليبيا",
        "قالت السودان يوم الثلاثاء إنها تحقق في قضية استدراج الإمارات سودانيين للقتال في ليبيا بعد …",
        "اترك تعليقاً",
        "لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *",
    ]
    assert clean_paragraphs([*BODY, *seed_tail]) == BODY


def test_read_also_teaser_inside_body_removed() -> None:
    text = [
        P1,
        "اقرأ أيضاً:",
        "حفتر يعلن النفير العام في بنغازي",
        P2,
        "اقرأ أيضا: مواضيع من الأرشيف عن ليبيا",
        P3,
    ]
    assert clean_paragraphs(text) == BODY
    related = [*BODY, "مواضيع ذات صلة", "عنوان خبر آخر عن طرابلس", "أخبار ذات صلة:", "عنوان ثالث"]
    assert clean_paragraphs(related) == BODY


def test_author_box_and_bio_removed() -> None:
    seed = [*BODY, "عن يوسف رجب", "يوسف رجب", "محرر خليجي مهتم بشئون الشرق الأوسط مواليد عام 1984 في الكويت"]
    assert clean_paragraphs(seed) == BODY
    assert clean_paragraphs([*BODY, "عن الكاتب", "كاتب وصحفي ليبي"]) == BODY


def test_comment_notes_removed_anywhere() -> None:
    notes = [
        "لن يتم نشر عنوان بريدك الإلكتروني.",
        "الحقول الإلزامية مشار إليها بـ *",
        "Your email address will not be published. Required fields are marked *",
    ]
    assert clean_paragraphs([P1, notes[0], P2, notes[1], P3, notes[2]]) == BODY


def test_share_strings_removed() -> None:
    shares = [
        "شارك على فيسبوك",
        "تويتر",
        "واتساب",
        "شارك على فيسبوك | تويتر | واتساب | طباعة",
        "Facebook Twitter",
    ]
    assert clean_paragraphs([shares[0], P1, shares[1], shares[2], P2, shares[3], P3, shares[4]]) == BODY


def test_share_words_inside_prose_kept() -> None:
    prose = "وقال المتحدث إن الحكومة نشرت البيان على فيسبوك وتويتر صباح اليوم بعد اجتماع طارئ في طرابلس."
    assert clean_paragraphs([prose, *BODY]) == [prose, *BODY]


def test_leftover_tags_and_escaped_html_removed() -> None:
    leaked = [
        f"<p>{P1}</p>",
        f"&lt;p&gt;{P2}&lt;/p&gt;",
        '<div class="phcv phcv-clearfix"> </div>',
        f"<p>{P3}</p>",
    ]
    assert clean_paragraphs(leaked) == BODY


def test_attribute_fragment_removed() -> None:
    assert clean_paragraphs(['" class="main-news-image img', *BODY]) == BODY
    assert strip_markup(f'{P1} class="main-news-image" alt="صورة">').strip() == P1


def test_body_repeated_twice_kept_once() -> None:
    seed = "\n".join(f"<p>{p}</p>" for p in BODY) + "\n\nمواقع\n\n" + "\n\n".join(BODY)
    out = clean_text(seed).split("\n\n")
    assert [p for p in out if p in BODY] == BODY
    assert len(out) == len(set(out))
    assert out.count(P1) == 1


def test_title_repeated_at_top_removed_and_language_switcher_dropped() -> None:
    title = "مقتل 20 من قوات حفتر غربي سرت"
    assert clean_paragraphs(["enar", title, *BODY], title=title) == BODY


def test_more_from_section_link_and_punctuation_lines_removed() -> None:
    assert clean_paragraphs([".", P1, " ", P2, P3, "المزيد من العالم العربي"]) == BODY


def test_words_are_kept_exactly() -> None:
    # Diacritics, tatweel, hamza forms and double spaces inside words are never normalised away.
    paragraph = "وحمّلت حكومة الوفاق رعاة الهدنة مسؤولية عدم التزام قوات شرقي ليبيا بالهدنــة، «إنّ» أُرسلت."
    assert clean_paragraphs([paragraph]) == [paragraph]


def test_prose_starting_like_a_heading_is_kept() -> None:
    paragraph = (
        "التعليقات التي أدلى بها المسماري في بنغازي أثارت ردود فعل واسعة لدى حكومة الوفاق في طرابلس، "
        "التي اعتبرتها خرقاً للهدنة المعلنة منذ 12 يناير."
    )
    assert clean_paragraphs([*BODY, paragraph]) == [*BODY, paragraph]


def test_clean_dom_removes_boilerplate_containers_and_keeps_article() -> None:
    page = f"""<html><body>
      <div class="breadcrumbs"><a href="/">الرئيسية</a> » <a href="/libya">ليبيا</a></div>
      <article><h1>عنوان الخبر عن ليبيا</h1><p>{P1}</p><p>{P2}</p><p>{P3}</p></article>
      <div class="share-buttons"><a>شارك على فيسبوك</a><a>تويتر</a></div>
      <div class="about-author"><h3>عن الكاتب</h3><p>محرر</p></div>
      <div><h3>شاهد أيضاً</h3><ul><li><a href="/x">عنوان خبر آخر طويل بما يكفي للاختبار</a></li></ul></div>
      <div id="comments"><h3>اترك تعليقاً</h3><form><textarea></textarea></form></div>
      <noscript>يرجى تفعيل جافا سكريبت</noscript>
    </body></html>"""
    root = document_fromstring(page)
    assert len(clean_dom(root).removals) >= 5
    text = root.text_content()
    for gone in ("الرئيسية", "شارك على", "عن الكاتب", "شاهد أيضاً", "عنوان خبر آخر", "اترك تعليقاً", "جافا"):
        assert gone not in text
    for kept in (P1, P2, P3, "عنوان الخبر عن ليبيا"):
        assert kept in text


def test_clean_dom_never_removes_the_article_on_a_class_hint() -> None:
    paragraphs = "".join(f"<p>{p}</p>" for p in BODY * 3)
    root = document_fromstring(
        f'<html><body><div class="content has-sidebar">{paragraphs}</div></body></html>'
    )
    clean_dom(root)
    assert P1 in root.text_content()


def _body_text(page: str) -> str:
    root = document_fromstring(page)
    clean_dom(root)
    return root.text_content()


def test_marquee_ticker_removed() -> None:
    page = (
        "<html><body><marquee><b>عاجل:</b> عنوان خبر عاجل في الشريط المتحرك</marquee>"
        f"<div><p>{P1}</p><p>{P2}</p></div></body></html>"
    )
    text = _body_text(page)
    assert "الشريط المتحرك" not in text
    assert P1 in text


def test_layout_tables_become_blocks_and_data_tables_stay() -> None:
    page = f"""<html><body><table><tr><td>القائمة</td><td>
<table><tr><td class="text"><p>{P1}<p>{P2}</td></tr></table></td></tr></table>
<table><tr><th>المدينة</th><th>السكان</th></tr><tr><td>طرابلس</td><td>1.1 مليون</td></tr></table>
<table><tr><td><p>{P1}</p><p>{P2}</p></td></tr></table></body></html>"""
    root = document_fromstring(page)
    clean_dom(root)
    tables = list(root.iter("table"))
    # Only the data table (it has <th>) is left a table: the nested layout ones and the one-cell
    # table holding paragraphs are blocks now.
    assert len(tables) == 1
    assert tables[0].find(".//th") is not None
    assert root.find(".//td") is not None and root.find(".//td").getparent().getparent() is tables[0]


def test_related_box_as_table_rows_removed() -> None:
    page = f"""<html><body><table><tr><td><table>
<tr><td class="text"><p>{P1}</p><p>{P2}</p><p>{P3}</p></td></tr>
<tr><td><table><tr><td><font><b>أخبار ذات صلة</b></font></td></tr>
<tr><td><a href="/n/9"><font>المجلس الرئاسي يعين قائداً جديداً لمنطقة طرابلس</font></a></td></tr>
<tr><td><a href="/n/8"><font>تبادل أسرى بين طرفي النزاع الليبي برعاية أممية</font></a></td></tr>
</table></td></tr></table></td></tr></table></body></html>"""
    text = _body_text(page)
    assert "ذات صلة" not in text
    assert "المجلس الرئاسي" not in text
    assert "تبادل أسرى" not in text
    assert P3 in text


def test_page_tools_line_removed() -> None:
    for tools in (
        "نسخة للطباعة | أرسل الخبر لصديق | عدد القراءات: 137",
        "طباعة | أرسل لصديق",
        "عدد المشاهدات: ١٢٣٤",
    ):
        assert clean_paragraphs([*BODY, tools]) == BODY
    # "أرسل" in a sentence is a verb, not a tool.
    sentence = "أرسل المجلس الرئاسي وفداً إلى القاهرة لبحث ملف الحدود."
    assert clean_paragraphs([sentence, *BODY]) == [sentence, *BODY]


def test_copyright_footer_line_removed() -> None:
    footer = "جميع الحقوق محفوظة © 2003-2021 شبكة المنارة الإخبارية"
    assert clean_paragraphs([*BODY, footer]) == BODY


def test_advertorial_labels_go_and_a_sentence_about_advertising_stays() -> None:
    labels = [
        "ANZEIGE - Heute mal ausgehen?",
        "*Werbung. Dieser Beitrag enthält Werbung.",
        "WERBUNG für Shampoo",
    ]
    prose = [
        "Werbung nervt. Tracking nervt. Und mobil habe ich eigentlich keine Zeit, meine Einstellungen zu ändern.",
        "Die Redaktion hat den Text am Montag geprüft und die Quellen im Anhang des Beitrags vollständig genannt.",
    ]
    assert clean_paragraphs([prose[0], *labels, prose[1]]) == prose
