"""A report as data: headings, paragraphs, tables and figures, rendered to HTML and Markdown.

Sections build a list of blocks; nothing here knows about studies. Tables keep their raw
numbers (written as CSV) next to the text shown to a reader. Figures are PNG bytes, embedded in
the HTML as base64 so the file opens offline, and written next to the Markdown.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from leantune.trials import STEPS_DONE, STEPS_PLANNED


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2
    anchor: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str
    """Plain text; `**bold**` and `code` spans are kept in both renderings."""
    kind: str = "text"
    """text, note (a caveat), or warning (a caveat nobody may miss: synthetic data)."""


@dataclass(frozen=True)
class Table:
    id: str
    """Unique in the document: the HTML id (`tab-<id>`) and the CSV file name."""
    caption: str
    data: pd.DataFrame
    """Raw values, written to `<id>.csv`."""
    shown: pd.DataFrame | None = None
    """Text shown to a reader (formatted, perhaps pivoted). Default: `data`, formatted."""


@dataclass(frozen=True)
class Figure:
    id: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Link:
    text: str
    href: str
    """A relative path inside the run directory; never a network address."""


Block = Heading | Paragraph | Table | Figure | Link


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block | Iterable[Block]) -> None:
        for block in blocks:
            if isinstance(block, Heading | Paragraph | Table | Figure | Link):
                self.blocks.append(block)
            else:
                self.blocks.extend(block)

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


def format_value(value: Any) -> str:
    """Numbers for people: thousands separators for counts, four significant digits else."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        number = float(value) + 0.0  # no "-0"
        if math.isinf(number):
            return "∞" if number > 0 else "−∞"
        if number != 0 and (abs(number) >= 1e6 or abs(number) < 1e-3):
            return f"{number:.3g}"
        if number == int(number) and abs(number) < 1e6:
            return f"{int(number):,}"
        return f"{number:,.4g}" if abs(number) < 1e4 else f"{number:,.0f}"
    return str(value)


# Raw column names (kept in the CSV files) as a reader sees them.
COLUMN_LABELS = {
    "batch_size": "batch size",
    "learning_rate": "learning rate",
    "trial_cpu_s": "trial CPU-s",
    "trial_wall_s": "trial wall-s (summed)",
    "study_wall_s": "study wall-s",
    "best_config": "best feasible config",
    "trials_stopped": "trials stopped",
    "saved_cpu_s_estimate": "CPU-s saved (estimate)",
    "saved_wall_s_estimate": "wall-s saved (estimate)",
    "saved_cpu_s_actual": "CPU-s saved (actual)",
    "estimate_over_actual": "estimate / actual",
    "median_abs_error_pct": "median |error| per trial (%)",
    "stop_label": "stopped by",
    "right_stops": "right stops",
    "false_stops": "false stops",
    "false_stop_rate": "false-stop rate",
    "stop_reason": "reason",
    STEPS_DONE: "steps done",
    STEPS_PLANNED: "steps planned",
    "spent_cpu_s": "CPU-s spent",
    "remaining_cpu_s_estimate": "CPU-s left (estimate)",
    "remaining_cpu_s_actual": "CPU-s left (actual)",
    "remaining_wall_s_estimate": "wall-s left (estimate)",
    "remaining_wall_s_actual": "wall-s left (actual)",
}


def shown_frame(table: Table) -> pd.DataFrame:
    frame = table.shown if table.shown is not None else table.data
    frame = frame.rename(columns=lambda c: COLUMN_LABELS.get(str(c), str(c)))
    return frame.map(lambda v: v if isinstance(v, str) else format_value(v))


