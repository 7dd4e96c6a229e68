"""The README's quick start, as a newcomer runs it: a fresh clone, `make run` in one terminal,
`make demo` in another, and what the README says you will see.

The clone is of this checkout's HEAD (what a newcomer would clone). `make run` installs its
own virtualenv in the clone (from the package cache when the machine has one) and, with
KAFKA_BOOTSTRAP_SERVERS set to the test broker, starts no broker of its own. The time from
the clone to the suppressed send is printed (a figure, not an assertion).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.integration.harness import REPO, free_port

pytestmark = pytest.mark.integration

README = (REPO / "README.md").read_text()


def test_the_readme_quick_start_from_a_fresh_clone(kafka_bootstrap, tmp_path):
    assert "make run" in README and "make demo" in README
    promised_end = re.search(r"It ends with `([^`]+)`", README).group(1)
    started = time.monotonic()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    vendor = REPO / "app" / "runtime" / "web" / "static" / "vendor"
    if vendor.is_dir():  # the chart library make install fetches from npm: reused, as a warm cache would
        shutil.copytree(vendor, clone / "app" / "runtime" / "web" / "static" / "vendor")
    port = free_port()
    app_id = f"qs{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTOUT_") and k != "VIRTUAL_ENV"}
    env.update(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, OPTOUT_WEB_PORT=str(port), OPTOUT_APP_ID=app_id,
               **{f"OPTOUT_{t.upper()}_TOPIC": f"{app_id}.{t}" for t in
                  ("inbound", "outbound", "provider", "suppressed", "deadletter", "status", "consent", "review",
                   "audit")})
    log = open(tmp_path / "make-run.log", "wb")  # noqa: SIM115 (the child's whole life)
    run = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert run.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            time.sleep(1)
        else:
            raise AssertionError("make run: no healthy worker after 10 minutes\n"
                                 + (tmp_path / "make-run.log").read_text()[-3000:])
        ready_s = time.monotonic() - started
        out = (tmp_path / "make-run.log").read_text()
        assert f"Dashboard: http://127.0.0.1:{port}/" in out and ".run/viewer-token" in out
        assert (clone / ".run" / "viewer-token").is_file()
        assert "Traceback" not in out and "[ERROR]" not in out, out[-3000:]
        demo = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-2000:]
        assert "suppressed" in demo.stdout and "opted_out" in demo.stdout
        assert promised_end in demo.stdout, demo.stdout[-2000:]
        print(f"\nquick start from a fresh clone: worker healthy after {ready_s:.0f} s, demo done after "
              f"{time.monotonic() - started:.0f} s")
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
        log.close()
