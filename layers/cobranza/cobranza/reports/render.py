"""The daily report's HTML (Jinja2, autoescaped) and its PDF (WeasyPrint, from the same HTML).

WeasyPrint needs Pango (and HarfBuzz, fontconfig, a font) as native libraries: the local machine
has them; in Lambda they come from the layer named by the template's ``PdfRendererLayerArn``
(docs/deploy.md). Without them ``pdf`` raises ``RendererUnavailable`` and the report is HTML only.
The HTML is self-contained (inline CSS and SVG): the PDF renderer is given no base URL and a URL
fetcher that refuses everything, so rendering never reaches the network or the disk.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


class RendererUnavailable(RuntimeError):
    """WeasyPrint or its native libraries (Pango) are not installed where this runs."""


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=PackageLoader("cobranza.reports", "templates"),
                       autoescape=select_autoescape(enabled_extensions=("html",), default=True),
                       undefined=StrictUndefined, keep_trailing_newline=True)


def html(context: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    return _templates().get_template("daily.html").render(**context)


def pdf(page: str) -> bytes:
    """The PDF of the report's HTML; ``RendererUnavailable`` without WeasyPrint or Pango."""
    try:
        import weasyprint  # imported here: it loads Pango when imported, and only the report needs it
    except (ImportError, OSError) as exc:
        raise RendererUnavailable(type(exc).__name__) from exc
    nothing = weasyprint.urls.URLFetcher(allowed_protocols=())  # the report loads no external resource
    document: bytes = weasyprint.HTML(string=page, base_url=None, url_fetcher=nothing).write_pdf()
    return document
