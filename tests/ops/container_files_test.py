"""The Dockerfile and docker-compose.yml hold what the issue asks of them (Docker does not run
here, so the files are read and checked; container_run_test.py runs their steps)."""
import os
import re
import subprocess
import unittest

import yaml

from opslib import CRS_BINARY, exec_form, read_dockerfile, source

# The guide's environment variables the compose file passes to the relay.
GUIDE_VARIABLES = [
    "LOAD_BALANCING_ENABLED", "LOAD_BALANCING_STRATEGY", "API_EXPORT_ENABLED", "API_EXPORT_OUTPUT_DIR",
    "QUERY_OPTIMIZER_ENABLED", "QUERY_CACHE_ENABLED", "QUERY_CACHE_TTL", "ENABLE_PERFORMANCE_MONITORING",
    "PERFORMANCE_LOG_LEVEL", "LOG_LEVEL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "JWT_SECRET",
    "ENCRYPTION_KEY", "PORT", "HOST",
]
# In every Debian image already (the base of debian:12-slim).
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"}
SANITIZER_RUNTIMES = {"libasan8", "libubsan1", "libtsan2"}


def packages_of_binary(binary):
    """The Debian packages that hold the shared libraries `binary` links directly (apt brings
    what those need)."""
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = {m.group(1): m.group(2) for m in re.finditer(r"^\s*(\S+) => (/\S+)", ldd, re.M)}
    packages = set()
    for soname in needed:
        path = paths[soname]
        real = os.path.realpath(path)
        for candidate in (path, real, path.replace("/usr/lib/", "/lib/"), real.replace("/usr/lib/", "/lib/")):
            found = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if found.returncode == 0:
                packages.add(found.stdout.split(":")[0])
                break
        else:
            raise AssertionError(f"no Debian package holds {path}")
    return packages


class Dockerfile(unittest.TestCase):
    def setUp(self):
        self.stages = read_dockerfile(source("Dockerfile"))
        self.build, self.runtime = self.stages[0], self.stages[-1]

    def test_multi_stage_on_debian_12(self):
        self.assertGreaterEqual(len(self.stages), 2)
        for stage in self.stages:
            self.assertRegex(stage.base, r"^debian:12(-slim)?$")
        self.assertEqual(self.build.name, "build")
        self.assertEqual(self.runtime.base, "debian:12-slim")

    def test_build_stage_runs_the_shared_build_script(self):
        runs = " ".join(self.build.all("RUN"))
        self.assertIn("scripts/install-deps.sh --build-only", runs)
        self.assertIn("scripts/container/build.sh /src /build /stage all", runs)

    def test_runtime_has_only_the_staged_files(self):
        copies = self.runtime.all("COPY")
        from_build = [c for c in copies if c.startswith("--from=")]
        self.assertEqual(from_build, ["--from=build /stage/ /usr/local/"])
        others = [c for c in copies if not c.startswith("--from=")]
        self.assertEqual(others, ["scripts/container/entrypoint.sh /usr/local/bin/crs-entrypoint"])
        self.assertNotIn("build-essential", " ".join(self.runtime.all("RUN")))

    def test_runtime_installs_every_library_the_binary_loads(self):
        install = " ".join(self.runtime.all("RUN"))
        listed = set(re.findall(r"\b(lib[a-z0-9.+-]+|ca-certificates)\b", install))
        needed = packages_of_binary(CRS_BINARY) - BASE_PACKAGES
        if needed & SANITIZER_RUNTIMES:  # make test-sanitize: not the binary a container gets
            self.skipTest(f"{CRS_BINARY} is a sanitizer build ({sorted(needed & SANITIZER_RUNTIMES)})")
        # Debian names the runtime packages by soname; the -dev ones we build with must not be there.
        self.assertFalse(needed - listed, f"runtime stage lacks {sorted(needed - listed)}")
        self.assertIn("ca-certificates", listed)
        self.assertFalse([p for p in listed if p.endswith("-dev")])

    def test_runs_as_a_non_root_user(self):
        user = self.runtime.last("USER")
        self.assertIsNotNone(user)
        name = user.split(":")[0]
        self.assertNotIn(name, ("root", "0"))
        self.assertIn(f"useradd --system --uid 10001 --gid crs", " ".join(self.runtime.all("RUN")))

    def test_healthcheck_stopsignal_entrypoint(self):
        health = self.runtime.last("HEALTHCHECK")
        self.assertIsNotNone(health)
        command = exec_form(health.split(" CMD ", 1)[1])
        self.assertEqual(command, ["crs", "healthcheck"])
        self.assertEqual(self.runtime.last("STOPSIGNAL"), "SIGTERM")
        self.assertEqual(exec_form(self.runtime.last("ENTRYPOINT")), ["crs-entrypoint"])
        self.assertEqual(exec_form(self.runtime.last("CMD")), ["serve"])
        env = " ".join(self.runtime.all("ENV"))
        self.assertIn("HOST=0.0.0.0", env)
        self.assertIn("SHUTDOWN_GRACE_PERIOD=30", env)
        volumes = exec_form(self.runtime.last("VOLUME"))
        self.assertEqual(sorted(volumes), ["/app/data", "/app/logs", "/app/temp"])


