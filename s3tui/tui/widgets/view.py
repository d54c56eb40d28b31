"""The base of every widget the dashboard feeds a :class:`~s3tui.tui.frame.Frame` each tick."""

from __future__ import annotations

from textual.widget import Widget

from s3tui.tui.frame import Frame


class FrameView(Widget):
    """The app finds its views by this type (``query(FrameView)``) and calls :meth:`show` with
    every frame; each view keeps whatever history it needs itself."""

    def show(self, frame: Frame) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
