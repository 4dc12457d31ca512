"""The systemd unit passes `systemd-analyze verify` without a warning and keeps its hardening."""
import configparser
import os
import re
import subprocess
import tempfile
import unittest

from opslib import CRS_BINARY, source

UNIT = source("deploy/systemd/crs.service")


def read_text(path):
    with open(path) as f:
        return f.read()


def read_unit(path):
    # systemd allows a key more than once (SystemCallFilter=): keep every value.
    values = {}
    section = None
    with open(path) as f:
        lines = f.readlines()
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values.setdefault((section, key), []).append(value)
    return values


class SystemdUnit(unittest.TestCase):
    def verify(self, text):
        """systemd-analyze verify on `text` with ExecStart's binary at the built one (nothing is
        installed under /usr/local by a test); returns (exit code, output)."""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "crs.service")
            with open(path, "w") as f:
                f.write(text.replace("/usr/local/bin/crs", os.path.abspath(CRS_BINARY)))
            run = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
            return run.returncode, (run.stdout + run.stderr).strip()

    def test_verify_passes_without_a_warning(self):
        text = read_text(UNIT)
        self.assertEqual(text.count("/usr/local/bin/crs"), 1, "only ExecStart names the installed binary")
        code, output = self.verify(text)
        self.assertEqual(code, 0, output)
        self.assertEqual(output, "")

    def test_verify_catches_a_broken_unit(self):
        # The check above can fail: a bad value is reported.
        code, output = self.verify(read_text(UNIT).replace("NoNewPrivileges=yes", "NoNewPrivileges=maybe"))
        self.assertIn("Failed to parse", output)

    def test_hardening(self):
        unit = read_unit(UNIT)
        service = lambda key: unit.get(("Service", key), [])
        self.assertEqual(service("User"), ["crs"])
        self.assertEqual(service("NoNewPrivileges"), ["yes"])
        self.assertEqual(service("ProtectSystem"), ["strict"])
        self.assertEqual(service("PrivateTmp"), ["yes"])
        self.assertEqual(service("ProtectHome"), ["yes"])
        self.assertEqual(service("CapabilityBoundingSet"), [""])
        writable = " ".join(service("ReadWritePaths")).split()
        self.assertEqual(sorted(writable), ["/var/lib/crs/data", "/var/lib/crs/logs", "/var/lib/crs/temp"])
        self.assertEqual(service("WorkingDirectory"), ["/var/lib/crs"])
        self.assertEqual(service("KillSignal"), ["SIGTERM"])
        self.assertGreater(int(service("TimeoutStopSec")[0]), 30 + 5)  # grace period, then the cut
        self.assertTrue(service("ExecReload")[0].endswith("-HUP $MAINPID"))

    def test_exposure_is_low(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "crs.service")
            with open(path, "w") as f:
                f.write(read_text(UNIT).replace("/usr/local/bin/crs", os.path.abspath(CRS_BINARY)))
            run = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", path],
                                 capture_output=True, text=True)
        match = re.search(r"Overall exposure level for crs.service: ([0-9.]+)", run.stdout + run.stderr)
        self.assertIsNotNone(match, run.stdout + run.stderr)
        self.assertLessEqual(float(match.group(1)), 2.0)  # "OK" on systemd's 0-10 scale


if __name__ == "__main__":
    unittest.main()
