"""s3tui: stream data into S3 with concurrent multipart uploads and a live dashboard.

The engine (``s3tui.engine``) knows nothing of Textual; the dashboard (``s3tui.tui``) knows
nothing of boto3. They meet in ``s3tui.engine.progress``.
"""

__version__ = "0.1.0"
