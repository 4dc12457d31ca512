#!/usr/bin/env python3
"""What the /metrics counters cost on the hot path, in instructions (callgrind: stable on a noisy
machine). Runs the bench stack (bench/run.py) with `crs serve` under callgrind and N small
non-streaming requests; run it with two N and subtract to get the instructions per request, and
read the inclusive cost of crs::metrics:: functions the same way:

  python3 bench/callgrind_metrics.py 100; python3 bench/callgrind_metrics.py 400
  callgrind_annotate --inclusive=yes <dir>/cg.out | grep 'crs::metrics::'

With --keep-alive the requests share one connection, as a client's do (without it each
request opens its own, and the connection's setup and the key's digest are counted too);
bench/callgrind_breakdown.py sums two such runs by library.
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
keep_alive = "--keep-alive" in sys.argv
if keep_alive:
    sys.argv.remove("--keep-alive")
    import http.client as http_client
    conn = http_client.HTTPConnection("127.0.0.1", s.relay_port, timeout=60)
def one():
    if not keep_alive:
        return http("POST", s.relay_port, "/v1/messages", body, hdr)
    conn.request("POST", "/v1/messages", body=body, headers=hdr)
    r = conn.getresponse()
    data = r.read()
    assert r.status == 200, (r.status, data[:200])
    return data
for _ in range(30): one()

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
for _ in range(N): one()

time.sleep(2)
s.stop()
print(work)
