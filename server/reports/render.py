"""One document, three forms: an HTML page, a PDF printed from the same HTML (WeasyPrint), and
CSV where it is a table."""

import csv
import io

from flask import render_template

from server.config import PROJECT_ROOT

PRINT_CSS = PROJECT_ROOT / "pwa" / "css" / "report-print.css"


def print_html(document) -> str:
    return render_template("reports/print.html", doc=document)


def pdf_bytes(document, progress=lambda stage: None) -> bytes:
    return pdf_from_html(print_html(document), progress)


def pdf_from_html(html: str, progress=lambda stage: None) -> bytes:
    """A PDF of a printable page, in the reports' print style (subject access uses it too)."""
    # Imported here: WeasyPrint loads Pango at import, which pages that never print need not.
    from weasyprint import CSS, HTML

    progress("Laying out the pages")
    rendered = HTML(string=html, base_url=str(PROJECT_ROOT)).render(
        stylesheets=[CSS(filename=str(PRINT_CSS))]
    )
    progress(f"Writing {len(rendered.pages)} pages")
    return rendered.write_pdf()


def csv_bytes(rows: list[list[str]]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read names with accents right.

    A cell that starts like a formula is prefixed with an apostrophe (CSV injection)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_safe_cell(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode()


def _safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
