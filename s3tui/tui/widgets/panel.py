"""A bordered area that re-renders from the latest frame, only when what it shows changed."""

from __future__ import annotations

from textual.content import Content

from s3tui.tui.frame import Frame
from s3tui.tui.widgets.view import FrameView


class Panel(FrameView):
    """Stores the latest frame; subclasses turn it into content in :meth:`draw`.

    Each tick draws the frame into :class:`Content` (cheap) and compares it with what is on
    screen: Textual's repaint (styles, strips, the terminal write) is what costs, so an
    unchanged panel is not repainted, and a layout pass is asked for only when an auto-height
    panel gains or loses a line. ``render`` reuses the drawing while the size is the same and
    redraws at a new size, so a resize does not wait for the next tick.
    """

    DEFAULT_CSS = """
    Panel { height: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.frame: Frame | None = None
        self._drawn: Content | None = None
        self._drawn_size: tuple[int, int] = (0, 0)
        self._drawn_lines = 0  # lines of what was last put on screen (auto height follows it)

    def show(self, frame: Frame) -> None:
        self.frame = frame
        if not self.display:
            self._drawn = None
            return
        width, height = self.content_size
        if width <= 0:  # not laid out yet: let render() draw at the size it gets
            self._drawn = None
            self.refresh(layout=self._auto_height)
            return
        previous = self._drawn
        content = self._draw_cached(frame, width, height)
        if previous is not None and content.is_same(previous):
            return
        lines = content.plain.count("\n") + 1
        self.refresh(layout=self._auto_height and lines != self._drawn_lines)
        self._drawn_lines = lines

    @property
    def _auto_height(self) -> bool:
        height = self.styles.height
        return height is not None and height.is_auto

    def _draw_cached(self, frame: Frame, width: int, height: int) -> Content:
        content = self.draw(frame, max(width, 1))
        self._drawn, self._drawn_size = content, (width, height)
        return content

    def render(self) -> Content:
        if self.frame is None:
            return Content("")
        width, height = self.content_size
        if self._drawn is not None and self._drawn_size == (width, height):
            return self._drawn
        content = self._draw_cached(self.frame, width, height)
        self._drawn_lines = content.plain.count("\n") + 1
        return content

    def draw(self, frame: Frame, width: int) -> Content:  # pragma: no cover - abstract
        raise NotImplementedError