class Compose(unittest.TestCase):
    def setUp(self):
        with open(source("docker-compose.yml")) as f:
            self.compose = yaml.safe_load(f)
        self.relay = self.compose["services"]["relay"]
        self.redis = self.compose["services"]["redis"]

    def redis_settings(self):
        """The redis.conf the service mounts, with the command's own options after it."""
        mounts = [v for v in self.redis["volumes"] if v.endswith(":/usr/local/etc/redis/redis.conf:ro")]
        self.assertEqual(len(mounts), 1)
        conf_path = source(mounts[0].split(":")[0])
        settings = {}
        with open(conf_path) as f:
            lines = f.readlines()
        for line in lines:
            words = line.split()
            if words and not words[0].startswith("#"):
                settings[words[0]] = " ".join(words[1:])
        command = " ".join(self.redis["command"])
        self.assertIn("/usr/local/etc/redis/redis.conf", command)
        for name, value in re.findall(r"--([a-z-]+) (\S+)", command):
            settings[name] = value
        return settings

    def test_redis_7_persistent_and_never_evicting(self):
        self.assertRegex(self.redis["image"], r"^redis:7")
        settings = self.redis_settings()
        self.assertEqual(settings["appendonly"], "yes")
        self.assertEqual(settings["maxmemory-policy"], "noeviction")
        self.assertIn("requirepass", settings)
        # redis-server first: the official image's entry point drops root only then.
        self.assertEqual(self.redis["command"][0], "redis-server")

    def test_secrets_stay_out_of_the_image(self):
        with open(source(".dockerignore")) as f:
            ignored = f.read().split()
        for pattern in (".env", "config/*", "data/", ".git/"):
            self.assertIn(pattern, ignored)

    def test_redis_only_on_an_internal_network(self):
        self.assertNotIn("ports", self.redis)
        self.assertNotIn("expose", self.redis)
        networks = self.compose["networks"]
        for name in self.redis["networks"]:
            self.assertTrue(networks[name].get("internal"), f"redis is on {name}, which is not internal")
        shared = set(self.redis["networks"]) & set(self.relay["networks"])
        self.assertTrue(shared, "the relay cannot reach redis")
        self.assertTrue(any(not (networks[n] or {}).get("internal") for n in self.relay["networks"]),
                        "the relay has no network with a route out (upstreams)")

    def test_volumes_healthchecks_restart(self):
        targets = [v.split(":")[1] for v in self.relay["volumes"]]
        for path in ("/app/config", "/app/data", "/app/logs", "/app/temp"):
            self.assertIn(path, targets)
        self.assertIn("/data", [v.split(":")[1] for v in self.redis["volumes"]])
        self.assertEqual(self.relay["healthcheck"]["test"], ["CMD", "crs", "healthcheck"])
        self.assertIn("redis-cli ping", " ".join(self.redis["healthcheck"]["test"]))
        for service in (self.relay, self.redis):
            self.assertIn(service["restart"], ("unless-stopped", "always", "on-failure"))
        self.assertEqual(self.relay["depends_on"]["redis"]["condition"], "service_healthy")

    def test_guide_environment_variables(self):
        env = self.relay["environment"]
        for name in GUIDE_VARIABLES:
            self.assertIn(name, env)
        self.assertEqual(env["REDIS_HOST"], "redis")
        self.assertIn(":?", env["REDIS_PASSWORD"], "REDIS_PASSWORD must be required")

    def test_stop_grace_period_lets_streams_finish(self):
        grace = int(self.relay["environment"]["SHUTDOWN_GRACE_PERIOD"])
        stop = self.relay["stop_grace_period"]
        self.assertTrue(stop.endswith("s"))
        # The relay's grace, then up to 5 s to cut what is left, inside Docker's timeout.
        self.assertGreater(int(stop[:-1]), grace + 5)


if __name__ == "__main__":
    unittest.main()
