#!/usr/bin/env python3
"""The benchmark of issue 4: the relay against a plain nginx proxy and a direct call, interleaved.

System under test (the relay and its Redis, or nginx) on CPU 0; wrk and the fake upstream on CPU 1.
Writes bench/results/<date>.md and PNG charts. Run with `make bench` (or bench/run.py --quick).
"""
import argparse
import datetime
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import make_bodies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CRS_BENCH_BUILD", os.path.join(ROOT, "build"))  # where crs and fake-upstream are
CLK = os.sysconf("SC_CLK_TCK")
ACCOUNTS = 4
ACCOUNT_KEY = "sk-ant-api03-bench-account-key-000000"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def http(method, port, path, body=None, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode() if body else None,
                                 method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def cpu_times(pid):
    """(user, system) CPU seconds of one process, from /proc."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLK, int(fields[12]) / CLK
    except OSError:
        return 0.0, 0.0


def cpu_seconds(pids):
    return sum(sum(cpu_times(pid)) for pid in pids)


def proc_mb(pids, file, field):
    """A memory figure of /proc/<pid>/<file> (kB), summed over the processes, in MB."""
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/{file}"):
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def rss_mb(pids):
    return proc_mb(pids, "status", "VmRSS:")


def anon_mb(pids):
    """Anonymous memory (the process's own pages: heap, stacks, copied-on-write data), without
    the shared library and binary pages RSS counts in full for every process."""
    return proc_mb(pids, "smaps_rollup", "Anonymous:")


def children(pid):
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


class Stack:
    """fake upstream + nginx + crs serve (with its embedded Redis), pinned."""

    def __init__(self, work):
        self.work = work
        self.procs = []
        self.fake_port, self.nginx_port, self.relay_port, self.redis_port = (free_port() for _ in range(4))

    def spawn(self, cpu, argv, env=None, log="x.log"):
        out = open(os.path.join(self.work, log), "ab")
        p = subprocess.Popen(["taskset", "-c", str(cpu)] + argv, cwd=self.work, stdout=out, stderr=subprocess.STDOUT,
                             env={**os.environ, **(env or {})})
        self.procs.append(p)
        return p

    def start(self):
        self.fake = self.spawn(1, [f"{BUILD}/fake-upstream", "--port", str(self.fake_port), "--threads", "1",
                                   "--no-record"], log="fake.log")
        wait_port(self.fake_port)
        conf = os.path.join(self.work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
master_process on;
pid {self.work}/nginx.pid;
error_log {self.work}/nginx-error.log warn;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  upstream fake {{ server 127.0.0.1:{self.fake_port}; keepalive 256; }}
  server {{
    listen 127.0.0.1:{self.nginx_port} backlog=4096;
    location / {{
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering on;
      proxy_read_timeout 300s;
    }}
  }}
}}
""")
        self.nginx = self.spawn(0, ["nginx", "-c", conf, "-p", self.work], log="nginx.log")
        wait_port(self.nginx_port)
        env = {"PORT": str(self.relay_port), "HOST": "127.0.0.1", "REDIS_EMBEDDED_PORT": str(self.redis_port),
               "WORKERS": "1", "LOG_LEVEL": "warn"}
        if os.environ.get("CRS_BENCH_PRELOAD"):  # to try another allocator without a rebuild
            env["LD_PRELOAD"] = os.environ["CRS_BENCH_PRELOAD"]
        for k in ("REDIS_HOST", "REDIS_URL", "ENCRYPTION_KEY", "JWT_SECRET"):
            os.environ.pop(k, None)
        self.relay_env = env
        self.relay = self.spawn(0, [f"{BUILD}/crs", "serve"], env=env, log="relay.log")
        wait_port(self.relay_port)
        time.sleep(0.5)
        # Limits on, none of them reached: every request passes admission and completion.
        out = self.cli(["keys", "create", "--name", "bench", "--json", "--concurrency", "100000", "--rate-window",
                        "60", "--rate-requests", "1000000000", "--daily-cost", "1000000", "--total-cost",
                        "100000000"])
        self.key = json.loads(out)["key"]
        # Four accounts on the fake upstream, scheduled with the default configuration:
        # loadBalancing.defaultStrategy = balanced, sticky sessions on (stickyTtl 1 h).
        for i in range(ACCOUNTS):
            self.cli(["accounts", "add", "--type", "claude-console", "--name", f"fake-{i}", "--base-url",
                      f"http://127.0.0.1:{self.fake_port}", "--api-key", f"{ACCOUNT_KEY}-{i}"])
        time.sleep(0.5)

    def cli(self, args):
        return subprocess.run([f"{BUILD}/crs"] + args, cwd=self.work, env={**os.environ, **self.relay_env},
                              capture_output=True, text=True, check=True).stdout

    def pids(self, target):
        if target == "relay":
            return [self.relay.pid] + children(self.relay.pid)
        if target == "nginx":
            return [self.nginx.pid] + children(self.nginx.pid)
        return [self.fake.pid]

    def redis_calls(self):
        # The embedded redis-server has a password (in the relay's data/secrets.env).
        secrets = open(os.path.join(self.work, "data", "secrets.env")).read()
        password = re.search(r"^REDIS_EMBEDDED_PASSWORD=(.*)$", secrets, re.M).group(1).strip()
        out = subprocess.run(["redis-cli", "--no-auth-warning", "-p", str(self.redis_port), "-a", password, "INFO",
                              "commandstats"], capture_output=True, text=True).stdout
        return sum(int(m) for m in re.findall(r"calls=(\d+)", out))

    def behave(self, behavior):
        http("POST", self.fake_port, "/_fake/reset")
        http("POST", self.fake_port, "/_fake/behaviors", json.dumps({"credential": "*", "behavior": behavior}))

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def target_url(stack, target):
    if target == "direct":
        return f"http://127.0.0.1:{stack.fake_port}/v1/messages", f"x-api-key: {ACCOUNT_KEY}"
    if target == "nginx":
        return f"http://127.0.0.1:{stack.nginx_port}/v1/messages", f"x-api-key: {ACCOUNT_KEY}"
    return f"http://127.0.0.1:{stack.relay_port}/api/v1/messages", f"x-api-key: {stack.key}"


def parse_wrk(out):
    def latency_ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                    r"timeout (\d+)"):
        m = re.search(pattern, out)
        if m:
            errors += sum(int(g) for g in m.groups())
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "requests": requests,
            "p50": latency_ms("50"), "p90": latency_ms("90"), "p99": latency_ms("99"), "errors": errors}


