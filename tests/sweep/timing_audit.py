#!/usr/bin/env python3
"""The timing-safe comparison audit (docs/reliability.md), as a test.

1. Every place that checks a secret someone presents compares it in constant time: each
   file below must still call crypto::equal_constant_time for the check named beside it.
2. No other comparison with == or != of a value named like a secret (password, secret,
   token, signature, hmac, mac, digest, verifier, state of a sign-in) appears anywhere in
   src/, unless it is listed in ALLOWED with the reason it leaks nothing.

A new secret check written as `if (sig == expected)` fails this test; the fix is
crypto::equal_constant_time, or a reason in ALLOWED when no outside party controls either side.

Usage: timing_audit.py <source root> [--self-test]
"""
import os
import re
import sys

# file -> the check it performs with equal_constant_time.
REQUIRED = {
    "src/admin/password.cpp": "the admin password's scrypt hash",
    "src/admin/session_token.cpp": "the admin session token's HMAC",
    "src/admin/auth_routes.cpp": "the admin user name",
    "src/monitor/metrics_route.cpp": "the metrics bearer token",
    "src/accounts/oauth_signin.cpp": "the OAuth sign-in state",
    "src/keys/key_store.cpp": "the relay key's digest after its lookup",
    "src/relay/admission.cpp": "the connection's memo of the last key presented",
    "src/ops/backup_file.cpp": "a backup's checksum and HMAC",
    "src/ops/restore.cpp": "the encryption key's check value",
}

NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|->|::)[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?"
SECRETISH = re.compile(r"(password|secret|signature|hmac|mac|digest|verifier|token|^state|\.state$|->state$)", re.I)
COMPARISON = re.compile(rf"({NAME})\s*(==|!=)\s*({NAME})")
# Names that contain a secret-like word but are not secrets.
NOT_SECRETS = re.compile(r"(token_type|tokens|_tokens|Tokens|token_count|max_tokens|tokenizer|token_url|"
                         r"mac_?os|machine|task->state|t\.state|ended->state|digest_of\.end|by_digest\.end|"
                         r"State::|CircuitState|\.state ==|size\(\)|empty\(\)|npos|nullptr|end\(\))")

# (file, text of the line) -> why it leaks nothing.
ALLOWED = {
    ("src/adapters/claude_oauth.cpp", "credentials.access_token != r.account.credentials.access_token"):
        "both tokens are the relay's own (stored vs. in memory), to see whether another instance refreshed",
    ("src/adapters/claude_oauth.cpp", "credentials.refresh_token != refresh_token"):
        "both tokens are the relay's own, to see whether another instance refreshed",
    ("src/ops/crs_import.cpp", "password_hash == hash"):
        "an import compares two stored hashes to stay idempotent; no one presents either",
    ("src/ops/integrity.cpp", "it->second != digest"):
        "crs verify compares stored digests of keys with each other",
}


def comparisons(path, text):
    """(line number, line, left, right) of every == or != whose side is named like a secret."""
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0]
        for m in COMPARISON.finditer(code):
            left, right = m.group(1), m.group(3)
            if NOT_SECRETS.search(left) or NOT_SECRETS.search(right) or NOT_SECRETS.search(m.group(0)):
                continue
            # The last member names the value; a constant (kName, Enum::value) is no secret.
            last = lambda n: re.split(r"\.|->|::", n.replace("()", ""))[-1]
            if any(re.match(r"k[A-Z]", last(side)) or "::" in side for side in (left, right)):
                continue
            if SECRETISH.search(last(left)) or SECRETISH.search(last(right)):
                yield number, line.strip(), m.group(0)


def allowed(rel, line):
    return any(rel == f and snippet in line for (f, snippet) in ALLOWED)


def audit(root):
    problems = []
    for rel, what in REQUIRED.items():
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            problems.append(f"{rel}: gone; where is {what} checked now? Update REQUIRED.")
        elif "equal_constant_time" not in open(path, encoding="utf-8").read():
            problems.append(f"{rel}: {what} is no longer compared with crypto::equal_constant_time")
    used = set()
    for folder, _, files in os.walk(os.path.join(root, "src")):
        for name in sorted(files):
            if not name.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            for number, line, expr in comparisons(rel, open(path, encoding="utf-8").read()):
                if allowed(rel, line):
                    used.update((f, s) for (f, s) in ALLOWED if f == rel and s in line)
                    continue
                problems.append(f"{rel}:{number}: `{expr}` compares a secret with {expr.split()[1]}; "
                                "use crypto::equal_constant_time, or say in ALLOWED why it leaks nothing")
    for stale in set(ALLOWED) - used:
        problems.append(f"ALLOWED lists {stale} but no such comparison is left: remove it")
    return problems


def self_test():
    bad = 'if (signature != expected_signature) return false;\nif (req.password == stored.password) ok();\n'
    found = [expr for _, _, expr in comparisons("x.cpp", bad)]
    assert len(found) == 2, found
    good = 'if (tokens == 0) x();\nif (t.state == "done") y();\nif (max_tokens != other.max_tokens) z();\n'
    assert not list(comparisons("x.cpp", good)), list(comparisons("x.cpp", good))
    print("self-test: both planted comparisons found, no false alarm on counts and task states")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    self_test()
    problems = audit(root)
    for p in problems:
        print(p)
    print(f"{len(REQUIRED)} secret checks in constant time; {len(ALLOWED)} allowed comparisons; "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
