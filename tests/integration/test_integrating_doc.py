"""docs/INTEGRATING.md cannot go stale: every sh (curl) and python block runs against a live platform.

The page speaks of the default addresses (platform :8081, control API :8082); the test
starts a platform with the sandbox's default population on free ports and substitutes
them, then runs the shell blocks in order as one bash script and the Python blocks in
order as one program, in a scratch directory where `.venv` points at this checkout's.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.procs import ADMIN_TOKEN, ROOT, start_platform

pytestmark = pytest.mark.integration
PAGE = ROOT / "docs" / "INTEGRATING.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(PAGE.read_text()) if kind == lang]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory.mktemp("integrating"), beneficiaries=200_000, workers=1)
    yield proc
    proc.stop()


def _scratch(tmp_path: Path, platform, text: str) -> str:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return (text.replace("http://127.0.0.1:8081", platform.url)
            .replace("http://127.0.0.1:8082", platform.extra["control"])
            .replace("--state-dir var/simulator", f"--state-dir {platform.extra['state']}"))


def _run(cmd: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SIM_ADMIN_TOKEN": ADMIN_TOKEN})


def test_the_page_has_a_curl_and_a_python_example_for_each_step():
    sh, py = "\n".join(blocks("sh")), "\n".join(blocks("python"))
    for step in ("/oauth/token", "/v1/eligibility", "/v1/pec", "/v1/pec/", "/v1/sandbox/reset"):
        assert step in sh and step in py, step
    assert sh.count("curl ") >= 6 and len(blocks("python")) >= 6


def test_every_curl_block_runs_against_a_live_platform_in_order(platform, tmp_path):
    script = _scratch(tmp_path, platform, "set -euo pipefail\n" + "\n".join(blocks("sh")))
    out = _run(["bash", "-c", script], tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert '"decision": "eligible"' in out.stdout and '"decision": "accepted"' in out.stdout
    assert '"status": "valid"' in out.stdout
    assert "HTTP 422" in out.stdout and "without spaces, dots or dashes" in out.stdout
    assert '"pecs_deleted": 1' in out.stdout


def test_every_python_block_runs_against_a_live_platform_in_order(platform, tmp_path):
    program = _scratch(tmp_path, platform, "\n\n".join(blocks("python")))
    (tmp_path / "quickstart.py").write_text(program)
    out = _run([str(ROOT / ".venv" / "bin" / "python"), "quickstart.py"], tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "eligible" in out.stdout and "accepted PEC-" in out.stdout and "422 VALIDATION_FAILED" in out.stdout