def run_wrk(stack, target, body_file, connections, seconds, timeout="30s"):
    url, headers = target_url(stack, target)
    pids = stack.pids(target) if target != "direct" else []
    cpu0, calls0 = cpu_seconds(pids), stack.redis_calls() if target == "relay" else 0
    parts0 = {pid: cpu_times(pid) for pid in pids}
    peak = [rss_mb(pids)]
    env = {**os.environ, "BENCH_BODY_FILE": body_file, "BENCH_HEADERS": headers}
    p = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          f"--timeout={timeout}", "-s", os.path.join(ROOT, "bench/wrk/post.lua"), url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    while p.poll() is None:
        peak.append(rss_mb(pids))
        time.sleep(0.25)
    out = p.stdout.read()
    result = parse_wrk(out)
    cpu = cpu_seconds(pids) - cpu0
    result["cpu_per_10k"] = cpu / max(result["requests"], 1) * 10000 if pids else None
    result["cpu_s"] = cpu if pids else None
    # Where the CPU goes, in microseconds per request: the proxy process in user and kernel
    # mode (nginx: master + worker), and the relay's redis-server.
    if pids:
        per = 1e6 / max(result["requests"], 1)
        delta = {pid: tuple(b - a for a, b in zip(parts0[pid], cpu_times(pid))) for pid in pids}
        proxy = [pid for pid in pids if target == "nginx" or pid == stack.relay.pid]
        result["us_user"] = sum(delta[pid][0] for pid in proxy) * per
        result["us_sys"] = sum(delta[pid][1] for pid in proxy) * per
        result["us_redis"] = sum(sum(delta[pid]) for pid in pids if pid not in proxy) * per if target == "relay" else None
    result["rss_peak"] = max(peak) if pids else None
    if target == "relay":
        result["redis_cmds"] = (stack.redis_calls() - calls0 - 1) / max(result["requests"], 1)
    return result


