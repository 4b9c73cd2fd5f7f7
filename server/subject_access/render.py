"""The released export as a PDF: the same document as the JSON, printed (WeasyPrint)."""

from flask import render_template

from server.reports.render import pdf_from_html


def pdf(doc: dict) -> bytes:
    return pdf_from_html(render_template("subject_access/print.html", doc=doc))
