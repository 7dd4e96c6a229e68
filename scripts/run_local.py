"""`make run`: one local worker, with a viewer token for the dashboard when none is set.

When ``OPTOUT_VIEWER_TOKEN`` is not set, a token is made once (``secrets.token_urlsafe``)
and kept in ``.run/viewer-token`` (git-ignored, mode 600), so it stays the same from one
run to the next; the worker gets it in ``OPTOUT_VIEWER_TOKEN``. The cluster secret
(``OPTOUT_CLUSTER_SECRET``, what workers trust each other with) is made the same way, in
``.run/cluster-secret``, so a second worker (``make cluster``) trusts this one. The URL to
open is printed, the token is not (it is in the file). Then this process becomes the worker.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN_FILE = REPO / ".run" / "viewer-token"
SECRET_FILE = REPO / ".run" / "cluster-secret"


def viewer_token(path: Path = TOKEN_FILE) -> str:
    """The local viewer token: read from ``path``, or made and written there."""
    return local_secret(path)


def local_secret(path: Path) -> str:
    """A local secret: read from ``path``, or made and written there (mode 600)."""
    if path.is_file():
        token = path.read_text().strip()
        if token:
            return token
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


def dashboard_url(env: dict[str, str]) -> str:
    if env.get("OPTOUT_WEB_URL", "").strip():
        return env["OPTOUT_WEB_URL"].strip().rstrip("/") + "/"
    host = env.get("OPTOUT_WEB_BIND") or env.get("OPTOUT_WEB_HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{env.get('OPTOUT_WEB_PORT', '6066')}/"


def local_env(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """``env`` with the local viewer token and cluster secret where none is set; and where
    the token is (to say so)."""
    env = dict(env)
    if env.get("OPTOUT_VIEWER_TOKEN", "").strip():
        where = "the token in OPTOUT_VIEWER_TOKEN"
    else:
        env["OPTOUT_VIEWER_TOKEN"] = viewer_token()
        where = f"the token in {TOKEN_FILE.relative_to(REPO)}"
    if not env.get("OPTOUT_CLUSTER_SECRET", "").strip():
        env["OPTOUT_CLUSTER_SECRET"] = local_secret(SECRET_FILE)
    return env, where


def main() -> None:
    env, where = local_env(dict(os.environ))
    print(f"Dashboard: {dashboard_url(env)} - sign in with {where}", flush=True)
    os.execve(sys.executable, [sys.executable, "-m", "app", "worker", *sys.argv[1:]], env)


if __name__ == "__main__":
    main()
