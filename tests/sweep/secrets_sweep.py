#!/usr/bin/env python3
"""The secrets sweep (issue 22), run by ctest after every other test.

The test support (tests/support/secret_sweep.cpp) wrote into the sweep directory:
  secrets/*.txt   every secret the tests handed the relay or it generated, one per line
  answers/*.txt   every HTTP answer and CLI output the relay gave the tests
  logs/*/         every relay's log files
This looks for each secret, and for the tokens the fake upstream issues, in every answer and
log. Any hit fails; what is printed never shows more than a secret's first four characters.
"""
import os
import re
import subprocess
import sys

SHORTEST = 12
# OAuth tokens the fake upstream issues (tools/fake_upstream): the tests never see them, so
# they are looked for by shape.
ISSUED = r"sk-ant-(oat01|ort01)-fake-(access|refresh)-[0-9]+"


def load_secrets(directory):
    secrets = set()
    folder = os.path.join(directory, "secrets")
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name), "rb") as f:
            for line in f:
                s = line.rstrip(b"\n")
                if len(s) >= SHORTEST:
                    secrets.add(s)
    return secrets


def shown(secret):
    return secret[:4].decode("utf-8", "replace") + "…(%d bytes)" % len(secret)


def grep(args, targets):
    """(file, byte offset, match) for each hit of grep over the targets."""
    run = subprocess.run(["grep", "-r", "-o", "-b", "-a"] + args + targets, capture_output=True)
    if run.returncode not in (0, 1):
        raise SystemExit("grep failed: " + run.stderr.decode(errors="replace"))
    hits = []
    for line in run.stdout.splitlines():
        path, offset, match = line.split(b":", 2)
        hits.append((path.decode(errors="replace"), int(offset), match))
    return hits


def where(path, offset):
    """The answer (its === line) or log a hit is in."""
    if "/answers/" not in path:
        return path
    with open(path, "rb") as f:
        head = f.read(offset)
    at = head.rfind(b"\n=== ")
    return path + ": " + head[at + 5 : head.find(b"\n", at + 5)].decode(errors="replace")[:160]


def sweep(directory):
    targets = [p for p in (os.path.join(directory, "answers"), os.path.join(directory, "logs")) if os.path.isdir(p)]
    if not targets:
        print("nothing recorded: run the sweep after the tests (ctest runs it last)")
        return 77
    secrets = load_secrets(directory)
    listed = os.path.join(directory, "all-secrets.bin")
    with open(listed, "wb") as f:
        f.write(b"\n".join(sorted(secrets)) + b"\n")
    hits = grep(["-F", "-f", listed], targets) if secrets else []
    hits += grep(["-E", ISSUED], targets)
    answers_dir = os.path.join(directory, "answers")
    answers = len(os.listdir(answers_dir)) if os.path.isdir(answers_dir) else 0
    size = sum(os.path.getsize(os.path.join(r, n)) for t in targets for r, _, ns in os.walk(t) for n in ns)
    print("%d secrets looked for in %d bytes of answers and logs (%d answer files)" % (len(secrets), size, answers))
    for path, offset, match in hits[:50]:
        print("LEAK: %s at byte %d of %s" % (shown(match), offset, where(path, offset)))
    if hits:
        print("%d leak(s)" % len(hits))
        return 1
    print("no secret found in any answer or log")
    return 0


if __name__ == "__main__":
    sys.exit(sweep(sys.argv[1]))