def ttfb_once(stack, target, body):
    """Milliseconds to the first SSE event of one request on a fresh connection."""
    url, headers = target_url(stack, target)
    host, rest = url[len("http://"):].split("/", 1)
    port = int(host.split(":")[1])
    name, value = headers.split(": ", 1)
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = (f"POST /{rest} HTTP/1.1\r\nHost: x\r\n{name}: {value}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode()
    t0 = time.perf_counter()
    s.sendall(req)
    got = b""
    while b"event: message_start" not in got:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    elapsed = (time.perf_counter() - t0) * 1000
    s.close()
    return elapsed


def ttfb(stack, targets, body, n):
    """Median time to the first SSE event per target, sequential requests. The targets take
    turns request by request, so a burst of noise on this shared host hits all of them."""
    times = {t: [] for t in targets}
    for _ in range(n):
        for t in targets:
            times[t].append(ttfb_once(stack, t, body))
    return {t: statistics.median(v) for t, v in times.items()}


def median_of(results, key):
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=2):
    return "-" if v is None else f"{v:,.{digits}f}"


def table(title, rows, note=""):
    lines = [f"### {title}", "", note, "",
             "| target | req/s | p50 ms | p90 ms | p99 ms | errors | CPU s / 10k req | peak RSS MB | Redis cmds/req |",
             "|---|---|---|---|---|---|---|---|---|"]
    for target, r in rows.items():
        lines.append(f"| {target} | {fmt(r['rps'], 0)} | {fmt(r['p50'], 3)} | {fmt(r['p90'], 3)} | {fmt(r['p99'], 3)} "
                     f"| {r['errors']} | {fmt(r.get('cpu_per_10k'), 3)} | {fmt(r.get('rss_peak'), 1)} "
                     f"| {fmt(r.get('redis_cmds'), 2)} |")
    relay, nginx, direct = rows.get("relay"), rows.get("nginx"), rows.get("direct")
    if relay and nginx:
        ratio = lambda k: (relay[k] / nginx[k]) if relay.get(k) and nginx.get(k) else None
        lines += ["", f"relay/nginx: throughput {fmt(ratio('rps'))}x, CPU per request {fmt(ratio('cpu_per_10k'))}x, "
                      f"p99 {fmt(ratio('p99'))}x"]
    if relay and direct and relay.get("p99") and direct.get("p99"):
        lines.append(f"relay/direct: throughput {fmt(relay['rps'] / direct['rps'])}x, added p50 "
                     f"{fmt(relay['p50'] - direct['p50'], 3)} ms, added p99 {fmt(relay['p99'] - direct['p99'], 3)} ms")
    return "\n".join(lines) + "\n"


def scenario(stack, name, body_file, behavior, connections, seconds, rounds, targets=("direct", "nginx", "relay")):
    stack.behave(behavior)
    per_target = {t: [] for t in targets}
    for _ in range(rounds):  # interleaved: A B C A B C ...
        for t in targets:
            per_target[t].append(run_wrk(stack, t, body_file, connections, seconds))
    agg = {}
    for t, results in per_target.items():
        agg[t] = {k: median_of(results, k) for k in ("rps", "p50", "p90", "p99", "cpu_per_10k", "rss_peak",
                                                      "redis_cmds", "us_user", "us_sys", "us_redis")}
        agg[t]["errors"] = sum(r["errors"] for r in results)
    print(f"{name}: " + ", ".join(f"{t} {fmt(r['rps'], 0)} req/s p99 {fmt(r['p99'], 3)} ms" for t, r in agg.items()),
          flush=True)
    return agg


