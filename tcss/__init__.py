"""The dashboard's stylesheets, installed as ``s3tui.tcss`` (see ``s3tui.tui.styles``)."""
