"""A bordered area that re-renders from the latest frame."""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from s3tui.tui.frame import Frame


class Panel(Widget):
    """Stores the latest frame; subclasses turn it into content in :meth:`draw`.

    Rendering happens in ``render`` (not at update time) so a resize redraws at the new width
    without waiting for the next tick.
    """

    DEFAULT_CSS = """
    Panel { height: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.frame: Frame | None = None

    def show(self, frame: Frame) -> None:
        self.frame = frame
        self.refresh(layout=self.styles.height is not None and self.styles.height.is_auto)

    def render(self) -> Content:
        if self.frame is None:
            return Content("")
        return self.draw(self.frame, max(self.content_size.width, 1))

    def draw(self, frame: Frame, width: int) -> Content:  # pragma: no cover - abstract
        raise NotImplementedError
