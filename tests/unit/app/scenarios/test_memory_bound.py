"""Issue 8, item 4: junk recipients cannot grow a worker's memory.

100,000 send requests with distinct ~60 KB recipients go through the router and the
decider in a fresh interpreter; its resident memory afterwards must stay within
50 MiB of the baseline taken after ordinary traffic.
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json, resource, sys
from app.stream.decider import Decider
from app.records import Origin
from app.stream.router import Router
from app.settings import Settings
from app.stream.counters import Stats

def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

settings = Settings(partitions=8, kafka_bootstrap_servers="unused:9092")
stats = Stats()
router, decider, table = Router(settings, stats), Decider(settings, stats), {}

def send(i, to):
    value = json.dumps({"message_id": f"s{i}", "to": to, "body": "promo"}).encode()
    out = router.route(Origin(settings.outbound_topic, 0, i, 1_767_225_600_000), None, value)
    if out.topic == settings.routed_topic:
        decider.process(out.value, table)
    return out

for i in range(5_000):  # ordinary traffic first: the baseline includes warm caches
    send(i, f"+1415555{i % 10_000:04d}")
baseline = rss_mib()
filler = "5" * 60_000
for i in range(100_000):
    out = send(i, f"+1{i:07d}{filler}")
    assert out.topic == settings.suppressed_topic, out.topic
after = rss_mib()
print(json.dumps({"baseline_mib": baseline, "after_mib": after, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "suppressed": stats.snapshot()["suppressed"]}))
"""


def test_rss_after_100k_sends_with_distinct_60kb_recipients():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["suppressed"]["invalid_number"] == 100_000
    assert figures["after_mib"] - figures["baseline_mib"] <= 50, figures