def targets_section(sweep, ttfb_ms, idle_rss, open_streams, rss_after, redis_cmds):
    """Issue 23's targets, each with the measured value and whether it is met."""
    rows = []

    def check(name, value, limit, ok):
        rows.append(f"| {name} | {value} | {limit} | {'met' if ok else 'NOT MET'} |")

    def cpu(label, c, target):
        return sweep[(label, c)][target]["cpu_per_10k"]

    for label, limit in (("S1", 1.5), ("S2", 1.0)):
        for c in (1, 64, 256):
            r = cpu(label, c, "relay") / cpu(label, c, "nginx")
            check(f"{label} CPU per request vs nginx, {c} connections", f"{r:.2f}x", f"<= {limit}x", r <= limit)
        growth = cpu(label, 256, "relay") / cpu(label, 64, "relay") - 1
        check(f"{label} CPU per request, 256 vs 64 connections", f"{growth * 100:+.0f} %", "<= +10 %", growth <= 0.10)
        r = sweep[(label, 256)]["relay"]["p99"] / sweep[(label, 256)]["nginx"]["p99"]
        check(f"{label} p99 vs nginx at 256 connections", f"{r:.2f}x", "<= 1.5x", r <= 1.5)
    added = sweep[("S1", 1)]["relay"]["p99"] - sweep[("S1", 1)]["nginx"]["p99"]
    check("S1 p99 at 1 connection over nginx's", f"{added:+.3f} ms", "<= +0.15 ms", added <= 0.15)
    added = ttfb_ms["relay"] - ttfb_ms["nginx"]
    check("S6 time to first byte over nginx's", f"{added:+.3f} ms", "<= +0.1 ms", added <= 0.1)
    check("Redis commands per relayed request (limits on, incl. aggregation)", f"{redis_cmds:.2f}", "<= 4",
          redis_cmds <= 4)
    check("idle RSS (crs + redis-server)", f"{idle_rss['relay']:.1f} MB (anonymous {idle_rss['relay_anon']:.1f} MB)",
          "<= 16 MB", idle_rss["relay"] <= 16)
    most = max(open_streams)
    r = open_streams[most]["relay"]
    check(f"{most} open streams: peak RSS, errors", f"{r['rss_peak']:.1f} MB, {r['errors']} errors", "<= 100 MB, 0",
          r["rss_peak"] <= 100 and r["errors"] == 0)
    back = rss_after[-1][1] / idle_rss["relay"] - 1
    check("RSS 60 s after the load vs idle", f"{rss_after[-1][1]:.1f} MB ({back * 100:+.0f} %)", "<= +20 %", back <= 0.20)
    return ("### Targets (issue 23)\n\n| target | measured | limit | verdict |\n|---|---|---|---|\n" + "\n".join(rows) +
            "\n")


def streams_opened_one_by_one(stack, target, body, n):
    """Claude-Code-sized streams opened one by one (10 ms apart) and held open: the target's RSS
    growth per open stream, which shows whether an open stream keeps its request's body."""
    port = stack.nginx_port if target == "nginx" else stack.relay_port
    pids = stack.pids(target)
    base, peak, socks, started = rss_mb(pids), 0, [], 0
    head = (f"POST /v1/messages HTTP/1.1\r\nHost: bench\r\nx-api-key: {stack.key}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n").encode()
    try:
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(head + body)
            socks.append(s)
            time.sleep(0.01)
            if i % 20 == 0:
                peak = max(peak, rss_mb(pids))
        time.sleep(2)
        peak = max(peak, rss_mb(pids))
        for s in socks:
            s.settimeout(5)
            try:
                started += s.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                pass
    finally:
        for s in socks:
            s.close()
    time.sleep(3)  # the upstream streams end as their clients left
    return {"base": base, "peak": peak, "per_stream_kb": (peak - base) * 1024 / n, "started": started}


def s5b(work, n):
    """S5b on a stack of its own: nginx (glibc) keeps what the earlier loads grew, and new bodies
    would fill that without growing its RSS."""
    os.makedirs(os.path.join(work, "s5b"), exist_ok=True)
    stack = Stack(os.path.join(work, "s5b"))
    try:
        stack.start()
        stack.behave({"deltas": 30, "dripMs": 1000})
        body = make_bodies.claude_code().encode()
        result = {t: streams_opened_one_by_one(stack, t, body, n) for t in ("nginx", "relay")}
    finally:
        stack.stop()
    print("S5b: " + ", ".join(f"{t} +{fmt(v['per_stream_kb'], 0)} KB per stream" for t, v in result.items()), flush=True)
    return result