# --- HTML --------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1320px;padding:16px 28px;color:#1d2430;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #d8dee8;padding-bottom:4px;
margin-top:1.8em}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:6px 0 4px;font-size:.88em}
th,td{border:1px solid #d8dee8;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#eef2f7;text-align:left}td:first-child,td.t{text-align:left}
td.n{white-space:nowrap}
.caption{text-align:left;font-weight:600;margin:14px 0 2px;color:#38445a;font-size:.92em}
figure{margin:10px 0 18px}figure img{max-width:100%;border:1px solid #e3e8ef}
figcaption{font-size:.88em;color:#4a566b}
.note{background:#f4f7fb;border-left:4px solid #8aa2c8;padding:6px 10px}
.warning{background:#fff4d6;border-left:6px solid #d98b00;padding:8px 12px;font-weight:600}
code{background:#eef2f7;padding:0 3px;border-radius:3px}
.toc{columns:2;font-size:.92em}.wrap{overflow-x:auto}
"""


def _inline_html(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<i>\1</i>", escaped)


# Numbers (with units, ranges or intervals) align right; words align left.
_NUMERIC = re.compile(r"^[-+−–]?[\d.,]+(e[-+]?\d+)?( ?%)?( ?[±\[].*)?$|^–$")


def _cell_html(text: str) -> str:
    # A number (and its interval) stays on one line: a wrapped "0.95 ± 0.01" misreads.
    css = ' class="n"' if _NUMERIC.match(text) else ' class="t"'
    return f"<td{css}>{_inline_html(text)}</td>"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def to_html(document: Document) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(document.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(document.title)}</h1>",
    ]
    headings = [b for b in document.blocks if isinstance(b, Heading) and b.level == 2]
    if len(headings) > 2:
        items = "".join(
            f'<li><a href="#{b.anchor or _slug(b.text)}">{html.escape(b.text)}</a></li>'
            for b in headings
        )
        parts.append(f'<nav><ul class="toc">{items}</ul></nav>')
    for block in document.blocks:
        parts.append(_block_html(block))
    parts.append("</body></html>")
    return "\n".join(parts)


def _block_html(block: Block) -> str:
    if isinstance(block, Heading):
        anchor = block.anchor or _slug(block.text)
        return f'<h{block.level} id="{anchor}">{html.escape(block.text)}</h{block.level}>'
    if isinstance(block, Paragraph):
        css = "" if block.kind == "text" else f' class="{block.kind}"'
        return f"<p{css}>{_inline_html(block.text)}</p>"
    if isinstance(block, Link):
        return f'<p><a href="{html.escape(block.href)}">{html.escape(block.text)}</a></p>'
    if isinstance(block, Figure):
        encoded = base64.b64encode(block.png).decode("ascii")
        return (
            f'<figure id="fig-{block.id}"><img alt="{html.escape(block.caption)}" '
            f'src="data:image/png;base64,{encoded}">'
            f"<figcaption>{_inline_html(block.caption)}</figcaption></figure>"
        )
    frame = shown_frame(block)
    header = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(_cell_html(str(v)) for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    if frame.empty:
        rows = f'<tr><td colspan="{max(1, len(frame.columns))}">(no rows)</td></tr>'
    # The caption sits above the table, not in <caption>: that would wrap to a narrow table's
    # width.
    return (
        f'<div class="wrap"><p class="caption">{_inline_html(block.caption)}</p>'
        f'<table id="tab-{block.id}"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody>'
        "</table></div>"
    )


# --- Markdown ----------------------------------------------------------------------------


def to_markdown(document: Document, figure_dir: str | None = None) -> str:
    """Markdown with the same tables; figures link to `figure_dir/<id>.png` when given."""
    lines = [f"# {document.title}", ""]
    for block in document.blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            prefix = {"warning": "> **⚠** ", "note": "> "}.get(block.kind, "")
            lines += [prefix + block.text, ""]
        elif isinstance(block, Link):
            lines += [f"[{block.text}]({block.href})", ""]
        elif isinstance(block, Figure):
            if figure_dir is not None:
                lines += [f"![{block.caption}]({figure_dir}/{block.id}.png)", ""]
            lines += [f"*Figure: {block.caption}*", ""]
        else:
            lines += [f"**{block.caption}**", "", *_markdown_table(shown_frame(block)), ""]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["(no rows)"]

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return [header, rule, *rows]


# --- Files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    markdown: Path
    files_dir: Path
    """Tables as CSV, figures as PNG."""

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.markdown, self.files_dir]


def write_document(
    document: Document, directory: Path, stem: str = "report", files: str | None = None
) -> WrittenReport:
    """`<stem>.html`, `<stem>.md`, and `<files>/` (default: `<stem>/`) with CSV and PNG files."""
    directory = Path(directory)
    files_dir = directory / (files or stem)
    figure_dir = files_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    _check_unique(document.tables, "table")
    _check_unique(document.figures, "figure")
    for table in document.tables:
        table.data.to_csv(files_dir / f"{table.id}.csv", index=False)
    for figure in document.figures:
        (figure_dir / f"{figure.id}.png").write_bytes(figure.png)
    html_path = directory / f"{stem}.html"
    markdown_path = directory / f"{stem}.md"
    html_path.write_text(to_html(document), encoding="utf-8")
    markdown_path.write_text(to_markdown(document, f"{files_dir.name}/figures"), encoding="utf-8")
    return WrittenReport(html_path, markdown_path, files_dir)


def _check_unique(blocks: Sequence[Table] | Sequence[Figure], kind: str) -> None:
    seen: set[str] = set()
    for block in blocks:
        if block.id in seen:
            raise ValueError(f"two {kind}s share the id {block.id!r}; ids name files")
        seen.add(block.id)
