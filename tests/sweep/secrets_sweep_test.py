"""The sweep itself: a planted secret in an answer or a log is found, an announced one is
not, and nothing recorded is a skip, not a pass."""
import os
import tempfile
import unittest

import secrets_sweep


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(text)


class SweepTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        write(os.path.join(self.dir, "secrets", "1.txt"), "cr_0123456789abcdef0123\nshort\n")
        write(os.path.join(self.dir, "answers", "1.txt"), '\n=== POST /admin/api-keys\n{"apiKey":"(announced)"}\n')
        write(os.path.join(self.dir, "logs", "1-0", "serve.log"), "listening\n")

    def test_clean_records_pass(self):
        self.assertEqual(secrets_sweep.sweep(self.dir), 0)

    def test_a_secret_in_an_answer_fails(self):
        write(os.path.join(self.dir, "answers", "2.txt"), '\n=== GET /admin/api-keys\n{"x":"cr_0123456789abcdef0123"}\n')
        self.assertEqual(secrets_sweep.sweep(self.dir), 1)

    def test_a_secret_in_a_log_fails(self):
        write(os.path.join(self.dir, "logs", "1-0", "logs", "crs.log"), "auth with cr_0123456789abcdef0123 ok\n")
        self.assertEqual(secrets_sweep.sweep(self.dir), 1)

    def test_a_token_the_fake_issued_fails(self):
        write(os.path.join(self.dir, "logs", "1-0", "serve.log"), "token sk-ant-oat01-fake-access-7 refreshed\n")
        self.assertEqual(secrets_sweep.sweep(self.dir), 1)

    def test_nothing_recorded_is_a_skip(self):
        self.assertEqual(secrets_sweep.sweep(tempfile.mkdtemp()), 77)


if __name__ == "__main__":
    unittest.main()