def rss_after_load(stack, seconds=60):
    """The relay's RSS (crs + redis-server) each second for `seconds` after a load ends."""
    samples, start = [], time.time()
    while time.time() - start < seconds:
        samples.append((round(time.time() - start), rss_mb(stack.pids("relay"))))
        time.sleep(1)
    samples.append((seconds, rss_mb(stack.pids("relay")), anon_mb(stack.pids("relay"))))
    return samples


def cpu_breakdown(scenarios):
    """Where the CPU of a request goes (medians, microseconds): the proxy in user and kernel mode,
    and for the relay its redis-server."""
    lines = ["### Where the CPU goes (µs per request)", "",
             "| scenario | nginx user | nginx kernel | crs user | crs kernel | redis-server | relay total / nginx total |",
             "|---|---|---|---|---|---|---|"]
    for name, s in scenarios.items():
        n, r = s["nginx"], s["relay"]
        if n.get("us_user") is None or r.get("us_user") is None:
            continue
        nt, rt = n["us_user"] + n["us_sys"], r["us_user"] + r["us_sys"] + (r["us_redis"] or 0)
        lines.append(f"| {name} | {fmt(n['us_user'], 1)} | {fmt(n['us_sys'], 1)} | {fmt(r['us_user'], 1)} | "
                     f"{fmt(r['us_sys'], 1)} | {fmt(r['us_redis'], 1)} | {fmt(rt / nt if nt else None)}x |")
    return "\n".join(lines) + "\n"


