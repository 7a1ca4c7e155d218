"""`make load` / `python -m loadtests run` as a user meets it, on free loopback ports
(LOADTESTS_*_PORT stand for 8080-8082): targets of your own (a gateway started by hand,
a plain forwarder), a closed terminal mid-run, Ctrl-C, a reused platform that refuses the
token, and a listener that is not this product (nothing secret is sent to it)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from benchmarks.gateway_bench import start_forwarder
from tests.support.procs import ADMIN_TOKEN, ROOT, free_port, start_gateway, start_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
SECRET = "not-this-products-token-4242"


def env(**extra):
    base = {k: v for k, v in os.environ.items() if k not in ("SIM_ADMIN_TOKEN", "GATEWAY_URL", "PLATFORM_URL",
                                                            "CONTROL_URL")}
    ports = {"LOADTESTS_GATEWAY_PORT": str(free_port()), "LOADTESTS_PLATFORM_PORT": str(free_port()),
             "LOADTESTS_CONTROL_PORT": str(free_port())}
    return {**base, **ports, **extra}


def make(*args, env, timeout=200):
    return subprocess.run(["make", "--no-print-directory", "load", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def cli(*args, env, timeout=120):
    return subprocess.run([sys.executable, "-m", "loadtests", "run", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def summary_of(stdout):
    folder = re.search(r"^report: (.+)$", stdout, re.M).group(1)
    return json.loads((Path(folder) / "summary.json").read_text()), Path(folder)


def leftovers(ports, marker):
    """Processes whose command line names one of `ports` or contains `marker` (the run's report folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(f"--port {p} " in cmd + " " or f":{p} " in cmd + " " for p in ports) or (marker and marker in cmd):
            found.append(cmd)
    return found


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def hand_started(tmp_path):
    platform = start_platform(tmp_path)
    gateway = None
    try:
        gateway = start_gateway(tmp_path, platform.url)
        yield platform, gateway
    finally:
        if gateway:
            gateway.stop()
        platform.stop()


def test_make_load_drives_a_gateway_started_by_hand(hand_started, tmp_path):
    platform, gateway = hand_started
    # GATEWAY_URL alone: its platform from its /v1/status, the control API on the usual control port
    # (here LOADTESTS_CONTROL_PORT) once it proves it is that platform's
    e = env(SIM_ADMIN_TOKEN=ADMIN_TOKEN, LOADTESTS_CONTROL_PORT=platform.extra["control"].rsplit(":", 1)[1])
    r = make("SCENARIO=outage", "DURATION=20s", "USERS=8", f"GATEWAY_URL={gateway.url}", env=e)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    first = r.stdout.splitlines()[:2]  # reused services named first
    assert first[0].startswith(f"reusing platform: {platform.url} (your target's platform, control {platform.extra['control']}")
    assert first[1].startswith(f"reusing gateway: {gateway.url} (GATEWAY_URL"), first
    assert "SLO PASS" in r.stdout and "not collected" not in r.stdout
    assert re.search(r"^phase degraded ", r.stdout, re.M)  # progress while it runs


def test_a_plain_forwarder_runs_and_says_what_it_could_not_measure(hand_started, tmp_path):
    platform, _ = hand_started
    forwarder = start_forwarder(platform.url, tmp_path)
    try:
        r = make("SCENARIO=outage", "DURATION=16s", "USERS=6", f"GATEWAY_URL={forwarder.url}",
                 f"PLATFORM_URL={platform.url}", f"CONTROL_URL={platform.extra['control']}",
                 env=env(SIM_ADMIN_TOKEN=ADMIN_TOKEN))
    finally:
        forwarder.stop()
    assert r.returncode in (1, 2), r.stdout[-3000:]  # it fails its gate (no stand-in), it does not crash
    assert "Traceback" not in r.stderr
    summary, _ = summary_of(r.stdout)
    assert set(summary["not_collected"]) == {"breaker", "journal", "drain", "reconciliation"}
    judged = {s["metric"]: s["pass"] for s in summary["slos"]}
    assert judged["breaker.opened_after_s"] is None and judged["journal.pending"] is None
    assert judged["unexpected"] is False  # what it could measure, it did: the shops were failed
    assert "not collected: breaker: the target does not answer this product's /v1/status" in r.stdout
    assert summary["requests"] > 20


def _run_until_a_phase(cmd, e):
    proc = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own session: the group a terminal would signal
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("phase steady"):
            break
    return proc, lines


def test_closing_the_terminal_of_make_load_leaves_nothing_running():
    e = env()
    proc, lines = _run_until_a_phase(["make", "--no-print-directory", "load", "SCENARIO=steady", "DURATION=60s",
                                      "USERS=4"], e)
    text = "".join(lines)
    assert "started platform" in text and "started gateway" in text, text
    folder = re.search(r"report in (\S+)", text).group(1)
    os.killpg(proc.pid, signal.SIGHUP)  # what the kernel does to the terminal's process group
    out, err = proc.communicate(timeout=90)
    ports = [int(e[k]) for k in ("LOADTESTS_GATEWAY_PORT", "LOADTESTS_PLATFORM_PORT", "LOADTESTS_CONTROL_PORT")]
    assert leftovers(ports, folder) == []
    assert not any(listening(p) for p in ports)
    assert "Traceback" not in err, err[-2000:]
    summary = json.loads((Path(folder) / "summary.json").read_text())  # the partial report was still written
    assert summary["interrupted"] is True


def test_ctrl_c_writes_a_partial_report_and_exits_130():
    e = env()
    proc, lines = _run_until_a_phase([sys.executable, "-m", "loadtests", "run", "--scenario", "steady",
                                      "--duration", "60s", "--users", "4"], e)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, out[-2000:] + err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert "INTERRUPTED (partial)" in out
    summary, folder = summary_of(out)
    assert summary["interrupted"] is True and summary["requests"] > 0
    assert (folder / "timeline.png").stat().st_size > 0


def test_a_reused_platform_that_refuses_the_token_stops_the_run_before_it_starts(hand_started):
    platform, _ = hand_started
    e = env(SIM_ADMIN_TOKEN="wrong-token", LOADTESTS_PLATFORM_PORT=str(platform.extra["port"]),
            LOADTESTS_CONTROL_PORT=platform.extra["control"].rsplit(":", 1)[1])
    r = cli("--scenario", "steady", "--duration", "10s", env=e)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "does not accept your SIM_ADMIN_TOKEN" in r.stderr and "Ways out" in r.stderr
    assert "Traceback" not in r.stderr and "started" not in r.stdout
    assert not listening(int(e["LOADTESTS_GATEWAY_PORT"]))  # nothing was started
    del e["SIM_ADMIN_TOKEN"]
    r = cli("--scenario", "steady", "--duration", "10s", env=e)
    assert r.returncode == 2 and "SIM_ADMIN_TOKEN is not set" in r.stderr


class Recorder:
    """A listener that is not this product: answers every request 200 "hello", keeps every byte."""

    def __init__(self, port):
        self.data = bytearray()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.data += conn.recv(65536)
                except OSError:
                    pass
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n"
                             b"Connection: close\r\n\r\n{\"status\": \"ok\"}\n")

    def close(self):
        self.sock.close()


