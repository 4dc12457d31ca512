#!/usr/bin/env python3
"""The key export benchmark of issue 17: 100,000 keys exported as CSV, JSON and NDJSON.

Starts `crs serve` (embedded Redis) in a scratch directory, writes 100,000 keys (every third
with usage) straight into Redis, and runs each export through the admin API a few times while
sampling the relay's resident memory every 5 ms. Reports the median wall time from the request
to the task's end, the relay's CPU seconds, the file size and the peak RSS growth over the RSS
before the export. Writes bench/results/<date>-export.md. Run with `make bench-export`.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT  # noqa: E402
from bulk_relay import BulkRelay, cpu_s, rss_kb  # noqa: E402


def request(relay, method, path, body=None):
    return relay.request(method, path, body)[0]


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.005)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    relay = BulkRelay().start()
    try:
        print(f"writing {args.keys} keys ...", flush=True)
        relay.write_keys(args.keys)
        relay.login()
        pid = relay.process.pid
        results = []
        for fmt in ("csv", "json", "ndjson"):
            runs = []
            for _ in range(args.rounds):
                before, cpu_before = rss_kb(pid), cpu_s(pid)
                sampler = Sampler(pid)
                sampler.start()
                began = time.monotonic()
                task = json.loads(request(relay, "POST", "/admin/api-keys/export",
                                          {"format": fmt, "usage": {"totals": True}}))["data"]
                while task["state"] in ("queued", "running"):
                    time.sleep(0.01)
                    task = json.loads(request(relay, "GET", f"/admin/exports/{task['id']}"))["data"]
                took = time.monotonic() - began
                sampler.running = False
                sampler.join()
                cpu = cpu_s(pid) - cpu_before
                d0 = time.monotonic()
                body = request(relay, "GET", f"/admin/exports/{task['id']}/download")
                download = time.monotonic() - d0
                assert task["state"] == "done" and len(body) == task["size"], task
                runs.append({"s": took, "cpu": cpu, "growth": (sampler.peak - before) / 1024, "size": task["size"],
                             "download": download})
                request(relay, "DELETE", f"/admin/exports/{task['id']}")
            med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
            results.append((fmt, med("s"), med("cpu"), max(r["growth"] for r in runs), runs[0]["size"], med("download")))
            print(f"{fmt}: {results[-1]}", flush=True)
    finally:
        relay.stop()
    date = datetime.date.today().isoformat()
    lines = [f"# Key export benchmark, {date}", "",
             f"`python3 bench/export.py` (`make bench-export`): {args.keys} keys (every third with usage) in the "
             f"embedded Redis, exported with all-time usage through the admin API, {args.rounds} rounds each, "
             "default settings (`apiExport.batchSize` 100, 2 I/O threads). Peak RSS growth: the highest RSS sampled "
             "every 5 ms during the export minus the RSS just before it (the worst round).", "",
             "| format | wall time (median) | relay CPU (median) | file | peak RSS growth | download (median) |",
             "|---|---|---|---|---|---|"]
    for fmt, s, cpu, growth, size, dl in results:
        lines.append(f"| {fmt} | {s:.2f} s | {cpu:.2f} s | {size / 1e6:.1f} MB | {growth:.1f} MB | {dl:.2f} s |")
    out = os.path.join(ROOT, "bench", "results", f"{date}-export.md")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
