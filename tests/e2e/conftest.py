"""End-to-end fixtures: the real `algocenter` binary on a free loopback port with a fresh data directory, and the
official Alibaba OpenSearch SDK pointed at it with only the endpoint changed."""

import os
import re
import signal
import subprocess
import threading
import time

import pytest
from alibabacloud_opensearch20171225.client import Client
from alibabacloud_tea_openapi.utils_models import Config

BINARY = os.environ.get("ALGOCENTER_BIN", "target/debug/algocenter")
# The first admin key of every test server (ALGOCENTER_BOOTSTRAP_KEY), used by the SDK clients below.
ADMIN_ID, ADMIN_SECRET = "testAK", "testSecret"


# With ALGOCENTER_E2E_DATABASE_URL set (a PostgreSQL server; scripts/test sets it for a second run of the core
# suite), every test server runs on its own new database there instead of the embedded SQLite file.
E2E_DATABASE_URL = os.environ.get("ALGOCENTER_E2E_DATABASE_URL")
_databases = iter(range(1_000_000))


def fresh_database_url():
    """A new empty database on the E2E PostgreSQL server, created with psql."""
    name = f"e2e_{os.getpid()}_{next(_databases)}_{int(time.time() * 1000)}"
    subprocess.run(["psql", "-q", "-X", E2E_DATABASE_URL, "-c", f"CREATE DATABASE {name}"], check=True,
                   capture_output=True)
    base = E2E_DATABASE_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


class Server:
    def __init__(self, data_dir, *extra):
        if E2E_DATABASE_URL and "--database-url" not in extra:
            extra = (*extra, "--database-url", fresh_database_url())
        # The SDK honours proxy variables; loopback calls must not go through one (spec §5.3).
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            os.environ.pop(var, None)
        env = dict(os.environ, ALGOCENTER_BOOTSTRAP_KEY=f"{ADMIN_ID}:{ADMIN_SECRET}")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *extra],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.log = []
        ready = threading.Event()

        def read():
            for line in self.process.stderr:
                self.log.append(line)
                found = re.search(r"listening on (\S+)", line)
                if found:
                    self.address = found.group(1)
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60):
            self.process.kill()
            raise RuntimeError("algocenter did not start:\n" + "".join(self.log))

    def client(self, signature_algorithm=None, key_id=ADMIN_ID, secret=ADMIN_SECRET):
        config = Config(access_key_id=key_id, access_key_secret=secret, endpoint=self.address, protocol="http")
        if signature_algorithm:
            config.signature_algorithm = signature_algorithm
        return Client(config)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture
def start_server(tmp_path):
    """Starts servers for one test; all are stopped at its end. Extra arguments go to `algocenter serve`."""
    servers = []

    def start(*extra):
        server = Server(tmp_path / f"data{len(servers)}", *extra)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        assert server.process.returncode == 0, "".join(server.log)


@pytest.fixture
def server(start_server):
    return start_server()


@pytest.fixture
def client(server):
    return server.client()


def wait_for(predicate, timeout=20.0, interval=0.05):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)
