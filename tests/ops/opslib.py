"""What the operations tests share: the paths ctest gives, a Dockerfile reader, processes."""
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time

SOURCE_DIR = os.environ.get("CRS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("CRS_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
CRS_BINARY = os.environ.get("CRS_BINARY", os.path.join(BUILD_DIR, "crs"))


def source(*parts):
    return os.path.join(SOURCE_DIR, *parts)


def wait_until(condition, timeout=30.0, step=0.05):
    """Polls `condition` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stage:
    """One stage of a Dockerfile: its base image, name and instructions (line continuations joined)."""

    def __init__(self, base, name):
        self.base, self.name, self.instructions = base, name, []

    def all(self, keyword):
        return [args for k, args in self.instructions if k == keyword]

    def last(self, keyword):
        found = self.all(keyword)
        return found[-1] if found else None


def read_dockerfile(path):
    with open(path) as f:
        text = f.read()
    stages = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
            continue
        stages[-1].instructions.append((keyword, args.strip()))
    return stages


def exec_form(args):
    """["a", "b"] (JSON exec form) or a shell string, as a list of words."""
    import json
    args = args.strip()
    if args.startswith("["):
        return json.loads(args)
    return shlex.split(args)


class RedisServer:
    """A throw-away redis-server on a free port with a password (what compose's redis service is)."""

    def __init__(self, password="ops-test-redis-password"):
        self.dir = tempfile.TemporaryDirectory(prefix="crs-ops-redis-")
        self.port = free_port()
        self.password = password
        conf = os.path.join(self.dir.name, "redis.conf")
        with open(conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir.name}\nappendonly yes\nsave \"\"\n"
                    f"maxmemory-policy noeviction\nrequirepass {password}\n")
        os.chmod(conf, 0o600)
        self.process = subprocess.Popen(["redis-server", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(self._answers, 10):
            raise RuntimeError("redis-server did not start")

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                return b"PONG" in s.recv(100)
        except OSError:
            return False

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        self.dir.cleanup()
