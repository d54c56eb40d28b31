"""`s3tui watch` with no ID while several uploads run: choose one from the list `s3tui ps` shows.

A small app of its own, run before the watch dashboard (which is made for one upload): the
rows are `ps`'s, refreshed every second, arrows move, enter watches, q leaves.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from s3tui.live import store
from s3tui.live.ps import COLUMNS, cells, row

REFRESH = 1.0


class PickUpload(App[str | None]):
    """Returns the chosen upload's id, or None when left with q / escape / ctrl+c."""

    TITLE = "s3tui watch"
    CSS = """
    #pick-title { padding: 0 1; text-style: bold; }
    #pick-hint { padding: 0 1; color: $text-muted; }
    DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Watch"),
        Binding("q", "leave", "Quit"),
        Binding("escape", "leave", "Quit", show=False),
        Binding("ctrl+c", "leave", "Quit", show=False, priority=True),
    ]

    def __init__(self, entries: list[store.Entry], refresh: float = REFRESH) -> None:
        super().__init__()
        self.entries = list(entries)
        self._refresh_every = refresh

    def compose(self) -> ComposeResult:
        n = len(self.entries)
        yield Static(f"{n} uploads are running: which one to watch?", id="pick-title")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static("↑/↓ choose · enter watch · q quit (the uploads go on)", id="pick-hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for title, width, _ in COLUMNS:
            table.add_column(title, key=title, width=width or None)
        self._fill()
        table.focus()
        self.set_interval(self._refresh_every, self._reload)

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        now = time.time()
        chosen = self.chosen_id()
        table.clear()
        for e in self.entries:
            table.add_row(*cells(row(e), now), key=e.id)
        if chosen is not None:
            table.move_cursor(row=table.get_row_index(chosen))

    def _reload(self) -> None:
        self.entries = [e for e in self.entries if e.reload() or e.path.exists()]
        if self.entries:
            self._fill()

    def chosen_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.exit(str(event.row_key.value))

    def action_choose(self) -> None:
        self.exit(self.chosen_id())

    def action_leave(self) -> None:
        self.exit(None)


def choose_upload(entries: list[store.Entry]) -> store.Entry | None:
    """Let the user pick one of ``entries`` in the terminal; None when none was chosen."""
    chosen = PickUpload(entries).run()
    return next((e for e in entries if e.id == chosen), None)
