"""Root conftest for running py-consul's test suite against a local disco agent.

run.sh copies this file over the root ``conftest.py`` of the extracted py-consul
sdist. It replaces the upstream Docker-based fixtures with fixtures that start
``disco agent -dev`` as a subprocess, while keeping the fixture names and the
``ConsulInstance`` shape the upstream tests (and ``tests/conftest.py``) rely on:

* ``consul_instance``     -> ConsulInstance(container, port, version)
* ``acl_consul_instance`` -> (ConsulInstance, management_token)
* ``consul_port``         -> (port, version)

Every test gets a fresh, in-memory agent (function scope, as upstream), so tests
can assume an empty catalog and KV store.

Environment:
  DISCO_BIN            path to the disco binary (run.sh always sets it)
  PYCONSUL_LOG_DIR     where per-test agent logs go (default: ./logs next to this file)
  PYCONSUL_HTTP_PORT   force the agent's HTTP port (default: 8500 if free, else a free port)
  PYCONSUL_DISCO_ARGS  extra arguments appended to the agent command line
  PYCONSUL_START_TIMEOUT  seconds to wait for the agent to elect itself leader (default 15)
"""

from __future__ import annotations

import collections
import errno
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests
from packaging import version as pkg_version
from requests import RequestException

# Upstream parametrizes over real Consul versions; there is exactly one server
# implementation here, so the fixtures are not parametrized and node IDs carry
# no "[1.21.5]" suffix.
ConsulInstance = collections.namedtuple("ConsulInstance", ["container", "port", "version"])

MIN_VERSION = "1.20"
FALLBACK_VERSION = "1.21.0"
PREFERRED_HTTP_PORT = 8500  # upstream tests point HTTP checks at localhost:8500

LOGS_DIR = os.environ.get("PYCONSUL_LOG_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "logs")
os.makedirs(LOGS_DIR, exist_ok=True)

START_TIMEOUT = float(os.environ.get("PYCONSUL_START_TIMEOUT", "15"))
STOP_TIMEOUT = 5.0
LOG_TAIL_LINES = 60


@pytest.fixture(scope="session", autouse=True)
def _unset_consul_token():
    # Upstream drops CONSUL_HTTP_TOKEN; the other CONSUL_HTTP_* variables can
    # change the scheme or target of the client, so drop them too.
    for var in ("CONSUL_HTTP_TOKEN", "CONSUL_HTTP_ADDR", "CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY"):
        os.environ.pop(var, None)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def _disco_bin() -> str:
    path = os.environ.get("DISCO_BIN") or shutil.which("disco")
    if not path:
        pytest.fail("DISCO_BIN is not set and no 'disco' binary on PATH", pytrace=False)
    path = os.path.abspath(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"disco binary not found or not executable: {path}", pytrace=False)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option the agent's listener uses, so sockets of a previous
        # agent lingering in TIME_WAIT do not count as "in use".
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _pick_ports() -> dict[str, int]:
    forced = os.environ.get("PYCONSUL_HTTP_PORT")
    if forced:
        http = int(forced)
    elif _port_is_free(PREFERRED_HTTP_PORT):
        http = PREFERRED_HTTP_PORT
    else:
        http = _free_port()
        print(
            f"[pyconsul] port {PREFERRED_HTTP_PORT} is busy; agent HTTP on {http} "
            "(tests that probe http://localhost:8500 will not see this agent)",
            file=sys.stderr,
        )
    ports = {"http": http}
    for name in ("server", "serf_lan"):
        p = _free_port()
        while p in ports.values():
            p = _free_port()
        ports[name] = p
    return ports


def _log_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:200] or "agent"


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            content = f.readlines()
    except OSError as e:
        return f"<could not read {path}: {e}>"
    return "".join(content[-lines:])


