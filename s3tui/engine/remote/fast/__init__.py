"""The start-up fast path, fenced: the one door client.py, calls.py and start.py go through.

Behind it: a lean PutObject for small bodies (``direct``, signed by ``sigv4``, sent by
``http1``), the templates it keeps across runs (``templates``) and botocore's S3-only,
parse-once data loader (``models``). They save CPU and start-up time and lean on how botocore
prepares a request, so they are an option, never a requirement:

* ``S3TUI_FAST_PATH=0`` (or ``false``/``no``/``off``) turns them all off: every request goes
  through stock botocore with its stock data loader, and no template is read or written.
* Where botocore lacks the private attribute the direct path relies on, it stays off for that
  client (the upload goes through botocore, nothing fails).

Nothing here is imported until used, so the quick path pays only for what it sends with.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from s3tui.engine.remote.fast.direct import DirectPut
    from s3tui.engine.remote.fast.templates import TemplateCache

ENV = "S3TUI_FAST_PATH"
_OFF = frozenset({"0", "false", "no", "off"})

# The direct path of each client make_client set up: kept here, not patched onto botocore's
# client, and gone with the client.
_direct: weakref.WeakKeyDictionary[Any, DirectPut] = weakref.WeakKeyDictionary()


def enabled() -> bool:
    """False when the user (or CI) asked for stock botocore with ``S3TUI_FAST_PATH=0``."""
    return os.environ.get(ENV, "1").strip().lower() not in _OFF


def botocore_ready(client: Any) -> bool:
    """botocore still has what the fast path relies on: the pool-class table s3tui's guarded
    connections go into (``URLLib3Session._pool_classes_by_scheme``, a private attribute)."""
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    return isinstance(getattr(session, "_pool_classes_by_scheme", None), dict)


def data_loader(data_path: str | None) -> Any | None:
    """The S3-only, parse-once loader for a botocore session; None means botocore's own."""
    if not enabled():
        return None
    from s3tui.engine.remote.fast.models import make_loader

    return make_loader(data_path)


def template_cache(
    endpoint_url: str | None, region: str | None, profile: str | None
) -> TemplateCache | None:
    """Where this run's put templates are kept; None when off or not from env credentials."""
    if not enabled():
        return None
    from s3tui.engine.remote.fast.templates import TemplateCache

    return TemplateCache.for_run(endpoint_url, region, profile)


def quick_direct(templates: TemplateCache | None, profile: str | None) -> DirectPut | None:
    """A direct path that can send before botocore is imported: one made from a template an
    earlier run left for these inputs, with the environment's credentials; else None."""
    if templates is None or not enabled():
        return None
    from s3tui.engine.remote.fast.direct import DirectPut
    from s3tui.engine.remote.fast.templates import env_credentials

    creds = env_credentials(profile)
    if creds is None:
        return None
    direct = DirectPut(creds, None, templates)
    return direct if direct.has_templates else None


def attach(
    client: Any,
    session: Any,
    *,
    explicit: tuple[str, str | None] | None,
    profile: str | None,
    templates: TemplateCache | None,
    direct: DirectPut | None = None,
) -> DirectPut | None:
    """Set up the direct path for ``client`` (``direct``: one made before it, which it then
    teaches); None, and every request through botocore, when off or botocore changed."""
    if not enabled() or not botocore_ready(client):
        return None
    if direct is None:
        direct = _direct_put(session, explicit, profile, templates)
    if direct is not None:
        direct.attach(client)
        _direct[client] = direct
    return direct


def direct_for(client: Any) -> DirectPut | None:
    """The direct path :func:`attach` set up for ``client``, if any."""
    return _direct.get(client) if client is not None else None


def _direct_put(
    session: Any,
    explicit: tuple[str, str | None] | None,
    profile: str | None,
    templates: TemplateCache | None,
) -> DirectPut | None:
    """It needs the very credentials object the client signs with: the explicit pair, or the
    session's cached chain result."""
    import contextlib

    import botocore.credentials

    from s3tui.engine.remote.fast.direct import DirectPut
    from s3tui.engine.remote.fast.templates import env_credentials

    creds = None
    if explicit is not None:
        if explicit[1]:
            creds = botocore.credentials.Credentials(explicit[0], explicit[1])
    else:
        with contextlib.suppress(Exception):  # the client reports credential problems itself
            creds = session.get_credentials()
    if creds is None:
        return None
    if templates is not None:
        # Kept for later runs only when those will sign with the same values, from the env.
        frozen = creds.get_frozen_credentials()
        env = env_credentials(profile)
        if env is None or (frozen.access_key, frozen.secret_key, frozen.token) != (
            env.access_key,
            env.secret_key,
            env.token,
        ):
            templates = None
    return DirectPut(creds, session.get_config_variable("ca_bundle"), templates)