def test_nothing_secret_goes_to_a_listener_that_is_not_this_product(hand_started):
    e = env(SIM_ADMIN_TOKEN=SECRET)
    fakes = [Recorder(int(e[k])) for k in ("LOADTESTS_PLATFORM_PORT", "LOADTESTS_CONTROL_PORT")]
    try:
        r = cli("--scenario", "steady", "--duration", "10s", env=e)
    finally:
        for f in fakes:
            f.close()
    assert r.returncode == 2 and "not this product's control API" in r.stderr, r.stdout + r.stderr
    seen = b"".join(bytes(f.data) for f in fakes)
    assert b"/v1/identity?nonce=" in seen  # it was asked who it is...
    assert SECRET.encode() not in seen and b"Authorization" not in seen and b"client_secret" not in seen

    # a real platform, but something else on the gateway's port: no shop's token goes there either
    platform, _ = hand_started
    e = env(SIM_ADMIN_TOKEN=ADMIN_TOKEN, LOADTESTS_PLATFORM_PORT=str(platform.extra["port"]),
            LOADTESTS_CONTROL_PORT=platform.extra["control"].rsplit(":", 1)[1])
    fake = Recorder(int(e["LOADTESTS_GATEWAY_PORT"]))
    try:
        r = cli("--scenario", "steady", "--duration", "10s", env=e)
    finally:
        fake.close()
    assert r.returncode == 2 and "not this product's gateway" in r.stderr, r.stdout + r.stderr
    assert b"Authorization" not in bytes(fake.data) and ADMIN_TOKEN.encode() not in bytes(fake.data)


def test_a_misspelt_slo_metric_is_refused_with_the_valid_names(tmp_path):
    scenario = tmp_path / "mine.py"
    scenario.write_text('from loadtests.scenarios import PlannedPhase\nfrom loadtests.slo import Slo\n'
                        'PHASES = [PlannedPhase("blackhole", 5, 2, 2, {"mode": "blackhole"}, "outage")]\n'
                        'SLOS = [Slo("opens", "breaker.opend_after_s", "<=", 5)]\n')
    e = env()
    r = cli("--scenario", str(scenario), env=e, timeout=60)
    assert r.returncode == 2
    assert "unknown metric 'breaker.opend_after_s'" in r.stderr and "breaker.opened_after_s" in r.stderr
    assert not listening(int(e["LOADTESTS_PLATFORM_PORT"]))  # refused before anything started
