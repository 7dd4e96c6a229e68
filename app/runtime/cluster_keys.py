"""The keys workers trust each other with, from one secret no client holds.

``OPTOUT_CLUSTER_SECRET`` is shared by the workers of a cluster and by nobody else: a viewer
or admin token proves who a *client* is, never that a request comes from a worker. Every
key the workers need is derived from it, one per purpose (so a key of one purpose never
opens another): the proofs of forwarded requests (:mod:`app.runtime.web.workers`), the
seal of listing cursors (:mod:`app.reports.optout_listing`), the signature of dashboard
session cookies (:mod:`app.runtime.web.access`).

Without the setting a worker makes a random secret at start: alone it works as before (its
cursors and sessions end with the process), but no other worker can prove itself to it,
so a request for a number another worker holds is refused with a message naming the
setting (required when more than one worker serves).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from app.settings import Settings

PURPOSES = ("forwarding", "cursor", "session")


class ClusterKeys:
    def __init__(self, settings: Settings) -> None:
        given = settings.cluster_secret
        self.shared = given is not None  # False: a random secret of this process only
        material = given.get_secret_value().encode("utf-8", "surrogatepass") if given else secrets.token_bytes(32)
        self._keys = {purpose: hmac.new(material, f"sms-optout {purpose} key v1".encode(), hashlib.sha256).digest()
                      for purpose in PURPOSES}

    def key(self, purpose: str) -> bytes:
        """The key of ``purpose`` (one of :data:`PURPOSES`)."""
        return self._keys[purpose]
