"""Reporters that read the progress model: the headless stderr output (the TUI lives in ``tui``)."""
