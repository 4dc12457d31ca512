#!/usr/bin/env python3
"""The soak (issue 22): `make soak` (SOAK_REQUESTS, default 1,000,000) relays that many
requests through `crs serve` (embedded Redis, a key with counted limits, two Claude Console
accounts on the fake upstream), mixed streamed and whole, with faults sprinkled in: answers
that fail before the first byte (500, reset: the relay fails over), streams reset after their
first events or in the middle of one, and clients that hang up mid-stream. Every second it
samples the relay's RSS and open file descriptors. At the end: no slot left held (the key's
and the accounts'), and the tokens the relay metered equal what the fake upstream emitted.
Writes bench/results/<date>-soak.md and the curve as a PNG beside it (and in docs/).
"""
import argparse
import re
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from run import BUILD, ROOT, free_port, wait_port  # noqa: E402
from bulk_relay import BulkRelay, rss_kb  # noqa: E402

MODEL = "claude-sonnet-4-5-20250929"
ACCOUNTS = ["sk-ant-api03-soak-account-a-000000", "sk-ant-api03-soak-account-b-000000"]


def body(mode, stream, i):
    return json.dumps({"model": MODEL, "max_tokens": 200, "stream": stream,
                       "messages": [{"role": "user", "content": f"soak mode={mode} request {i} " + "x" * (i % 23)}]})


# 100 bodies: the mix of one pass (the wrk script cycles through them). Faults stay rare
# enough (3 %) that neither account falls below the health check's 95 % success rate: the
# soak is about a relay whose accounts serve, with failures now and then.
def mix():
    out = []
    for i in range(100):
        if i < 50:
            out.append(body("plain", False, i))
        elif i < 91:
            out.append(body("plain", True, i))
        elif i < 94:
            out.append(body("long", True, i))
        elif i < 97:
            out.append(body("cache", i % 2 == 0, i))
        elif i < 98:
            out.append(body("fail", False, i))     # a 500 from account a: fails over to b
        elif i < 99:
            out.append(body("reset", True, i))     # a reset after 3 events
        else:
            out.append(body("half", True, i))      # half an event, then a reset
    return out


