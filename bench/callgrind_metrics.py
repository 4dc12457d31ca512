#!/usr/bin/env python3
"""What the /metrics counters cost on the hot path, in instructions (callgrind: stable on a noisy
machine). Runs the bench stack (bench/run.py) with `crs serve` under callgrind and N small
non-streaming requests; run it with two N and subtract to get the instructions per request, and
read the inclusive cost of crs::metrics:: functions the same way:

  python3 bench/callgrind_metrics.py 100; python3 bench/callgrind_metrics.py 400
  callgrind_annotate --inclusive=yes <dir>/cg.out | grep 'crs::metrics::'
"""
import os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run
from run import Stack, http
import make_bodies

orig_spawn = Stack.spawn
def spawn(self, cpu, argv, env=None, log="x.log"):
    if argv[0].endswith("/crs") and argv[1:] == ["serve"]:
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.work}/cg.out"] + argv
    return orig_spawn(self, cpu, argv, env, log)
Stack.spawn = spawn
run.wait_port.__defaults__ = (120,)

work = tempfile.mkdtemp(prefix="crs-cg-")
s = Stack(work)
s.start()
body = make_bodies.small(False)
hdr = {"x-api-key": s.key, "content-type": "application/json", "anthropic-version": "2023-06-01"}
def one():
    r = http("POST", s.relay_port, "/v1/messages", body, hdr)
    return r
for _ in range(30): one()

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
for _ in range(N): one()

time.sleep(2)
s.stop()
print(work)
