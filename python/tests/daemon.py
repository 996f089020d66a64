"""A real `kvtier serve` for the client tests: started on a temporary data dir with small DRAM and
NVMe tiers, its Unix socket in that dir, TCP on a loopback port it picks itself, no /metrics;
stopped with SIGTERM. Every wait is bounded in time."""

import os
import pathlib
import signal
import subprocess
import time

import pytest

import kvtier

# A tenant with a small quota, to see the daemon refuse a put (RejectedError with its message).
QUOTA_TENANT = "quota-test"
QUOTA_TOKEN = "quota-test-token-0123456789"
QUOTA_BYTES = 1 << 20

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 60

CONFIG = """\
max_value_bytes = "16MiB"

[dram]
capacity_bytes = "32MiB"

[nvme]
default_file_bytes = "64MiB"
region_size = "16MiB"

[[tenants]]
name = "{tenant}"
token = "{token}"
quota_bytes = {quota}
"""


def kvtier_bin():
    path = os.environ.get("KVTIER_BIN")
    if not path:
        pytest.fail("KVTIER_BIN is not set: it must name the built `kvtier` command (ctest sets it)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"KVTIER_BIN={path} is not an executable: build the kvtier_cli target")
    return path


def serve_available(binary):
    """Whether this `kvtier` has the `serve` subcommand (it is being written alongside)."""
    try:
        r = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0 and "--data-dir" in r.stdout


def read_ready_file(path):
    """<data_dir>/kvtierd.ready: key=value lines (pid, unix, tcp, metrics)."""
    fields = {}
    for line in path.read_text().splitlines():
        k, sep, v = line.partition("=")
        if sep:
            fields[k] = v
    return fields


class Daemon:
    def __init__(self, binary, data_dir, extra_config=""):
        """extra_config: TOML appended to CONFIG (whole tables, e.g. [server] for TLS)."""
        self.data_dir = pathlib.Path(data_dir)
        self.socket = self.data_dir / "kvtierd.sock"
        self.address = f"unix:{self.socket}"
        self.tcp_address = None
        self.log_path = self.data_dir.parent / (self.data_dir.name + ".log")
        config = self.data_dir.parent / (self.data_dir.name + ".toml")
        config.write_text(CONFIG.format(tenant=QUOTA_TENANT, token=QUOTA_TOKEN, quota=QUOTA_BYTES)
                          + extra_config)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", str(config), "--data-dir", str(self.data_dir),
             "--tcp-listen", "127.0.0.1:0", "--metrics-listen", "off"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def log(self):
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def _wait_ready(self):
        ready = self.data_dir / "kvtierd.ready"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"kvtier serve exited with {self.proc.returncode}:\n{self.log()}")
            if ready.exists() and self.socket.exists():
                tcp = read_ready_file(ready).get("tcp")
                if tcp:
                    self.tcp_address = f"tcp:{tcp}"
                with kvtier.Client(self.address, timeout_ms=5000) as c:
                    c.ping(b"ready?")
                return
            time.sleep(0.05)
        pytest.fail(f"kvtier serve was not ready within {START_TIMEOUT_S} s:\n{self.log()}")

    def auth_token(self):
        """The default tenant's token (for TCP), which kvtierd creates in its data dir."""
        return (self.data_dir / "auth-token").read_text().strip()

    def stop(self):
        """SIGTERM, then the exit code (0 for a clean stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="module", name="daemon")
def daemon_fixture(tmp_path_factory):
    binary = kvtier_bin()
    if not serve_available(binary):
        pytest.skip(f"{binary} has no `serve` subcommand yet (the daemon is being written): "
                    "the client tests need a running kvtierd")
    d = Daemon(binary, tmp_path_factory.mktemp("kvtierd"))
    yield d
    code = d.stop()
    assert code == 0, f"kvtier serve exited with {code} after SIGTERM:\n{d.log()}"
