"""A relay (embedded Redis) in a scratch directory with many keys written straight into Redis,
and an admin session: what the export and admin-read benchmarks share."""
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from run import BUILD, CLK, free_port, wait_port


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


class BulkRelay:
    """`crs serve` with `config` (TOML text); start(), write_keys(n), login(), request(), stop()."""

    def __init__(self, config="", work=None):
        self.work = work or tempfile.mkdtemp(prefix="crs-bench-")
        os.makedirs(os.path.join(self.work, "config"), exist_ok=True)
        with open(os.path.join(self.work, "config", "config.toml"), "w") as f:
            f.write(config)
        self.port, self.redis_port = free_port(), free_port()
        self.token = None
        self.process = None

    def start(self):
        env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
               "REDIS_EMBEDDED_PORT": str(self.redis_port), "WORKERS": "2", "LOG_LEVEL": "warn"}
        for k in ("REDIS_HOST", "REDIS_URL", "ENCRYPTION_KEY", "JWT_SECRET"):
            env.pop(k, None)
        self.process = subprocess.Popen([f"{BUILD}/crs", "serve"], cwd=self.work, env=env,
                                        stdout=open(os.path.join(self.work, "relay.log"), "ab"),
                                        stderr=subprocess.STDOUT)
        wait_port(self.port)
        time.sleep(0.5)
        return self

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def write_keys(self, n):
        """n keys (every third with all-time usage), as KeyStore lays them out."""
        secrets = open(os.path.join(self.work, "data", "secrets.env")).read()
        password = re.search(r"^REDIS_EMBEDDED_PASSWORD=(.*)$", secrets, re.M).group(1).strip()
        blob = []
        for i in range(n):
            kid = str(uuid.uuid4())
            digest = os.urandom(32).hex()
            blob.append(resp("HSET", f"apikey:{kid}", "id", kid, "name", f'key {i}, "n"', "apiKey", digest,
                             "isActive", "true", "createdAt", "2026-01-01T00:00:00.000Z", "tags", '["bulk"]'))
            blob.append(resp("HSET", "apikey:hash_map", digest, kid))
            blob.append(resp("ZADD", "apikey:idx:createdAt", str(1767225600000 + i), kid))
            if i % 3 == 0:
                blob.append(resp("HSET", f"usage:{kid}", "totalRequests", str(i % 97 + 1), "totalCostMicro", str(i)))
        subprocess.run(["redis-cli", "--no-auth-warning", "-p", str(self.redis_port), "-a", password, "--pipe"],
                       input=b"".join(blob), check=True, capture_output=True)

    def login(self):
        init = json.load(open(os.path.join(self.work, "data", "init.json")))
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/web/auth/login", method="POST",
                                     data=json.dumps({"username": init["adminUsername"],
                                                      "password": init["adminPassword"]}).encode(),
                                     headers={"content-type": "application/json"})
        deadline = time.monotonic() + 60
        while True:  # after a restart the embedded Redis may still be loading its data: 503
            try:
                self.token = json.loads(urllib.request.urlopen(req).read())["token"]
                return self.token
            except urllib.error.HTTPError as e:
                if e.code != 503 or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def request(self, method, path, body=None):
        """(body bytes, headers) of an admin request."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"authorization": f"Bearer {self.token}",
                                              "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read(), r.headers
