"""Dashboard panels. Each one is handed a :class:`~s3tui.tui.frame.Frame` per tick and keeps
whatever history it needs itself."""

from s3tui.tui.widgets.chart import ThroughputChart
from s3tui.tui.widgets.files import FilesPanel
from s3tui.tui.widgets.panel import Panel
from s3tui.tui.widgets.parts import PartsPanel
from s3tui.tui.widgets.retry_log import RetryLog
from s3tui.tui.widgets.summary import SummaryPanel
from s3tui.tui.widgets.temp_disk import TempDiskPanel
from s3tui.tui.widgets.view import FrameView

__all__ = [
    "FilesPanel",
    "FrameView",
    "Panel",
    "PartsPanel",
    "RetryLog",
    "SummaryPanel",
    "TempDiskPanel",
    "ThroughputChart",
]
