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
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import BUILD, ROOT, CLK, free_port, wait_port  # noqa: E402


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def request(port, method, path, token, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read()


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
    work = tempfile.mkdtemp(prefix="crs-export-bench-")
    port, redis_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "REDIS_EMBEDDED_PORT": str(redis_port),
           "WORKERS": "2", "LOG_LEVEL": "warn"}
    for k in ("REDIS_HOST", "REDIS_URL", "ENCRYPTION_KEY", "JWT_SECRET"):
        env.pop(k, None)
    relay = subprocess.Popen([f"{BUILD}/crs", "serve"], cwd=work, env=env,
                             stdout=open(os.path.join(work, "relay.log"), "wb"), stderr=subprocess.STDOUT)
    try:
        wait_port(port)
        time.sleep(0.5)
        secrets = open(os.path.join(work, "data", "secrets.env")).read()
        password = re.search(r"^REDIS_EMBEDDED_PASSWORD=(.*)$", secrets, re.M).group(1).strip()
        print(f"writing {args.keys} keys ...", flush=True)
        blob = []
        for i in range(args.keys):
            kid = str(uuid.uuid4())
            digest = os.urandom(32).hex()
            blob.append(resp("HSET", f"apikey:{kid}", "id", kid, "name", f'key {i}, "n"', "apiKey", digest,
                             "isActive", "true", "createdAt", "2026-01-01T00:00:00.000Z", "tags", '["bulk"]'))
            blob.append(resp("HSET", "apikey:hash_map", digest, kid))
            blob.append(resp("ZADD", "apikey:idx:createdAt", str(1767225600000 + i), kid))
            if i % 3 == 0:
                blob.append(resp("HSET", f"usage:{kid}", "totalRequests", str(i % 97 + 1),
                                 "totalCostMicro", str(i)))
        subprocess.run(["redis-cli", "--no-auth-warning", "-p", str(redis_port), "-a", password, "--pipe"],
                       input=b"".join(blob), check=True, capture_output=True)
        init = json.load(open(os.path.join(work, "data", "init.json")))
        login = urllib.request.Request(f"http://127.0.0.1:{port}/web/auth/login", method="POST",
                                       data=json.dumps({"username": init["adminUsername"],
                                                        "password": init["adminPassword"]}).encode(),
                                       headers={"content-type": "application/json"})
        token = json.loads(urllib.request.urlopen(login).read())["token"]
        results = []
        for fmt in ("csv", "json", "ndjson"):
            runs = []
            for _ in range(args.rounds):
                before, cpu_before = rss_kb(relay.pid), cpu_s(relay.pid)
                sampler = Sampler(relay.pid)
                sampler.start()
                began = time.monotonic()
                task = json.loads(request(port, "POST", "/admin/api-keys/export", token,
                                          {"format": fmt, "usage": {"totals": True}}))["data"]
                while task["state"] in ("queued", "running"):
                    time.sleep(0.01)
                    task = json.loads(request(port, "GET", f"/admin/exports/{task['id']}", token))["data"]
                took = time.monotonic() - began
                sampler.running = False
                sampler.join()
                cpu = cpu_s(relay.pid) - cpu_before
                d0 = time.monotonic()
                body = request(port, "GET", f"/admin/exports/{task['id']}/download", token)
                download = time.monotonic() - d0
                assert task["state"] == "done" and len(body) == task["size"], task
                runs.append({"s": took, "cpu": cpu, "growth": (sampler.peak - before) / 1024, "size": task["size"],
                             "download": download})
                request(port, "DELETE", f"/admin/exports/{task['id']}", token)
            med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
            results.append((fmt, med("s"), med("cpu"), max(r["growth"] for r in runs), runs[0]["size"], med("download")))
            print(f"{fmt}: {results[-1]}", flush=True)
    finally:
        relay.terminate()
        relay.wait(timeout=20)
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
