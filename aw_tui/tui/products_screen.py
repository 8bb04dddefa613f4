"""The products screen (``p``): a step's files, a FITS header, a thumbnail, a catalog's rows."""

from __future__ import annotations

import os
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static

from aw_tui.base.text import inert
from aw_tui.tui.products import Preview, Product, load_preview
from aw_tui.tui.screens import shown

__all__ = ["ProductsScreen", "human_size", "short_path"]


def short_path(path: str) -> str:
    """A path relative to the working directory when it is below it, else as is."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def human_size(size: int | None) -> str:
    """Bytes as a short text (``1.2 MB``); ``missing`` for None."""
    if size is None:
        return "missing"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


class ProductsScreen(Screen[None]):
    """A step's files; the highlighted one previewed below.

    Parameters
    ----------
    title : str
        What the screen is about (``products of step 4 (SWarp)``).
    products : list of Product
        The files (see `aw_tui.tui.products.step_products`).
    """

    BINDINGS = [
        Binding("escape,q,p", "close", "Back"),
        Binding("y", "copy_path", "Copy path"),
    ]

    DEFAULT_CSS = """
    ProductsScreen { layout: vertical; }
    ProductsScreen > #products-title { height: 1; background: $primary-background; }
    ProductsScreen > #products { height: 8; }
    ProductsScreen > #preview-title { height: 1; color: $text-muted; }
    ProductsScreen > #preview { height: 1fr; }
    ProductsScreen #thumbnail { width: auto; max-width: 50%; margin-right: 1; }
    ProductsScreen #preview-text { width: 1fr; }
    ProductsScreen #catalog { height: 1fr; }
    ProductsScreen > #products-keys { height: 1; color: $text-muted; }
    """

    def __init__(self, title: str, products: list[Product]) -> None:
        super().__init__()
        self.title_text = title
        self.products = products
        self.preview: Preview | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{shown(self.title_text)}[/b]", id="products-title")
        yield DataTable(id="products", cursor_type="row", zebra_stripes=True)
        yield Static("", id="preview-title")
        with Horizontal(id="preview"):
            yield Static("", id="thumbnail")
            with VerticalScroll(id="preview-text"):
                yield Static("", id="preview-body", markup=False)
                yield DataTable(id="catalog", zebra_stripes=True)
        yield Static("↑↓ choose · y copy path · tab to the preview · esc back",
                     id="products-keys")

    def on_mount(self) -> None:
        table = self.query_one("#products", DataTable)
        table.add_columns("kind", "file", "size", "modified", "from")
        for product in self.products:
            when = ("" if product.mtime is None
                    else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(product.mtime)))
            table.add_row(product.kind, inert(os.path.basename(product.path), one_line=True),
                          human_size(product.size), when, inert(product.source, one_line=True))
        self.query_one("#catalog", DataTable).display = False
        if not self.products:
            self.query_one("#preview-title", Static).update(
                "this step names no file in its summary and has no XML log")
        pictures = [i for i, p in enumerate(self.products)
                    if p.exists and p.kind in ("image", "psf")]
        if pictures:  # start on something to look at
            table.move_cursor(row=pictures[0])
        table.focus()

    @property
    def selected(self) -> Product | None:
        """The highlighted product."""
        if not self.products:
            return None
        row = self.query_one("#products", DataTable).cursor_row
        return self.products[min(max(row, 0), len(self.products) - 1)]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "products":
            return
        product = self.selected
        if product is not None:
            self.query_one("#preview-title", Static).update(f"reading {shown(product.path)}…")
            self._load(product)

    @work(thread=True, exclusive=True, group="preview")
    def _load(self, product: Product) -> None:
        size = self.app.size
        columns = max(8, min(60, size.width // 2 - 2))
        rows = max(4, size.height - 14)
        preview = load_preview(product, columns, rows)
        self.app.call_from_thread(self._show, product, preview)

    def _show(self, product: Product, preview: Preview) -> None:
        if product is not self.selected:
            return  # the user moved on
        self.preview = preview
        self.query_one("#preview-title", Static).update(
            f"{shown(preview.title)}  [dim]{shown(short_path(product.path))}[/dim]")
        thumb = self.query_one("#thumbnail", Static)
        thumb.display = preview.thumbnail is not None
        thumb.update(preview.thumbnail or "")
        self.query_one("#preview-body", Static).update(inert(preview.text))
        catalog = self.query_one("#catalog", DataTable)
        catalog.clear(columns=True)
        catalog.display = bool(preview.columns)
        if preview.columns:
            catalog.add_columns(*(inert(c, one_line=True) for c in preview.columns))
            catalog.add_rows([[inert(v, one_line=True) for v in row] for row in preview.rows])

    def action_copy_path(self) -> None:
        """``y``: copy the highlighted file's path (OSC 52)."""
        product = self.selected
        if product is None:
            return
        self.app.copy_to_clipboard(product.path)
        self.query_one("#preview-title", Static).update(
            f"copied {shown(product.path)} (OSC 52; tmux: set -g set-clipboard on)")

    def action_close(self) -> None:
        """Back to the steps."""
        self.dismiss(None)
