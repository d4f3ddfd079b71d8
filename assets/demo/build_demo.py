"""Build the binary files of the demo knowledge base: a spreadsheet and a short PDF.

The Markdown and HTML demo documents are written by hand; this script writes the two formats that
cannot be: `docs/support-contacts.xlsx` (openpyxl) and `docs/release-notes.pdf` (a minimal PDF
writer below, so the demo needs no PDF library). The outputs are committed; run the script again
after editing the content here:

    .venv/bin/python assets/demo/build_demo.py
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

DOCS = Path(__file__).resolve().parent / "docs"
FIXED_TIME = dt.datetime(2026, 11, 1, 9, 0, 0)

CONTACTS_HEADER = ("Team", "Area", "Email", "Hours (local time)")
CONTACTS = [
    (
        "Docent team",
        "Docent questions, wrong answers, access to the Review page",
        "docent@example.com",
        "Mon-Fri 09:00-17:30",
    ),
    (
        "IT service desk",
        "Laptops, accounts, passwords, VPN",
        "servicedesk@example.com",
        "Mon-Fri 07:00-20:00, Sat 09:00-13:00",
    ),
    (
        "Identity and access",
        "Single sign-on, group membership, role requests",
        "iam@example.com",
        "Mon-Fri 08:00-18:00",
    ),
    (
        "Network operations",
        "Office Wi-Fi, VPN outages, firewall rules",
        "netops@example.com",
        "24/7 on-call for outages",
    ),
    (
        "Cloud platform",
        "AWS accounts, SageMaker endpoints, OpenSearch domains",
        "cloud-platform@example.com",
        "Mon-Fri 08:00-18:00",
    ),
    ("Data platform", "Data lake, DynamoDB tables, exports", "data-platform@example.com", "Mon-Fri 09:00-17:00"),
    ("ML engineering", "Fine-tuning runs, model deployment, GPU quotas", "ml-eng@example.com", "Mon-Fri 09:00-17:00"),
    ("Security operations", "Suspected incidents, phishing, leaked credentials", "security@example.com", "24/7"),
    (
        "Knowledge management",
        "Wiki structure, document owners, publishing to Docent",
        "knowledge@example.com",
        "Mon-Thu 09:00-16:00",
    ),
    ("HR helpdesk", "Leave, payroll, benefits, policies", "hr-help@example.com", "Mon-Fri 09:00-16:00"),
    ("Facilities", "Meeting rooms, desks, building access", "facilities@example.com", "Mon-Fri 07:30-17:00"),
    ("Finance operations", "Expenses, purchase orders, invoices", "finance-ops@example.com", "Mon-Fri 09:00-17:00"),
    ("Legal", "Contracts, data protection questions", "legal@example.com", "Mon-Fri 09:00-17:00"),
    ("Procurement", "New software, licences, vendors", "procurement@example.com", "Mon-Fri 09:00-16:00"),
    (
        "Training and onboarding",
        "New-joiner sessions, Docent training for reviewers",
        "learning@example.com",
        "Tue and Thu 10:00-15:00",
    ),
]

SLA_HEADER = ("Severity", "Meaning", "First response", "Resolution target")
SLA = [
    ("Critical", "Docent is down or gives answers that expose confidential data", "30 minutes, 24/7", "4 hours"),
    (
        "Major",
        "A wrong answer that could make people do the wrong thing; a feature does not work",
        "4 business hours",
        "2 business days",
    ),
    ("Minor", "Small inaccuracy, missing detail, broken link, cosmetic problem", "1 business day", "10 business days"),
    (
        "Request",
        "New document source, role change, question about using Docent",
        "2 business days",
        "Agreed with the requester",
    ),
]

RELEASE_NOTES = [
    (
        "Docent 1.2 release notes (November 2026)",
        [
            (
                "New",
                [
                    "Approved corrections reach the router at once: the next employee who asks the same "
                    "question gets the approved answer, with no restart or re-index.",
                    "Review page filters: Show (not rated yet, thumbs down, low confidence), Route, "
                    "Asked between and Confidence below.",
                    "Approving a correction for a question that is already in the Q&A set updates that pair "
                    "instead of adding a duplicate.",
                    "Exports can be written as Excel files: docent export --format xlsx.",
                ],
            ),
            (
                "Improved",
                [
                    "The Tell us more form now has a free-text Comment field next to severity, the five-level "
                    "agreement scale and the corrected answer.",
                    "References show the page number for PDFs and the sheet and rows for spreadsheets.",
                ],
            ),
            (
                "Fixed",
                [
                    "Follow-up questions that only said 'and for minor ones?' were sometimes searched "
                    "without the earlier topic.",
                    "Re-running docent ingest on an unchanged folder no longer re-embeds Word files.",
                ],
            ),
        ],
    ),
    (
        "Docent 1.1 release notes (September 2026)",
        [
            (
                "New",
                [
                    "Amazon OpenSearch Service and OpenSearch Serverless as index backend "
                    "(DOCENT_INDEX_BACKEND=opensearch; Serverless needs DOCENT_OPENSEARCH_AUTH=sigv4).",
                    "Amazon DynamoDB as store for conversations, feedback and the Q&A set "
                    "(DOCENT_STORE_BACKEND=dynamodb); create the tables with docent stores init.",
                    "Answers written by models on Amazon SageMaker endpoints (DOCENT_LLM_BACKEND=sagemaker).",
                    "Follow-up questions: Docent rewrites them into stand-alone questions and shows what it "
                    "searched for.",
                ],
            ),
            (
                "Changed",
                [
                    "Confidence is shown as a band and a percentage: high (70% or more), medium (40% to "
                    "69%) and low (below 40%). Abstentions report 25% or less.",
                ],
            ),
            (
                "Known issues",
                [
                    "Scanned PDFs without a text layer are skipped; run them through OCR and ingest again.",
                ],
            ),
        ],
    ),
    (
        "Docent 1.0 release notes (June 2026)",
        [
            (
                "First release",
                [
                    "Chat page with answers from the company documents, confidence and references.",
                    "Thumbs up and down on every answer; reviewers read them on the Review page.",
                    "Embedded index and SQLite store: Docent runs on one machine with no cloud services.",
                    "Extractive answers by default: no language model needed to start.",
                    "docent ingest reads Markdown, text, HTML, PDF, Excel, CSV and Word files; "
                    "--delete-missing removes documents that were deleted from the source folders.",
                ],
            ),
            (
                "Upgrade notes",
                [
                    "Back up DOCENT_DATA_DIR before upgrading; the store schema is migrated automatically "
                    "when Docent starts.",
                    "Roles are set with DOCENT_ROLE_REVIEWERS, DOCENT_ROLE_ANALYSTS and DOCENT_ROLE_ADMINS.",
                ],
            ),
        ],
    ),
]


def build_contacts(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    contacts = book.active
    contacts.title = "Contacts"
    for sheet, header, rows in ((contacts, CONTACTS_HEADER, CONTACTS), (book.create_sheet("SLA"), SLA_HEADER, SLA)):
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        for column, width in zip("ABCD", (24, 60, 30, 30), strict=True):
            sheet.column_dimensions[column].width = width
        sheet.freeze_panes = "A2"
    book.properties.creator = "Docent demo"
    book.properties.created = FIXED_TIME
    book.properties.modified = FIXED_TIME
    book.save(path)


def _pdf_text(text: str) -> str:
    """Escape text for a PDF string literal; the demo text is plain ASCII."""
    text.encode("ascii")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _page_stream(title: str, blocks: list[tuple[str, list[str]]]) -> bytes:
    """Content stream of one A4 page: a title, then headings with bulleted, wrapped items."""
    lines: list[tuple[str, int, str]] = [("F2", 16, title), ("F1", 10, "")]
    for heading, items in blocks:
        lines.append(("F2", 12, heading))
        for item in items:
            wrapped = textwrap.wrap(item, width=88)
            for n, part in enumerate(wrapped):
                lines.append(("F1", 10, ("- " if n == 0 else "  ") + part))
        lines.append(("F1", 10, ""))
    ops = ["BT", "56 790 Td"]
    for font, size, text in lines:
        ops.append(f"/{font} {size} Tf")
        ops.append(f"({_pdf_text(text)}) Tj")
        ops.append(f"0 -{size + 5} Td")
    ops.append("ET")
    return "\n".join(ops).encode("ascii")


def write_pdf(path: Path, pages: list[tuple[str, list[tuple[str, list[str]]]]]) -> None:
    """A minimal valid PDF 1.4: one content stream per page, Helvetica and Helvetica-Bold."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree exists
    pages_id = add(b"")
    regular = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    bold = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    page_ids = []
    for title, blocks in pages:
        stream = _page_stream(title, blocks)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> >>" % (pages_id, content, regular, bold)
            )
        )
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    info = add(b"<< /Title (Docent release notes) /Producer (assets/demo/build_demo.py) >>")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        info,
        xref,
    )
    path.write_bytes(bytes(out))


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    build_contacts(DOCS / "support-contacts.xlsx")
    write_pdf(DOCS / "release-notes.pdf", RELEASE_NOTES)
    print(f"wrote {DOCS / 'support-contacts.xlsx'} and {DOCS / 'release-notes.pdf'}")


if __name__ == "__main__":
    main()
