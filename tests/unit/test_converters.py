"""Converters put each piece of text in the right section with the right locator, and refuse bad files."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from ingest.converters import (
    SUPPORTED_SUFFIXES,
    CSVToDocument,
    DOCXToDocument,
    HTMLToDocument,
    MarkdownToDocument,
    PDFToDocument,
    TextToDocument,
    XLSXToDocument,
    convert_file,
)
from ingest.documents import ConversionError, Document, Section
from tests.fixtures import documents as fx

CORPUS = Path("/work/shared/corpora/sagemaker-dg/doc_source")


def sections(doc: Document) -> list[Section]:
    return list(doc.sections)


def section_with(doc: Document, needle: str) -> Section:
    found = [s for s in doc.sections if needle in s.text]
    assert len(found) == 1, (
        f"{needle!r} found in {len(found)} sections: {[(s.headings, s.page, s.sheet, s.rows) for s in found]}"
    )
    return found[0]


def all_text(doc: Document) -> str:
    return "\n".join(s.text for s in doc.sections)


# --- dispatch -------------------------------------------------------------------------------------


def test_convert_file_names_the_source_relative_to_root_with_posix_slashes(tmp_path):
    paths = fx.build_sample_corpus(tmp_path)
    kinds = {}
    for fmt, path in paths.items():
        doc = convert_file(path, tmp_path)
        assert doc.source == path.relative_to(tmp_path).as_posix()
        kinds[fmt] = doc.kind
    assert kinds == {f: f for f in ("markdown", "text", "pdf", "docx", "html", "xlsx", "csv")}
    assert convert_file(paths["html"], tmp_path).source == "it/wiki/vpn-access.html"


def test_supported_suffixes_cover_every_format():
    assert {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".xlsx", ".xlsm", ".csv", ".tsv", ".docx"} == set(
        SUPPORTED_SUFFIXES
    )


def test_suffix_matching_ignores_case(tmp_path):
    path = fx.build_pdf(tmp_path, name="UPPER.PDF")
    assert convert_file(path, tmp_path).kind == "pdf"


@pytest.mark.parametrize(("name", "advice"), [("photo.png", "convert it"), ("old.doc", "save it as .docx")])
def test_unsupported_types_are_refused_with_advice(tmp_path, name, advice):
    path = tmp_path / name
    path.write_bytes(b"not empty")
    with pytest.raises(ConversionError, match="unsupported file type") as caught:
        convert_file(path, tmp_path)
    assert advice in str(caught.value)


def test_an_unexpected_converter_failure_becomes_a_conversion_error(tmp_path):
    class Exploding:
        def convert(self, path, source):
            raise RuntimeError("boom")

    path = fx.build_text(tmp_path)
    with pytest.raises(ConversionError, match="could not read this file.*boom"):
        convert_file(path, tmp_path, converters={".txt": Exploding()})


def test_a_path_outside_root_is_a_programming_error(tmp_path):
    (tmp_path / "a").mkdir()
    path = fx.build_text(tmp_path)
    with pytest.raises(ValueError, match="not inside"):
        convert_file(path, tmp_path / "a")


# --- bad files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_an_empty_file_is_refused_as_empty(tmp_path, suffix):
    path = fx.build_empty(tmp_path, f"nothing{suffix}")
    with pytest.raises(ConversionError, match="^empty file"):
        convert_file(path, tmp_path)


@pytest.mark.parametrize("name", ["blank.md", "blank.txt", "blank.html", "blank.csv"])
def test_a_text_file_with_only_whitespace_or_markup_is_empty(tmp_path, name):
    path = tmp_path / name
    path.write_text("\n\n   \n<p> </p>\n" if name.endswith(".html") else "\n \n\t\n", encoding="utf-8")
    with pytest.raises(ConversionError, match="^empty file"):
        convert_file(path, tmp_path)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken.pdf", "not a PDF file"),
        ("broken.xlsx", "not a readable workbook"),
        ("broken.docx", "not a readable Word document"),
        ("broken.csv", "not a text file"),
        ("broken.md", "not a text file"),
        ("broken.html", "not a text file"),
    ],
)
def test_corrupt_files_are_refused_with_a_short_reason(tmp_path, name, reason):
    path = fx.build_corrupt(tmp_path, name)
    with pytest.raises(ConversionError) as caught:
        convert_file(path, tmp_path)
    message = str(caught.value)
    assert message.startswith(reason)
    assert "ingest again" in message and "Traceback" not in message and len(message) < 300


def test_a_truncated_pdf_is_refused(tmp_path):
    good = fx.build_pdf(tmp_path).read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(good[:200])
    with pytest.raises(ConversionError, match="PDF"):
        convert_file(path, tmp_path)


def test_an_xlsx_that_is_really_a_docx_is_refused(tmp_path):
    path = tmp_path / "wrong.xlsx"
    path.write_bytes(fx.build_docx(tmp_path).read_bytes())
    with pytest.raises(ConversionError, match="workbook"):
        convert_file(path, tmp_path)


@pytest.mark.parametrize("name", ["locked.xlsx", "locked.docx"])
def test_password_protected_office_files_say_so(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(ConversionError, match="password-protected"):
        convert_file(path, tmp_path)


# --- markdown -------------------------------------------------------------------------------------


def test_markdown_sections_carry_heading_path_and_anchors(tmp_path):
    doc = MarkdownToDocument().convert(fx.build_markdown(tmp_path), "expenses.md")
    dinners = section_with(doc, "director's approval")
    assert dinners.headings == ["Expense claims", "Meals", "Client dinners"]
    assert dinners.anchor == "client-dinners-policy"
    meals = section_with(doc, "40 EUR per day")
    assert (meals.headings, meals.anchor) == (["Expense claims", "Meals"], "meals")
    mileage = section_with(doc, "Car")
    assert mileage.headings == ["Expense claims", "Mileage"]


def test_markdown_title_comes_from_front_matter_and_leading_text_gets_the_title(tmp_path):
    doc = MarkdownToDocument().convert(fx.build_markdown(tmp_path), "expenses.md")
    assert doc.title == "Expense Claims"
    intro = section_with(doc, "Read this before")
    assert intro.headings == ["Expense Claims"] and intro.anchor is None
    assert "owner: finance" not in all_text(doc)


def test_markdown_inline_markup_is_cleaned_but_code_and_tables_stay(tmp_path):
    doc = MarkdownToDocument().convert(fx.build_markdown(tmp_path), "expenses.md")
    text = all_text(doc)
    assert "Claims are filed in the Finance portal, see the portal." in text
    assert "https://" not in text and "**" not in text and "<a" not in text
    assert "(in writing)" in text and "\\(" not in text
    assert "approval: director" in text
    assert "| Car | 0.36 |" in text and "---" not in text


def test_markdown_title_falls_back_to_first_h1_then_the_file_name(tmp_path):
    with_h1 = fx.build_markdown(
        tmp_path, "a.md", 'Intro.\n\n# Remote work \\- rules<a name="remote"></a>\n\nAsk first.\n'
    )
    doc = MarkdownToDocument().convert(with_h1, "a.md")
    assert doc.title == "Remote work - rules"
    assert section_with(doc, "Intro.").headings == ["Remote work - rules"]
    assert section_with(doc, "Ask first.").anchor == "remote"
    no_h1 = fx.build_markdown(tmp_path, "remote_work-policy.md", "## Hours\n\nCore hours are 10 to 4.\n")
    doc = MarkdownToDocument().convert(no_h1, "remote_work-policy.md")
    assert doc.title == "Remote work policy"
    assert section_with(doc, "Core hours").headings == ["Hours"]


def test_markdown_hashes_inside_code_fences_are_not_headings(tmp_path):
    text = "# Scripts\n\n```bash\n# not a heading\necho hi\n```\n\n## Next\n\nMore.\n"
    doc = MarkdownToDocument().convert(fx.build_markdown(tmp_path, "s.md", text), "s.md")
    code = section_with(doc, "echo hi")
    assert code.headings == ["Scripts"] and "# not a heading" in code.text
    assert [s.headings for s in doc.sections] == [["Scripts"], ["Scripts", "Next"]]


def test_markdown_repeated_headings_get_github_style_suffixes(tmp_path):
    text = "# Guide\n\n## Example\n\nOne.\n\n## Example\n\nTwo.\n\n## Setup & Run (v2)!\n\nThree.\n"
    doc = MarkdownToDocument().convert(fx.build_markdown(tmp_path, "g.md", text), "g.md")
    assert [s.anchor for s in doc.sections] == ["example", "example-1", "setup--run-v2"]


# --- plain text -----------------------------------------------------------------------------------


def test_text_paragraphs_are_kept_under_the_title(tmp_path):
    doc = TextToDocument().convert(fx.build_text(tmp_path), "office_hours.txt")
    assert doc.title == "Office hours"
    assert [s.headings for s in doc.sections] == [["Office hours"]]
    assert doc.sections[0].text == "\n\n".join(fx.TEXT_PARAGRAPHS)


def test_text_paragraphs_are_grouped_up_to_max_chars(tmp_path):
    doc = TextToDocument(max_chars=60).convert(fx.build_text(tmp_path), "office_hours.txt")
    assert [s.text for s in doc.sections] == fx.TEXT_PARAGRAPHS


# --- HTML -----------------------------------------------------------------------------------------


def test_html_sections_take_anchors_from_ids_enclosing_sections_and_named_links(tmp_path):
    doc = HTMLToDocument().convert(fx.build_html(tmp_path), "vpn.html")
    install = section_with(doc, "GlobalConnect")
    assert (install.headings, install.anchor) == (["VPN Access", "Install the client"], "install-client")
    mac = section_with(doc, "system extension")
    assert (mac.headings, mac.anchor) == (["VPN Access", "Install the client", "On a Mac"], "mac-setup")
    assert section_with(doc, "renew your certificate").anchor == "troubleshooting"
    assert section_with(doc, "service desk").anchor == "contact-support"


def test_html_keeps_the_canonical_url_and_title(tmp_path):
    doc = HTMLToDocument().convert(fx.build_html(tmp_path), "vpn.html")
    assert doc.url == fx.HTML_CANONICAL_URL
    assert doc.title == "VPN Access - IT Wiki"


@pytest.mark.parametrize("unwrap_main", [False, True])
def test_html_drops_scripts_styles_and_page_chrome(tmp_path, unwrap_main):
    page = fx.HTML_PAGE.replace("<main>", "<div>").replace("</main>", "</div>") if unwrap_main else fx.HTML_PAGE
    text = all_text(HTMLToDocument().convert(fx.build_html(tmp_path, page=page), "vpn.html"))
    for chrome in (
        "do-not-index-me",
        "footer script",
        "display: none",
        "Sidebar link",
        "IT Wiki home",
        "Copyright",
        "Related pages",
    ):
        assert chrome not in text
    assert "connects through the Corporate VPN." in text


def test_html_tables_become_records(tmp_path):
    doc = HTMLToDocument().convert(fx.build_html(tmp_path), "vpn.html")
    assert "Error: E42 | Fix: Restart the client" in section_with(doc, "E42").text


def test_html_url_falls_back_to_og_url_and_ignores_non_web_links(tmp_path):
    og = '<html><head><meta property="og:url" content="https://intranet.example.com/p/1"></head><body><p>Hi there</p></body></html>'
    assert (
        HTMLToDocument().convert(fx.build_html(tmp_path, "og.html", og), "og.html").url
        == "https://intranet.example.com/p/1"
    )
    local = '<html><head><link rel="canonical" href="file:///C:/wiki/page.html"></head><body><p>Hi</p></body></html>'
    doc = HTMLToDocument().convert(fx.build_html(tmp_path, "local.html", local), "local.html")
    assert doc.url is None and doc.title == "Local"


def test_html_wiki_headline_ids_lists_and_legacy_encodings(tmp_path):
    page = (
        '<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head><body>'
        '<h2><span class="mw-headline" id="Caf.C3.A9">Caf\xe9 rules</span></h2>'
        "<p>Pay at the till.</p><ul><li>Cash</li><li>Card</li></ul></body></html>"
    )
    path = tmp_path / "wiki.htm"
    path.write_bytes(page.encode("cp1252"))
    doc = HTMLToDocument().convert(path, "wiki.htm")
    section = section_with(doc, "Pay at the till.")
    assert (doc.title, section.headings, section.anchor) == ("Café", ["Café rules"], "Caf.C3.A9")
    assert section.text == "Pay at the till.\n\nCash\nCard"


# --- PDF ------------------------------------------------------------------------------------------


def test_pdf_text_lands_on_its_page(tmp_path):
    doc = PDFToDocument().convert(fx.build_pdf(tmp_path), "travel-policy.pdf")
    assert [s.page for s in doc.sections] == [1, 2, 3]
    for number, sentence in enumerate(fx.PDF_PAGE_SENTENCES, start=1):
        section = section_with(doc, sentence)
        assert (section.page, section.headings) == (number, [fx.PDF_TITLE])
    assert doc.title == fx.PDF_TITLE and doc.kind == "pdf"


def test_pdf_title_falls_back_to_the_first_line_of_page_one(tmp_path):
    doc = PDFToDocument().convert(fx.build_pdf(tmp_path, title=None), "travel-policy.pdf")
    assert doc.title == "Section 1"


def test_pdf_pages_stay_exact_across_reader_batches_and_can_be_read_twice(tmp_path):
    doc = PDFToDocument().convert(fx.build_long_pdf(tmp_path, pages=150), "long.pdf")
    first, second = sections(doc), sections(doc)
    assert [s.page for s in first] == list(range(1, 151)) == [s.page for s in second]
    assert all(s.text == f"This is page {s.page} of the long manual." for s in first)


def test_pdf_with_a_user_password_is_refused(tmp_path):
    with pytest.raises(ConversionError, match=r"^encrypted PDF: remove the password and ingest again$"):
        PDFToDocument().convert(fx.build_encrypted_pdf(tmp_path), "locked.pdf")


def test_pdf_locked_only_by_an_owner_password_opens_with_the_empty_password(tmp_path):
    doc = PDFToDocument().convert(fx.build_encrypted_pdf(tmp_path, user_password=""), "locked.pdf")
    assert section_with(doc, fx.PDF_PAGE_SENTENCES[1]).page == 2


def test_pdf_without_text_asks_for_ocr(tmp_path):
    with pytest.raises(ConversionError, match="scanned images.*OCR"):
        PDFToDocument().convert(fx.build_scanned_pdf(tmp_path), "scanned.pdf")


# --- Excel ----------------------------------------------------------------------------------------


def test_xlsx_rows_land_in_the_section_whose_range_holds_them(tmp_path):
    doc = XLSXToDocument().convert(fx.build_xlsx(tmp_path), "directory.xlsx")
    name, team, phone = fx.staff_row(30)
    section = section_with(doc, f"Name: {name} |")
    assert section.sheet == fx.XLSX_STAFF_SHEET
    assert section.rows[0] <= 30 <= section.rows[1]
    assert f"Name: {name} | Team: {team} | Phone: {phone}" in section.text.splitlines()
    assert section.headings == ["Directory", fx.XLSX_STAFF_SHEET]


def test_xlsx_sections_hold_twenty_rows_with_excel_row_numbers(tmp_path):
    doc = XLSXToDocument().convert(fx.build_xlsx(tmp_path), "directory.xlsx")
    assert [(s.sheet, s.rows) for s in doc.sections] == [
        ("Staff", (2, 21)),
        ("Staff", (22, 41)),
        ("Staff", (42, 46)),
        ("Offices", (4, 6)),
    ]
    staff = sections(doc)[0].text.splitlines()
    assert len(staff) == 20 and staff[0].startswith(f"Name: {fx.staff_row(2)[0]} |")


def test_xlsx_header_may_start_lower_down_and_empty_cells_are_skipped(tmp_path):
    doc = XLSXToDocument(rows_per_section=1).convert(fx.build_xlsx(tmp_path), "directory.xlsx")
    oslo = section_with(doc, "Oslo")
    assert (oslo.sheet, oslo.rows) == ("Offices", (5, 5))
    assert oslo.text == "City: Oslo | Address: Karl Johans gate 5"


def test_xlsx_rows_beyond_a_wrong_stored_sheet_size_are_still_read(tmp_path):
    good = fx.build_xlsx(tmp_path)
    path = tmp_path / "bad-dimensions.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:A1"', data)
            target.writestr(item, data)
    doc = XLSXToDocument().convert(path, "bad-dimensions.xlsx")
    last = section_with(doc, f"Name: {fx.staff_row(46)[0]} |")
    assert last.rows == (42, 46) and f"Phone: {fx.staff_row(46)[2]}" in last.text


def test_an_xlsx_without_values_is_empty(tmp_path):
    with pytest.raises(ConversionError, match="^empty file"):
        XLSXToDocument().convert(fx.build_empty_xlsx(tmp_path), "blank.xlsx")


def test_rows_per_section_must_be_positive():
    with pytest.raises(ValueError, match="rows_per_section"):
        XLSXToDocument(rows_per_section=0)


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path):
    doc = CSVToDocument(rows_per_section=2).convert(fx.build_csv(tmp_path), "holidays.csv")
    assert [s.rows for s in doc.sections] == [(2, 3), (4, 5), (6, 6)]
    labour = section_with(doc, "Labour Day")
    assert labour.rows == (4, 5) and labour.sheet is None and labour.headings == ["Holidays"]
    assert "Holiday: Labour Day | Date: 2026-05-01 | Region: All" in labour.text.splitlines()


@pytest.mark.parametrize(
    ("name", "delimiter", "encoding"),
    [
        ("semi.csv", ";", "latin-1"),
        ("bom.csv", ",", "utf-8-sig"),
        ("tabs.tsv", "\t", "utf-8"),
        ("pipes.csv", "|", "cp1252"),
    ],
)
def test_csv_delimiters_and_encodings_are_detected(tmp_path, name, delimiter, encoding):
    path = fx.build_csv(tmp_path, name=name, delimiter=delimiter, encoding=encoding)
    with path.open("a", encoding=encoding, newline="") as handle:
        handle.write(delimiter.join(["Fête de São João", "2026-06-24", "Porto"]) + "\r\n")
    doc = CSVToDocument().convert(path, name)
    lines = sections(doc)[0].text.splitlines()
    assert lines[0] == "Holiday: New Year | Date: 2026-01-01 | Region: All"
    assert lines[-1] == "Holiday: Fête de São João | Date: 2026-06-24 | Region: Porto"
    assert sections(doc)[0].rows == (2, 7)


def test_csv_multiline_cells_count_as_one_row(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('Topic,Note\nVPN,"Line one\nline two"\nPrinter,Jammed\n', encoding="utf-8")
    doc = CSVToDocument(rows_per_section=1).convert(path, "notes.csv")
    assert section_with(doc, "Jammed").rows == (3, 3)


# --- Word -----------------------------------------------------------------------------------------


def test_docx_sections_follow_heading_styles(tmp_path):
    doc = DOCXToDocument().convert(fx.build_docx(tmp_path), "onboarding.docx")
    assert doc.title == fx.DOCX_TITLE
    assert section_with(doc, fx.DOCX_INTRO).headings == [fx.DOCX_TITLE]
    assert section_with(doc, fx.DOCX_FIRST_DAY).headings == [fx.DOCX_TITLE, "First day"]
    assert section_with(doc, fx.DOCX_LEAVE).headings == [fx.DOCX_TITLE, "Leave"]


def test_docx_tables_become_records_under_their_heading(tmp_path):
    doc = DOCXToDocument().convert(fx.build_docx(tmp_path), "onboarding.docx")
    table = section_with(doc, "Laptop")
    assert table.headings == [fx.DOCX_TITLE, "First day", "Equipment"]
    assert table.text.splitlines() == ["Item: Laptop | Owner: IT Service Desk", "Item: Badge | Owner: Facilities"]


# --- the real corpus ------------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is not available")
def test_real_markdown_corpus_converts_with_explicit_anchors():
    files = sorted(CORPUS.glob("*.md"))[::60][:20]
    assert len(files) == 20
    for path in files:
        doc = convert_file(path, CORPUS)
        found = sections(doc)
        assert found, path.name
        raw_h1 = next(line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
        h1_anchor = re.search(r'<a name="([^"]+)"', raw_h1)
        assert "<a" not in doc.title and "\\" not in doc.title, path.name
        for section in found:
            assert section.text.strip() and section.headings[0] == doc.title, (path.name, section.headings)
            assert not any("<a name" in heading for heading in section.headings)
            assert "<a name" not in section.text
        if h1_anchor:
            top = [s for s in found if s.headings == [doc.title] and s.anchor]
            assert top and top[0].anchor == h1_anchor.group(1), path.name