def fake_json(port, method, path, data=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if data is None else json.dumps(data).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def redis_password(work):
    with open(os.path.join(work, "data", "secrets.env")) as f:
        return re.search(r"^REDIS_EMBEDDED_PASSWORD=(.*)$", f.read(), re.M).group(1).strip()


def redis_command(port, password, *args):
    out = subprocess.run(["redis-cli", "--no-auth-warning", "-p", str(port), "-a", password, *map(str, args)],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def hang_ups(port, key, stop, count):
    """A client that leaves mid-stream, twice a second."""
    payload = body("slow", True, 7).encode()
    head = (f"POST /v1/messages HTTP/1.1\r\nHost: relay\r\nx-api-key: {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode()
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(head + payload)
                s.recv(4096)  # the first bytes of the stream, then away
                count[0] += 1
        except OSError:
            pass
        stop.wait(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=int(os.environ.get("SOAK_REQUESTS", "1000000")))
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="crs-soak-")
    fake_port = free_port()
    fake = subprocess.Popen(["taskset", "-c", "1", f"{BUILD}/fake-upstream", "--port", str(fake_port), "--threads", "1",
                             "--no-record"], stdout=open(os.path.join(work, "fake.log"), "wb"), stderr=subprocess.STDOUT)
    wait_port(fake_port)
    scripts = [
        {"bodyContains": "mode=long", "behavior": {"deltas": 40}},
        {"bodyContains": "mode=cache", "behavior": {"cacheCreationInputTokens": 1200, "cacheReadInputTokens": 30000}},
        {"credential": ACCOUNTS[0], "bodyContains": "mode=fail", "behavior": {"status": 500}},
        {"bodyContains": "mode=reset", "behavior": {"resetAfterEvents": 3}},
        {"bodyContains": "mode=half", "behavior": {"resetInEvent": 3, "chunkBytes": 9}},
        # The client hangs up while the upstream waits after 4 events: what the upstream sent is
        # what the relay read (one still on its way when the relay closes is never read, and
        # would be counted by the fake alone).
        {"bodyContains": "mode=slow", "behavior": {"deltas": 20, "stallAfterEvents": 4, "stallMs": 10000}},
    ]
    for s in scripts:
        fake_json(fake_port, "POST", "/_fake/behaviors", s)

    relay = BulkRelay("[loadBalancing.failureRecovery]\ntemporaryFailureDelay = 1\nmaxBackoffTime = 1\n"
                      "[usage]\nrecordsPerKey = 100\n", work=work).start()
    subprocess.run(["taskset", "-p", "-c", "0", str(relay.process.pid)], capture_output=True)
    cli_env = {**os.environ, "PORT": str(relay.port), "HOST": "127.0.0.1", "REDIS_EMBEDDED_PORT": str(relay.redis_port)}

    def cli(*a):
        return json.loads(subprocess.run([f"{BUILD}/crs", *a, "--json"], cwd=work, check=True, capture_output=True,
                                         env=cli_env).stdout)

    account_ids = [cli("accounts", "add", "--type", "claude-console", "--name", f"soak-{i}", "--base-url",
                       f"http://127.0.0.1:{fake_port}", "--api-key", k, "--max-concurrency", "200")["id"]
                   for i, k in enumerate(ACCOUNTS)]
    made = cli("keys", "create", "--name", "soak", "--concurrency", "100", "--daily-cost", "1000000")
    key, key_id = made["key"], made["id"]
    time.sleep(1)

    bodies_file = os.path.join(work, "bodies.jsonl")
    with open(bodies_file, "w") as f:
        f.write("\n".join(mix()) + "\n")
    env = {**os.environ, "SOAK_BODIES": bodies_file, "BENCH_HEADERS": f"x-api-key: {key}"}
    wrk = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t2", f"-c{args.connections}", "-d24h", "--timeout=30s",
                            "-s", os.path.join(ROOT, "bench/wrk/mixed.lua"), f"http://127.0.0.1:{relay.port}/v1/messages"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stop = threading.Event()
    left = [0]
    leaver = threading.Thread(target=hang_ups, args=(relay.port, key, stop, left), daemon=True)
    leaver.start()

    pid = relay.process.pid
    samples = []  # (seconds, requests, rss MB, fds)
    t0 = time.time()
    while True:
        done = fake_json(fake_port, "GET", "/_fake/stats")["total"]
        samples.append((time.time() - t0, done, rss_kb(pid) / 1024, open_fds(pid)))
        if done >= args.requests or relay.process.poll() is not None:
            break
        time.sleep(1)
    wrk.send_signal(2)
    wrk_out = wrk.communicate(timeout=60)[0].decode(errors="replace")
    answered = re.search(r"(\d+) requests in", wrk_out)
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk_out)
    answers = (int(answered.group(1)) if answered else 0, int(failed.group(1)) if failed else 0)
    stop.set()
    leaver.join(10)
    # Quiet: every request ended (usage written, leases released).
    deadline = time.time() + 30
    while fake_json(fake_port, "GET", "/_fake/stats")["inFlight"] > 0 and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    samples.append((time.time() - t0, fake_json(fake_port, "GET", "/_fake/stats")["total"], rss_kb(pid) / 1024,
                    open_fds(pid)))

    password = redis_password(work)
    now_ms = int(time.time() * 1000)
    held = {"key": int(redis_command(relay.redis_port, password, "ZCOUNT", f"limit:concurrency:{key_id}", now_ms,
                                     "+inf"))}
    for n, a in enumerate(account_ids):
        held[f"account {n}"] = int(redis_command(relay.redis_port, password, "ZCOUNT", f"load_balance:{{lb}}:leases:{a}",
                                                 now_ms, "+inf"))
    emitted = fake_json(fake_port, "GET", "/_fake/stats")["emitted"]
    time.sleep(2)  # the aggregator folds once a second
    metered = {name: int(redis_command(relay.redis_port, password, "HGET", f"usage:{key_id}", field) or 0)
               for name, field in (("input", "totalInputTokens"), ("output", "totalOutputTokens"),
                                   ("cacheCreate", "totalCacheCreateTokens"), ("cacheRead", "totalCacheReadTokens"))}
    relay.stop()
    fake.terminate()
    report(args, samples, held, emitted, metered, left[0], answers)


def report(args, samples, held, emitted, metered, left, answers):
    day = datetime.date.today().isoformat()
    out_dir = os.path.join(ROOT, "bench", "results")
    csv = os.path.join(tempfile.gettempdir(), "crs-soak.csv")
    with open(csv, "w") as f:
        for s in samples:
            f.write("%.1f %d %.1f %d\n" % s)
    png = os.path.join(out_dir, f"{day}-soak.png")
    subprocess.run(["gnuplot", "-e",
                    f"set terminal png size 900,500; set output '{png}'; set xlabel 'requests relayed';"
                    "set ylabel 'RSS (MB)'; set y2label 'open file descriptors'; set ytics nomirror; set y2tics;"
                    "set yrange [0:*]; set y2range [0:*]; set key top left;"
                    f"plot '{csv}' using 2:3 with lines title 'RSS (MB)', '{csv}' using 2:4 axes x1y2 with lines "
                    "title 'open fds'"], check=False)
    subprocess.run(["cp", png, os.path.join(ROOT, "docs", "soak.png")], check=False)
    seconds, total = samples[-1][0], samples[-1][1]
    warm = [s for s in samples if s[1] >= total * 0.1]  # past the first tenth: warmed up
    rss = [s[2] for s in warm] or [0]
    fds = [s[3] for s in warm] or [0]
    exact = all(emitted[k] == metered[k] for k in metered)
    lines = [f"# Soak, {day}", "",
             f"`make soak SOAK_REQUESTS={args.requests}` ({args.connections} connections, wrk; 100-body mix: 50 % whole,"
             " 41 % streamed, 3 % long streams, 3 % with cache tokens, 1 % a 500 then failover, 1 % a reset after"
             " 3 events, 1 % half an event then a reset; and a client that hangs up mid-stream twice a second).", "",
             "| Figure | Value |", "|---|---|",
             f"| Requests the upstream saw | {total:,} in {seconds:.0f} s ({total / seconds:,.0f}/s) |",
             f"| Answers wrk got / not 2xx | {answers[0]:,} / {answers[1]:,} |",
             f"| Clients that hung up mid-stream | {left:,} |",
             f"| RSS after warm-up: min / max / last | {min(rss):.1f} / {max(rss):.1f} / {rss[-1]:.1f} MB |",
             f"| Open fds after warm-up: min / max / last | {min(fds)} / {max(fds)} / {fds[-1]} |",
             f"| Slots still held at the end | {held} |",
             f"| Tokens emitted by the upstream | {emitted} |",
             f"| Tokens metered by the relay | {metered} |",
             f"| Metering exact | {'yes' if exact else 'NO'} |", "",
             f"![RSS and open fds against requests]({day}-soak.png)", ""]
    path = os.path.join(out_dir, f"{day}-soak.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    ok = exact and all(v == 0 for v in held.values()) and answers[1] <= answers[0] // 100
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
