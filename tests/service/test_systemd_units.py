"""The shipped units pass `systemd-analyze verify` and score an exposure of 2.0 or less in
`systemd-analyze security --offline=true`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = ("syncd.service", "syncd-web.service")
INSTALLED = "/opt/syncd/bin/syncd"  # the install path the README documents


def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt install systemd)")
    return tool


def staged(tmp_path: Path, unit: str) -> Path:
    """The unit with ExecStart pointing at this checkout's syncd: verify checks that the
    binary exists and is executable."""
    syncd = shutil.which("syncd") or str(REPO / ".venv" / "bin" / "syncd")
    target = tmp_path / unit
    target.write_text((REPO / "systemd" / unit).read_text().replace(INSTALLED, syncd))
    return target


@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies(unit: str, tmp_path: Path) -> None:
    tool = analyze()
    text = (REPO / "systemd" / unit).read_text()
    assert f"ExecStart={INSTALLED} " in text
    out = subprocess.run([tool, "verify", str(staged(tmp_path, unit))], capture_output=True,
                         text=True, check=False)
    problems = [line for line in (out.stdout + out.stderr).splitlines()
                if unit in line or "error" in line.lower()]
    assert out.returncode == 0 and not problems, out.stdout + out.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_unit_exposure_is_at_most_two(unit: str, tmp_path: Path) -> None:
    tool = analyze()
    out = subprocess.run([tool, "security", "--offline=true", str(staged(tmp_path, unit))],
                         capture_output=True, text=True, check=False)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout)
    assert match, out.stdout + out.stderr
    score = float(match.group(1))
    print(f"{unit}: systemd-analyze security exposure {score}")
    assert score <= 2.0, out.stdout


def test_service_unit_has_the_required_settings() -> None:
    text = (REPO / "systemd" / "syncd.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes",
                 "StateDirectory=syncd", "ConfigurationDirectory=syncd", "LogsDirectory=syncd",
                 "LoadCredential=", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
                 "RestrictAddressFamilies=", "SystemCallFilter=", "CapabilityBoundingSet=\n",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in text, line
