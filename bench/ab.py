#!/usr/bin/env python3
"""Two builds under the same load, alternated round by round (A B, B A, ...): the relay's CPU per
request (crs + its redis-server) of each run and their medians. On this machine one binary's CPU
per request ranges over +-20 % from run to run, so a change is judged on many alternated runs,
not on two bench files.

  python3 bench/ab.py --a /tmp/before --b build [--scenario S1|S2] [--connections 64] [--rounds 9]

Each directory holds `crs` and `fake-upstream` (copy them from build/ before a change).
"""
import argparse, os, statistics, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bodies
import run


def one(build, stream, connections, seconds):
    run.BUILD = build
    work = tempfile.mkdtemp(prefix="crs-ab-")
    body = os.path.join(work, "body.json")
    open(body, "w").write(make_bodies.small(stream))
    stack = run.Stack(work)
    try:
        stack.start()
        stack.behave({"deltas": 20 if stream else 3})
        run.run_wrk(stack, "relay", body, 16, 3)  # warm-up
        r = run.run_wrk(stack, "relay", body, connections, seconds)
        return r["rps"], r["us_user"] + r["us_sys"] + r["us_redis"]
    finally:
        stack.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--scenario", choices=["S1", "S2"], default="S1")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--seconds", type=int, default=8)
    args = ap.parse_args()
    cpu = {"a": [], "b": []}
    for i in range(args.rounds):
        for label in ("a", "b") if i % 2 == 0 else ("b", "a"):
            rps, us = one(os.path.abspath(getattr(args, label)), args.scenario == "S2", args.connections, args.seconds)
            cpu[label].append(us)
            print(f"round {i + 1} {label}: {rps:,.0f} req/s, {us:.1f} us CPU per request", flush=True)
    for label in ("a", "b"):
        values = ", ".join(f"{v:.1f}" for v in cpu[label])
        print(f"{label} ({getattr(args, label)}): median {statistics.median(cpu[label]):.1f} us  [{values}]")


if __name__ == "__main__":
    main()
