#!/usr/bin/env python3
"""Where the relay's CPU goes at several concurrencies (issue 23): the bench stack (bench/run.py),
one scenario, and for each number of connections
  - a clean wrk run: requests/s, p99, CPU per request split into crs user / crs kernel / redis,
    Redis commands per request;
  - a second run under `perf stat` counting syscalls per request (all, and the top ones by name);
  - a third under `perf record` (call graphs by DWARF unwinding) of the crs process: the top
    functions by self time, and the top crs:: functions by inclusive time.
Writes bench/results/<date>-profile-<label>.md.

  python3 bench/profile.py --label before [--scenario S1|S2] [--connections 1,64,256] [--seconds 8]
"""
import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bodies  # noqa: E402
from run import ROOT, Stack, fmt, run_wrk, target_url  # noqa: E402

SCENARIOS = {"S1": (False, {"deltas": 3}), "S2": (True, {"deltas": 20})}


def wrk(stack, body_file, connections, seconds):
    url, headers = target_url(stack, "relay")
    env = {**os.environ, "BENCH_BODY_FILE": body_file, "BENCH_HEADERS": headers}
    return subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                             "--timeout=30s", "-s", os.path.join(ROOT, "bench/wrk/post.lua"), url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def requests_done(out):
    return int(re.search(r"(\d+) requests in", out).group(1))


def syscalls_per_request(stack, body_file, connections, seconds, work):
    """perf stat over the whole wrk run, on the crs process: syscalls per request by name."""
    out_file = os.path.join(work, "stat.txt")
    p = wrk(stack, body_file, connections, seconds)
    perf = subprocess.Popen(["perf", "stat", "-x", ",", "-o", out_file, "-e", "syscalls:sys_enter_*", "-p",
                             str(stack.relay.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = p.communicate()[0]
    perf.send_signal(2)
    perf.wait()
    n = max(requests_done(out), 1)
    counts = {}
    for line in open(out_file):
        parts = line.strip().split(",")
        if len(parts) > 2 and parts[2].startswith("syscalls:sys_enter_") and parts[0].replace(".", "").isdigit():
            counts[parts[2][len("syscalls:sys_enter_"):]] = float(parts[0]) / n
    return counts


def perf_profile(stack, body_file, connections, seconds, work):
    data = os.path.join(work, f"perf-{connections}.data")
    p = wrk(stack, body_file, connections, seconds)
    time.sleep(1)
    subprocess.run(["perf", "record", "-q", "-F", "499", "--call-graph", "dwarf,16384", "-o", data, "-p",
                    str(stack.relay.pid), "--", "sleep", str(max(seconds - 3, 2))],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.communicate()

    def report(*extra):
        r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--percent-limit", "0.7", "--sort", "symbol",
                            "-g", "none", *extra], capture_output=True, text=True)
        rows = []
        for line in r.stdout.splitlines():
            m = re.match(r"^\s+([\d.]+)%\s+(?:([\d.]+)%\s+)?\[[.k]\]\s+(.*)$", line)
            if m:
                rows.append((float(m.group(1)), re.sub(r"(\s+-)*\s*$", "", m.group(3))[:110]))
        return rows

    self_rows = report("--no-children")[:30]
    inclusive = [r for r in report("--children") if "crs::" in r[1]][:25]
    return self_rows, inclusive


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--scenario", default="S1", choices=sorted(SCENARIOS))
    ap.add_argument("--connections", default="1,64,256")
    ap.add_argument("--seconds", type=int, default=8)
    args = ap.parse_args()
    stream, behavior = SCENARIOS[args.scenario]
    work = tempfile.mkdtemp(prefix="crs-profile-")
    body_file = os.path.join(work, "body.json")
    open(body_file, "w").write(make_bodies.small(stream))
    stack = Stack(work)
    sections = []
    out, head = heading(args)
    try:
        stack.start()
        stack.behave(behavior)
        run_wrk(stack, "relay", body_file, 16, 3)  # warm-up: connections to the upstream, caches
        for c in (int(x) for x in args.connections.split(",")):
            clean = run_wrk(stack, "relay", body_file, c, args.seconds)
            calls = syscalls_per_request(stack, body_file, c, args.seconds, work)
            self_rows, inclusive = perf_profile(stack, body_file, c, args.seconds, work)
            print(f"c={c}: {fmt(clean['rps'], 0)} req/s, {fmt(clean['us_user'] + clean['us_sys'] + clean['us_redis'], 1)}"
                  f" us/req, {fmt(sum(calls.values()), 1)} syscalls/req", flush=True)
            lines = [f"## {c} connections", "",
                     f"{fmt(clean['rps'], 0)} req/s, p99 {fmt(clean['p99'], 3)} ms. CPU per request: crs user "
                     f"{fmt(clean['us_user'], 1)} µs, crs kernel {fmt(clean['us_sys'], 1)} µs, redis-server "
                     f"{fmt(clean['us_redis'], 1)} µs (total {fmt(clean['us_user'] + clean['us_sys'] + clean['us_redis'], 1)});"
                     f" Redis commands per request {fmt(clean['redis_cmds'], 2)}.", "",
                     f"Syscalls per request (crs): {fmt(sum(calls.values()), 2)}", "",
                     "| syscall | per request |", "|---|---|"]
            lines += [f"| {name} | {fmt(v, 3)} |" for name, v in sorted(calls.items(), key=lambda kv: -kv[1])[:12]
                      if v >= 0.005]
            lines += ["", "Top functions by self time (crs, perf, % of its samples):", "", "| % | function |", "|---|---|"]
            lines += [f"| {p:.2f} | `{name}` |" for p, name in self_rows]
            lines += ["", "Top crs:: functions by inclusive time:", "", "| % | function |", "|---|---|"]
            lines += [f"| {p:.2f} | `{name}` |" for p, name in inclusive]
            sections.append("\n".join(lines) + "\n")
            open(out, "w").write(head + "\n" + "\n".join(sections))  # kept if a later step fails
    finally:
        stack.stop()
    print(f"wrote {out}")
    shutil.rmtree(work, ignore_errors=True)  # perf data: hundreds of MB


def heading(args):
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    date = datetime.datetime.utcnow().strftime("%Y-%m-%d")
    out = os.path.join(ROOT, "bench", "results", f"{date}-profile-{args.label}.md")
    head = (f"# Profile {args.label}: {args.scenario}, {date} (commit {commit})\n\n"
            f"`python3 bench/profile.py --label {args.label} --scenario {args.scenario} --connections "
            f"{args.connections} --seconds {args.seconds}`: the bench stack of bench/run.py (relay pinned to CPU 0 "
            "with its redis-server, wrk and the fake upstream on CPU 1, one I/O thread, a key with limits on). "
            "Each concurrency is run three times: clean (the CPU figures), under perf stat (syscalls), under "
            "perf record (functions).\n")
    return out, head


if __name__ == "__main__":
    main()
