"""The Textual dashboard. ``s3tui.engine`` never imports this package; it never imports boto3.

Importing ``s3tui.tui`` loads nothing: Textual is imported only when a dashboard is built
(:func:`s3tui.tui.dashboard.start_app`), so the CLI can import :mod:`s3tui.tui.terminal` and
decide on headless mode without paying for it.
"""