class DiscoAgent:
    """A running ``disco agent -dev`` process.

    Stands in for the Docker container object upstream stores in
    ``ConsulInstance.container``; offers the few container methods that make
    sense for a process (``logs``, ``stop``, ``remove``).
    """

    def __init__(self, bin_path: str, workdir: str, log_path: str, config: dict, node: str) -> None:
        self.bin_path = bin_path
        self.workdir = workdir
        self.log_path = log_path
        self.node = node
        self.ports = _pick_ports()
        self.port = self.ports["http"]
        self.base_uri = f"http://127.0.0.1:{self.port}/v1/"

        os.makedirs(workdir, exist_ok=True)
        self.config_path = os.path.join(workdir, "config.json")
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

        self.cmd = [
            bin_path,
            "agent",
            "-dev",
            "-client", "127.0.0.1",
            "-bind", "127.0.0.1",
            "-http-port", str(self.ports["http"]),
            "-dns-port", "-1",
            "-server-port", str(self.ports["server"]),
            "-serf-lan-port", str(self.ports["serf_lan"]),
            "-serf-wan-port", "-1",
            "-config-file", self.config_path,
            "-node", node,
        ]  # fmt: skip
        extra = os.environ.get("PYCONSUL_DISCO_ARGS")
        if extra:
            self.cmd += shlex.split(extra)

        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log.write(("# " + shlex.join(self.cmd) + "\n").encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,  # own session => own process group, for killpg
        )
        self.pid = self.proc.pid

    # -- container-like API ------------------------------------------------ #

    def logs(self) -> bytes:
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
        else:
            # The agent itself exited (e.g. after PUT /v1/agent/leave); make
            # sure nothing it spawned (check scripts) outlives it.
            self._signal(signal.SIGKILL)
        if not self._log.closed:
            self._log.close()

    def remove(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- internals --------------------------------------------------------- #

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def fail(self, reason: str) -> None:
        rc = self.proc.poll()
        self.stop()
        msg = (
            f"disco agent failed to start: {reason}\n"
            f"command: {shlex.join(self.cmd)}\n"
            f"exit code: {rc}\n"
            f"log: {self.log_path}\n"
            f"---- last {LOG_TAIL_LINES} log lines ----\n{_tail(self.log_path)}"
        )
        # pytest prints the message (with the log tail) in the error report
        pytest.fail(msg, pytrace=False)

    def wait_ready(self) -> None:
        # 1. wait for a leader, as upstream does
        deadline = time.monotonic() + START_TIMEOUT
        last = "no response"
        while True:
            if self.proc.poll() is not None:
                self.fail("agent exited during startup")
            if time.monotonic() > deadline:
                self.fail(f"no leader after {START_TIMEOUT:.0f}s (last: {last})")
            try:
                r = requests.get(self.base_uri + "status/leader", timeout=2)
                body = r.json() if r.status_code == 200 else None
                if isinstance(body, str) and body:
                    break
                last = f"HTTP {r.status_code} {r.text[:200]!r}"
            except (RequestException, ValueError) as e:
                last = f"{type(e).__name__}: {e}"
            time.sleep(0.05)

        # 2. upstream's extra readiness probe: a registered service must show
        #    up in /health/service, then it is deregistered again
        for _ in range(10):
            if self.proc.poll() is not None:
                self.fail("agent exited during readiness probe")
            try:
                requests.put(self.base_uri + "agent/service/register", json={"name": "test-service"}, timeout=2)
                r = requests.get(self.base_uri + "health/service/test-service", timeout=2)
                if r.status_code == 200 and r.json():
                    requests.put(self.base_uri + "agent/service/deregister/test-service", timeout=2)
                    return
                last = f"health/service/test-service: HTTP {r.status_code} {r.text[:200]!r}"
            except (RequestException, ValueError) as e:
                last = f"{type(e).__name__}: {e}"
            time.sleep(0.2)
        self.fail(f"readiness probe failed ({last})")

    def version(self) -> str:
        """Config.Version from /v1/agent/self, as upstream reads it.

        Falls back to FALLBACK_VERSION when the field is missing, unparsable or
        older than MIN_VERSION (tests branch on it with should_skip()).
        """
        try:
            r = requests.get(self.base_uri + "agent/self", timeout=10)
            reported = str(r.json()["Config"]["Version"]).strip()
        except (RequestException, ValueError, KeyError, TypeError) as e:
            print(f"[pyconsul] could not read Config.Version ({e}); using {FALLBACK_VERSION}", file=sys.stderr)
            return FALLBACK_VERSION
        try:
            if pkg_version.parse(reported) >= pkg_version.parse(MIN_VERSION):
                return reported
        except pkg_version.InvalidVersion:
            pass
        print(
            f"[pyconsul] Config.Version {reported!r} is not a version >= {MIN_VERSION}; using {FALLBACK_VERSION}",
            file=sys.stderr,
        )
        return FALLBACK_VERSION


def start_disco_agent(request, acl_master_token: str | None = None) -> DiscoAgent:
    # Same agent configuration upstream passes through CONSUL_LOCAL_CONFIG.
    config: dict = {
        "ports": {
            "https": -1,
            "dns": -1,
            "grpc_tls": -1,
        },
        "performance": {"raft_multiplier": 1},
        "enable_script_checks": True,
    }
    if acl_master_token:
        config.update(
            {
                "primary_datacenter": "dc1",
                "acl": {"enabled": True, "tokens": {"initial_management": acl_master_token}},
            }
        )

    name = _log_name(request.node.nodeid)
    log_path = os.path.join(LOGS_DIR, f"{name}.log")
    workdir = os.path.join(LOGS_DIR, "agents", f"{name}-{uuid.uuid4().hex[:6]}")
    agent = DiscoAgent(_disco_bin(), workdir, log_path, config, node=f"disco-{uuid.uuid4().hex[:8]}")
    agent.wait_ready()
    return agent


def setup_and_teardown_consul(request, acl_master_token: str | None = None):
    agent = start_disco_agent(request, acl_master_token=acl_master_token)
    try:
        instance = ConsulInstance(agent, agent.port, agent.version())
        yield instance if acl_master_token is None else (instance, acl_master_token)
    finally:
        agent.stop()
        agent.remove()


# --------------------------------------------------------------------------- #
# fixtures (same names and shapes as upstream)
# --------------------------------------------------------------------------- #


@pytest.fixture
def consul_instance(request):
    yield from setup_and_teardown_consul(request)


@pytest.fixture
def acl_consul_instance(request):
    acl_master_token = uuid.uuid4().hex
    yield from setup_and_teardown_consul(request, acl_master_token=acl_master_token)


@pytest.fixture
def consul_port(consul_instance):
    return consul_instance.port, consul_instance.version
