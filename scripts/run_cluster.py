"""`make cluster N=3`: N local workers against the local broker, one group.

Worker i (1..N) gets its own data directory (``.run/cluster/w<i>``), its own web port
(6066 + i - 1), its own static member id (``w<i>``, ``OPTOUT_GROUP_INSTANCE_ID``: a
restarted worker gets its partitions back without a rebalance) and the local viewer token
and cluster secret of ``make run`` (``scripts/run_local.py``). Standby replicas: one
(``OPTOUT_STANDBY_REPLICAS``, unless set). Each worker's log goes to
``.run/cluster/w<i>.log``. Ctrl-C (or SIGTERM) stops them all, cleanly; a worker that
exits is said and the others keep running.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_local import REPO, local_env  # noqa: E402

BASE_PORT = 6066


def worker_env(env: dict[str, str], i: int) -> dict[str, str]:
    return {**env, "OPTOUT_DATA_DIR": str(REPO / ".run" / "cluster" / f"w{i}"),
            "OPTOUT_WEB_PORT": str(BASE_PORT + i - 1), "OPTOUT_GROUP_INSTANCE_ID": f"w{i}",
            "OPTOUT_STANDBY_REPLICAS": env.get("OPTOUT_STANDBY_REPLICAS", "1")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=int(os.environ.get("N", "3")), help="how many workers (default 3)")
    args = parser.parse_args()
    if not 1 <= args.n <= 16:
        print("error: N must be between 1 and 16", file=sys.stderr)
        return 2
    env, where = local_env(dict(os.environ))
    logs = REPO / ".run" / "cluster"
    logs.mkdir(parents=True, exist_ok=True)
    procs: dict[int, subprocess.Popen] = {}
    for i in range(1, args.n + 1):
        out = open(logs / f"w{i}.log", "ab")  # noqa: SIM115 (kept open for the child's life)
        procs[i] = subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=REPO, env=worker_env(env, i),
                                    stdout=out, stderr=subprocess.STDOUT)
        print(f"w{i}: http://127.0.0.1:{BASE_PORT + i - 1}/  (log {logs.relative_to(REPO)}/w{i}.log)", flush=True)
    print(f"Sign in on any of them with {where}. Ctrl-C stops them all.", flush=True)

    def stop(*_: object) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        while any(p.poll() is None for p in procs.values()):
            for i, proc in list(procs.items()):
                if proc.poll() is not None:
                    print(f"w{i} exited with {proc.returncode} (see its log)", flush=True)
                    del procs[i]
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop()
        for proc in procs.values():
            proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
