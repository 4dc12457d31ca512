#!/usr/bin/env python3
"""The admin-read benchmark of issue 18: listing 20,000 keys with and without the query optimizer.

One relay (embedded Redis) holds 20,000 keys (every third with usage). For each setting it is
restarted with that configuration, and GET /admin/api-keys?pageSize=100 is timed (every key is
read to filter and sort; the page's usage is read too). With the cache off the time is the reads;
with it on, the second and later answers are cache hits. Reports the median over the rounds and
the relay's CPU seconds per listing, and the Redis reads counted by Redis (INFO stats).
Writes bench/results/<date>-admin-reads.md. Run with `make bench-admin-reads`.
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT  # noqa: E402
from bulk_relay import BulkRelay, cpu_s  # noqa: E402

SETTINGS = [
    ("optimizer on (defaults: pipelineSize 50, batchSize 100, maxConcurrency 10), cache off",
     "[queryOptimizer.cache]\nenabled = false\n"),
    ("optimizer on, pipelineSize 500, batchSize 1000, maxConcurrency 4, cache off",
     "[queryOptimizer]\npipelineSize = 500\nbatchSize = 1000\nmaxConcurrency = 4\n[queryOptimizer.cache]\nenabled = false\n"),
    ("optimizer off (one command per round trip), cache off",
     "[queryOptimizer]\nenabled = false\n[queryOptimizer.cache]\nenabled = false\n"),
    ("optimizer on, cache on (answers after the first are hits)", ""),
]


def redis_reads(relay):
    secrets = open(os.path.join(relay.work, "data", "secrets.env")).read()
    password = re.search(r"^REDIS_EMBEDDED_PASSWORD=(.*)$", secrets, re.M).group(1).strip()
    out = subprocess.run(["redis-cli", "--no-auth-warning", "-p", str(relay.redis_port), "-a", password, "INFO", "stats"],
                         capture_output=True, text=True, check=True).stdout
    return int(re.search(r"total_reads_processed:(\d+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    relay = BulkRelay()
    results = []
    try:
        relay.start()
        print(f"writing {args.keys} keys ...", flush=True)
        relay.write_keys(args.keys)
        for name, config in SETTINGS:
            relay.stop()
            with open(os.path.join(relay.work, "config", "config.toml"), "w") as f:
                f.write(config)
            relay.start()
            relay.login()
            relay.request("GET", "/admin/api-keys?pageSize=100")  # warm: connections, and the cache's entry
            times, cpus, reads = [], [], []
            for _ in range(args.rounds):
                c0, r0, t0 = cpu_s(relay.process.pid), redis_reads(relay), time.monotonic()
                body, headers = relay.request("GET", "/admin/api-keys?pageSize=100")
                times.append(time.monotonic() - t0)
                cpus.append(cpu_s(relay.process.pid) - c0)
                reads.append(redis_reads(relay) - r0 - 1)  # less the INFO itself
                assert b'"total":%d' % args.keys in body, body[:200]
            results.append((name, statistics.median(times), statistics.median(cpus), statistics.median(reads),
                            headers.get("x-crs-query-cache")))
            print(results[-1], flush=True)
    finally:
        relay.stop()
    base = results[0][1]
    date = datetime.date.today().isoformat()
    lines = [f"# Admin reads benchmark, {date}", "",
             f"`python3 bench/admin_reads.py` (`make bench-admin-reads`): {args.keys} keys (every third with usage) "
             "in the embedded Redis; `GET /admin/api-keys?pageSize=100` (every key read, filtered and sorted, the "
             f"page's usage read), {args.rounds} rounds per setting after one warm-up, 2 I/O threads. Redis reads: "
             "`total_reads_processed` of `INFO stats` over one listing (the relay's background loops add a few).", "",
             "| setting | listing (median) | vs default | relay CPU (median) | Redis reads | cache |",
             "|---|---|---|---|---|---|"]
    for name, t, cpu, reads, cache in results:
        lines.append(f"| {name} | {t * 1000:.1f} ms | {t / base:.2f}x | {cpu * 1000:.0f} ms | {reads:.0f} | {cache} |")
    out = os.path.join(ROOT, "bench", "results", f"{date}-admin-reads.md")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
