"""The Dockerfile's steps run outside Docker: its build script's install step on the tested
build, its entry point with the image's environment, its HEALTHCHECK command, its STOPSIGNAL.
(`make test-ops` runs the whole build script, configure and compile included.)"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.request

from opslib import BUILD_DIR, RedisServer, exec_form, free_port, read_dockerfile, source, wait_until


def image_environment(stage):
    env = {}
    for args in stage.all("ENV"):
        for word in args.split():
            name, _, value = word.partition("=")
            env[name] = value
    return env


class ContainerSteps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="crs-ops-container-")
        cls.stage = os.path.join(cls.tmp.name, "stage")
        build_dir = os.environ.get("CRS_STAGE_FROM", BUILD_DIR)
        step = os.environ.get("CRS_STAGE_STEP", "install")
        subprocess.run(["bash", source("scripts/container/build.sh"), source(), build_dir, cls.stage, step],
                       check=True)
        # What `COPY scripts/container/entrypoint.sh /usr/local/bin/crs-entrypoint` does.
        shutil.copy(source("scripts/container/entrypoint.sh"), os.path.join(cls.stage, "bin", "crs-entrypoint"))
        cls.runtime = read_dockerfile(source("Dockerfile"))[-1]
        cls.redis = RedisServer()

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()
        cls.tmp.cleanup()

    def environment(self, app, port, with_redis=True):
        env = {"PATH": os.path.join(self.stage, "bin") + ":/usr/bin:/bin", "CRS_HOME": app}
        env.update(image_environment(self.runtime))
        env["PORT"] = str(port)  # Docker maps the port; here it must be free
        if with_redis:
            env.update({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.redis.port),
                        "REDIS_PASSWORD": self.redis.password})
        return env

    def app_directory(self, name):
        # WORKDIR /app with the directories the runtime stage makes.
        app = os.path.join(self.tmp.name, name)
        for d in ("config", "data", "logs", "temp/exports"):
            os.makedirs(os.path.join(app, d))
        return app

    @staticmethod
    def read(path):
        with open(path) as f:
            return f.read()

    def test_stage_holds_the_binary_and_its_files(self):
        for path in ("bin/crs", "share/crs/config.example.toml", "share/crs/pricing.json",
                     "share/crs/systemd/crs.service"):
            self.assertTrue(os.path.exists(os.path.join(self.stage, path)), path)
        version = subprocess.run([os.path.join(self.stage, "bin", "crs"), "--version"], capture_output=True,
                                 text=True, check=True)
        self.assertTrue(version.stdout.startswith("crs "))

    def test_entry_point_serves_passes_its_healthcheck_and_stops_on_sigterm(self):
        app, port = self.app_directory("app"), free_port()
        env = self.environment(app, port)
        health = exec_form(self.runtime.last("HEALTHCHECK").split(" CMD ", 1)[1])
        command = exec_form(self.runtime.last("ENTRYPOINT")) + exec_form(self.runtime.last("CMD"))
        log_path = os.path.join(self.tmp.name, "relay.out")
        with open(log_path, "w") as log:
            relay = subprocess.Popen(command, env=env, cwd=app, stdout=log, stderr=subprocess.STDOUT)
        try:
            def healthy():
                return subprocess.run(health, env=env, cwd=app, capture_output=True).returncode == 0
            self.assertTrue(wait_until(healthy, 60), self.read(log_path))
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                self.assertEqual(r.status, 200)

            # The CLI in the container: `docker compose exec relay crs ...` runs in /app too.
            created = subprocess.run(["crs-entrypoint", "--json", "keys", "create", "--name", "ops"], env=env,
                                     cwd=app, capture_output=True, text=True)
            self.assertEqual(created.returncode, 0, created.stderr)
            key = json.loads(created.stdout)["key"]
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/models", headers={"x-api-key": key})
            with urllib.request.urlopen(request, timeout=5) as r:
                self.assertEqual(r.status, 200)

            # Secrets were generated into the data volume, readable by the relay's user only.
            self.assertEqual(os.stat(os.path.join(app, "data", "secrets.env")).st_mode & 0o777, 0o600)
            self.assertTrue(os.path.exists(os.path.join(app, "logs", "crs.log")))

            relay.send_signal(signal.SIGTERM)  # STOPSIGNAL
            self.assertEqual(relay.wait(45), 0)  # inside compose's stop_grace_period
            self.assertNotEqual(subprocess.run(health, env=env, cwd=app, capture_output=True).returncode, 0)
        finally:
            if relay.poll() is None:
                relay.kill()
                relay.wait()

    def test_entry_point_refuses_to_serve_without_redis(self):
        app = self.app_directory("app-no-redis")
        env = self.environment(app, free_port(), with_redis=False)
        env["REDIS_SERVER_BINARY"] = "/nonexistent/redis-server"  # the runtime image has none
        result = subprocess.run(["crs-entrypoint"], env=env, cwd=app, capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 64)
        self.assertIn("set REDIS_HOST", result.stderr)


if __name__ == "__main__":
    unittest.main()
