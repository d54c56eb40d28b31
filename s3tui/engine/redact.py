"""Credentials typed into a URL (``http://user:secret@host``) never reach output or disk.

botocore accepts an ``--endpoint-url`` with userinfo and repeats the URL in its errors, so the
one rule is applied wherever an endpoint or a message can leave the process: the journal, the
put-templates cache, every error message and statistic, the dashboard.
"""

from __future__ import annotations

import re

# scheme://userinfo@ : up to the last "@" before the host's end (a password may hold an "@").
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s\"'<>]*@")


def without_userinfo(text: str) -> str:
    """``text`` (a URL, or a message quoting URLs) with each URL's ``user:password@`` removed."""
    return _USERINFO.sub(r"\1", text) if "@" in text else text
