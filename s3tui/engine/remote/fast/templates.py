"""PutObject templates learned from botocore, kept across runs: a job of small files starts
sending before botocore is imported.

Why: importing botocore and making its client is ~0.13 s before the first request (on the bench's
2-core machine, a tenth of a 2,000-file job, while the server sits idle), yet every PutObject
after the first goes around botocore anyway (:mod:`direct`). What ``direct`` learned from
botocore's first PutObject (URL, addressing style, the options' headers, signing region) is kept
here, and the next run with the same inputs sends from it at once; botocore is imported only when
something else is needed (a multipart upload, a HeadObject, an error to explain).

When a template is trusted:

* only with credentials from the environment, which botocore's chain takes first when no
  ``--profile`` is given (or the seed's ``AWS_ACCESS_KEY``/``AWS_SECRET_KEY`` names); never with
  expiring environment credentials;
* only under a name that hashes everything that can change what botocore sends: s3tui's and
  botocore's install, Python, endpoint, region, every ``AWS_*`` and proxy variable, and the AWS
  config and credentials files (size, mtime);
* and only as a guess until the server stores a request made from it: if the first one fails in
  any way, the template is deleted and botocore makes that request (see ``DirectPut.put``).

Nothing secret is written: no Authorization header, token or key. The secret key is one input of
the SHA-256 that names the file, so rotating it just starts a new entry.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3tui import __version__
from s3tui.engine.redact import without_userinfo
from s3tui.engine.remote.fast.cachefiles import cache_root, usable, write_whole

FORMAT = 1
KEEP = 32  # entries kept; the oldest go first
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@dataclass(frozen=True)
class EnvCredentials:
    """Static credentials from the environment, shaped like botocore's frozen credentials."""

    access_key: str
    secret_key: str
    token: str | None = None

    def get_frozen_credentials(self) -> EnvCredentials:
        return self


def env_credentials(profile: str | None) -> EnvCredentials | None:
    """The credentials botocore will sign with when they come from the environment, else None.

    botocore's env provider is first in its chain unless a profile is passed explicitly; the
    seed's names are what :func:`~s3tui.engine.remote.client.make_client` passes when the
    standard ones are unset.
    """
    env = os.environ
    if profile:
        return None
    if "AWS_ACCESS_KEY_ID" in env:
        key, secret = env["AWS_ACCESS_KEY_ID"], env.get("AWS_SECRET_ACCESS_KEY", "")
        if not key or not secret or env.get("AWS_CREDENTIAL_EXPIRATION"):
            return None  # botocore decides (and explains) what these mean
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
        return EnvCredentials(key, secret, token)
    if env.get("AWS_ACCESS_KEY") and env.get("AWS_SECRET_KEY"):
        return EnvCredentials(env["AWS_ACCESS_KEY"], env["AWS_SECRET_KEY"])
    return None


def _file_stamp(path: str) -> list[Any]:
    try:
        st = os.stat(os.path.expanduser(path))
    except OSError:
        return [path, None]
    return [path, st.st_size, st.st_mtime_ns]


def _botocore_stamp() -> list[Any]:
    """Which botocore would be imported, without importing it (a new version is a new file)."""
    spec = importlib.util.find_spec("botocore")
    return _file_stamp(spec.origin) if spec is not None and spec.origin else [None]


def inputs_digest(endpoint_url: str | None, region: str | None) -> str:
    """SHA-256 of everything that can change the PutObject botocore would send."""
    env = os.environ
    inputs = {
        "format": FORMAT,
        "s3tui": __version__,
        "python": list(sys.version_info[:3]),
        "botocore": _botocore_stamp(),
        "endpoint_url": endpoint_url,
        "region": region,
        "env": sorted(
            (k, v) for k, v in env.items() if k.startswith("AWS_") or k.lower() in _PROXY_VARS
        ),
        "files": [
            _file_stamp(env.get("AWS_CONFIG_FILE", "~/.aws/config")),
            _file_stamp(env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")),
        ],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _without_userinfo(entry: Any) -> Any:
    endpoint = entry.get("endpoint") if isinstance(entry, dict) else None
    return {**entry, "endpoint": without_userinfo(endpoint)} if endpoint else entry


class TemplateCache:
    """The templates learned under one set of inputs: one small JSON file, 0600 in a 0700 dir."""

    def __init__(self, digest: str, directory: Path | None = None) -> None:
        self._dir = directory if directory is not None else cache_root() / "put-templates"
        self._path = self._dir / f"{digest[:40]}.json"

    @classmethod
    def for_run(
        cls, endpoint_url: str | None, region: str | None, profile: str | None
    ) -> TemplateCache | None:
        """The cache for this run's inputs; None when credentials do not come from the env."""
        if env_credentials(profile) is None:
            return None
        return cls(inputs_digest(endpoint_url, region))

    def load(self) -> dict[str, dict[str, Any]]:
        """Templates by options key; empty when there are none (or the file is not usable)."""
        try:
            data = json.loads(self._path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}
        templates = data.get("templates")
        if not isinstance(templates, dict):
            return {}
        scrubbed = {k: _without_userinfo(v) for k, v in templates.items()}
        if scrubbed != templates:  # written before endpoints lost their user:password@
            self._write(scrubbed)
        return scrubbed

    def save(self, options_key: str, template: dict[str, Any]) -> None:
        self._write({**self.load(), options_key: template})

    def drop(self, options_key: str) -> None:
        templates = self.load()
        if templates.pop(options_key, None) is not None:
            self._write(templates)

    def _write(self, templates: dict[str, dict[str, Any]]) -> None:
        if not usable(self._dir):
            return
        blob = json.dumps({"format": FORMAT, "templates": templates}, sort_keys=True).encode()
        write_whole(self._path, blob)
        self._prune()

    def _prune(self) -> None:
        """Keep the newest KEEP entries: each rotated key or new endpoint adds one."""
        try:
            entries = sorted(self._dir.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        except OSError:
            return
        for old in entries[:-KEEP]:
            if old != self._path:
                old.unlink(missing_ok=True)
