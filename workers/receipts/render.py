"""Receipt PDFs with WeasyPrint: an autoescaped Jinja2 template, a print stylesheet, and fonts
shipped in the repository so every machine lays the same receipt out the same way."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

HERE = Path(__file__).resolve().parent
# Loading the bundled fonts once per process and reusing them saves about a quarter of each render.
_fonts = FontConfiguration()
# WeasyPrint (Pango/GLib underneath) is not safe to run in several threads at once: concurrent
# renders crashed a worker with SIGBUS. One render at a time per process; scale with processes.
_render_lock = threading.Lock()
_env = Environment(loader=FileSystemLoader(HERE / "templates"), undefined=StrictUndefined,
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    unit_price: str
    quantity: int
    line_total: str


@dataclass(frozen=True)
class ReceiptData:
    marketplace: str
    number: str
    issued_at: dt.datetime  # naive UTC
    buyer_name: str
    buyer_email: str
    seller_names: list[str]
    lines: list[ReceiptLine]
    fee: str | None
    total: str
    currency: str
    payment_method: str
    transaction_id: str
    reference: str
    transaction_url: str


def render_pdf(data: ReceiptData) -> bytes:
    html = _env.get_template("receipt.html").render(r=data, issued=data.issued_at.strftime("%d %B %Y, %H:%M UTC"),
                                                    created=data.issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    # base_url lets the stylesheet find fonts/ next to it; nothing is fetched from the network.
    with _render_lock:
        return HTML(string=html, base_url=str(HERE)).write_pdf(font_config=_fonts)