def chart(path, title, ylabel, series, xlabel="connections", logx=True):
    data = path + ".dat"
    with open(data, "w") as f:
        for name, points in series.items():
            f.write(f"# {name}\n")
            for x, y in points:
                f.write(f"{x} {y}\n")
            f.write("\n\n")
    plots = ", ".join(f"'{data}' index {i} with linespoints title '{name}'" for i, name in enumerate(series))
    script = (f"set terminal pngcairo size 800,480; set output '{path}'; set title '{title}'; set xlabel '{xlabel}';"
              f"set ylabel '{ylabel}'; set grid; set key left top; {'set logscale x 2;' if logx else ''} plot {plots}")
    subprocess.run(["gnuplot", "-e", script], check=False)
    os.remove(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short runs (a smoke test of the harness)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--label", default="", help="names the results: bench/results/<date>-<label>.md and its charts")
    args = ap.parse_args()
    rounds, seconds = (1, 2) if args.quick else (args.rounds, args.seconds)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 5,000 streams need ~10,000 descriptors
    work = tempfile.mkdtemp(prefix="crs-bench-")
    stack = Stack(work)
    date = datetime.datetime.utcnow().strftime("%Y-%m-%d")
    results_dir = os.path.join(ROOT, "bench", "results")
    os.makedirs(results_dir, exist_ok=True)
    small, small_stream = os.path.join(work, "small.json"), os.path.join(work, "small-stream.json")
    cc = os.path.join(work, "claude-code.json")
    open(small, "w").write(make_bodies.small(False))
    open(small_stream, "w").write(make_bodies.small(True))
    open(cc, "w").write(make_bodies.claude_code())
    report = []
    try:
        stack.start()
        idle_rss = {"relay": rss_mb(stack.pids("relay")), "nginx": rss_mb(stack.pids("nginx")),
                    "relay_anon": anon_mb(stack.pids("relay")), "nginx_anon": anon_mb(stack.pids("nginx"))}
        s1 = scenario(stack, "S1", small, {"deltas": 3}, 16, seconds, rounds)
        s2 = scenario(stack, "S2", small_stream, {"deltas": 20}, 16, seconds, rounds)
        s3 = scenario(stack, "S3", cc, {"deltas": 20}, 16, seconds, rounds)
        sweep = {}
        for name, body, behavior in (("S1", small, {"deltas": 3}), ("S2", small_stream, {"deltas": 20})):
            for c in (1, 16, 64, 256):
                sweep[(name, c)] = scenario(stack, f"{name} c={c}", body, behavior, c, seconds, rounds)
        stack.behave({"deltas": 20, "firstEventDelayMs": 200})
        ttfb_ms = ttfb(stack, ("direct", "nginx", "relay"), make_bodies.small(True), 5 if args.quick else 60)
        open_streams = {}
        for c in ((200, 1000) if args.quick else (1000, 2500, 5000)):
            stack.behave({"deltas": 27, "dripMs": 1000})
            r = {t: run_wrk(stack, t, small_stream, c, 10 if args.quick else 32, timeout="60s")
                 for t in ("nginx", "relay")}
            open_streams[c] = r
            print(f"S5 c={c}: " + ", ".join(f"{t} peak RSS {fmt(v['rss_peak'], 1)} MB errors {v['errors']}"
                                             for t, v in r.items()), flush=True)
        rss_after = rss_after_load(stack, 10 if args.quick else 60)
    finally:
        stack.stop()
    cc_streams = 100 if args.quick else 300
    one_by_one = s5b(work, cc_streams)

    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    versions = {
        "crs": subprocess.run([f"{BUILD}/crs", "--version"], capture_output=True, text=True).stdout.strip(),
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0],
        "redis": subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip(),
    }
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    report.append(f"# Benchmark {date} (commit {commit})\n")
    report.append(f"Machine: {os.cpu_count()} cores ({cpu}), {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB. "
                  f"System under test pinned to CPU 0, wrk and the fake upstream to CPU 1. "
                  f"{rounds} interleaved rounds of {seconds} s per target, medians. Versions: "
                  + "; ".join(f"{k}: {v}" for k, v in versions.items()) + ".\n")
    report.append(f"Relay: a key with counted limits (none reached), {ACCOUNTS} Console accounts on the fake upstream, "
                  "the default configuration: loadBalancing.defaultStrategy balanced, sticky sessions on.\n")
    report.append("CPU = user+system seconds of the proxy's processes (relay: crs + its redis-server; nginx: master "
                  "+ worker) per 10,000 requests, from /proc. Throughput on this shared machine is noisy; CPU per "
                  "request is the figure to trust.\n")
    report.append(f"Idle RSS: relay (crs + redis-server) {fmt(idle_rss['relay'], 1)} MB, nginx {fmt(idle_rss['nginx'], 1)} MB; "
                  f"of it anonymous (private) memory: relay {fmt(idle_rss['relay_anon'], 1)} MB, nginx "
                  f"{fmt(idle_rss['nginx_anon'], 1)} MB (the rest is pages of the binaries and shared libraries).\n")
    report.append(table("S1: small non-streaming request, 16 connections", s1))
    report.append(table("S2: streaming, 20 content_block_delta events, 16 connections", s2))
    report.append(table("S3: Claude-Code-sized 200 KB body, streaming, 16 connections", s3))
    report.append(cpu_breakdown({"S1": s1, "S2": s2, "S3": s3}))
    for name in ("S1", "S2"):
        report.append(f"### S4: {name} concurrency sweep\n\n| connections | direct req/s | nginx req/s | relay req/s | "
                      f"relay/nginx | nginx p99 ms | relay p99 ms | nginx CPU µs/req | relay CPU µs/req | relay/nginx CPU |"
                      f"\n|---|---|---|---|---|---|---|---|---|---|")
        for c in (1, 16, 64, 256):
            r = sweep[(name, c)]
            n_cpu, r_cpu = r["nginx"]["cpu_per_10k"] * 100, r["relay"]["cpu_per_10k"] * 100
            report.append(f"| {c} | {fmt(r['direct']['rps'], 0)} | {fmt(r['nginx']['rps'], 0)} | {fmt(r['relay']['rps'], 0)} "
                          f"| {fmt(r['relay']['rps'] / r['nginx']['rps'])} | {fmt(r['nginx']['p99'], 3)} | {fmt(r['relay']['p99'], 3)} "
                          f"| {fmt(n_cpu, 1)} | {fmt(r_cpu, 1)} | {fmt(r_cpu / n_cpu)}x |")
        report.append("")
    report.append("### S5: open streams dripping one event per second\n\n| open streams | nginx peak RSS MB | relay peak RSS MB "
                  "| nginx errors | relay errors | relay CPU s (whole run) |\n|---|---|---|---|---|---|")
    for c, r in open_streams.items():
        report.append(f"| {c} | {fmt(r['nginx']['rss_peak'], 1)} | {fmt(r['relay']['rss_peak'], 1)} | {r['nginx']['errors']} "
                      f"| {r['relay']['errors']} | {fmt(r['relay']['cpu_s'], 2)} |")
    report.append("")
    report.append(f"### S5b: {cc_streams} Claude-Code-sized streams (~200 KB bodies) opened one by one, held open\n\n"
                  "| target | RSS before MB | peak RSS MB | growth per open stream KB | streams started |\n|---|---|---|---|---|")
    for t, v in one_by_one.items():
        report.append(f"| {t} | {fmt(v['base'], 1)} | {fmt(v['peak'], 1)} | {fmt(v['per_stream_kb'], 0)} | {v['started']} |")
    report.append("")
    report.append("### S6: time to first byte, upstream delays its first event by 200 ms\n\n"
                  "Sequential requests, each on a fresh connection; the targets take turns request by request.\n\n"
                  "| target | median TTFB ms | added over direct ms |\n|---|---|---|")
    for t, v in ttfb_ms.items():
        report.append(f"| {t} | {fmt(v, 3)} | {fmt(v - ttfb_ms['direct'], 3)} |")
    report.append("")
    report.append("RSS of the relay (crs + redis-server) after the last open-streams load ended, idle "
                  f"{fmt(idle_rss['relay'], 1)} MB before any load: " +
                  ", ".join(f"+{t} s {fmt(v[0], 1)} MB" for t, *v in rss_after if t in (0, 10, 30, 60)) +
                  f"; anonymous memory {fmt(idle_rss['relay_anon'], 1)} MB idle, {fmt(rss_after[-1][2], 1)} MB at "
                  f"+{rss_after[-1][0]} s.\n")
    redis_cmds = max(s["relay"]["redis_cmds"] for s in (s1, s2, s3))
    report.append(targets_section(sweep, ttfb_ms, idle_rss, open_streams, rss_after, redis_cmds))
    prefix = os.path.join(results_dir, date + (f"-{args.label}" if args.label else ""))
    for name in ("S1", "S2"):
        chart(f"{prefix}-{name.lower()}-throughput.png", f"{name}: throughput vs concurrency", "requests/s",
              {t: [(c, sweep[(name, c)][t]["rps"]) for c in (1, 16, 64, 256)] for t in ("direct", "nginx", "relay")})
        chart(f"{prefix}-{name.lower()}-p99.png", f"{name}: p99 latency vs concurrency", "p99 ms",
              {t: [(c, sweep[(name, c)][t]["p99"]) for c in (1, 16, 64, 256)] for t in ("direct", "nginx", "relay")})
    chart(f"{prefix}-s5-rss.png", "S5: peak RSS vs open streams", "MB",
          {t: [(c, r[t]["rss_peak"]) for c, r in open_streams.items()] for t in ("nginx", "relay")}, "open streams", False)
    charts = [f"{prefix}-{name}.png" for name in ("s1-throughput", "s1-p99", "s2-throughput", "s2-p99", "s5-rss")]
    report.append("Charts: " + ", ".join(f"[{os.path.basename(p)}]({os.path.basename(p)})" for p in charts) + "\n")
    out = f"{prefix}{'-quick' if args.quick else ''}.md"
    # A hand-written analysis of an earlier run of the same day is kept, marked as such, to be
    # revised against the new tables.
    if os.path.exists(out):
        previous = open(out).read()
        at = previous.find("\n## Analysis")
        if at >= 0:
            report.append("> The analysis below was written for an earlier run of this day; check its figures"
                          " against the tables above.\n" + previous[at:])
    open(out, "w").write("\n".join(report))
    print(f"wrote {out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
