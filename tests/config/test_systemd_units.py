"""deploy/systemd/: the unit files pass `systemd-analyze verify`, with the checkout's own paths in place of
/srv/switchboard (verify needs ExecStart's binary to exist), and keep what a rolling restart needs."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTANCES = {"switchboard-daphne@.service": "8101", "switchboard-worker@.service": "gateway"}


def installed(tmp_path: Path) -> list[Path]:
    """The units as a machine would hold them, at this checkout's paths; templates as one instance."""
    out = []
    for unit in sorted(UNITS.iterdir()):
        text = unit.read_text().replace("/srv/switchboard/.venv", str(ROOT / ".venv"))
        text = text.replace("/srv/switchboard", str(ROOT))
        name = unit.name.replace("@.", f"@{INSTANCES[unit.name]}.") if unit.name in INSTANCES else unit.name
        (tmp_path / name).write_text(text)
        out.append(tmp_path / name)
    return out


def verify(paths: list[Path]) -> subprocess.CompletedProcess:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian's systemd package; scripts/bootstrap.sh dev installs it)")
    return subprocess.run([analyze, "verify", "--man=no", *map(str, paths)], capture_output=True, text=True, timeout=60)


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    paths = installed(tmp_path)
    assert {p.name for p in paths} >= {
        "switchboard-daphne@8101.service",
        "switchboard-worker@gateway.service",
        "switchboard-beat.service",
        "switchboard.target",
    }
    result = verify(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "switchboard" in line]
    assert ours == [], ours


def test_verify_refuses_a_broken_unit(tmp_path):
    # The check above means something: a unit whose program is missing fails it.
    (broken,) = [p for p in installed(tmp_path) if p.name == "switchboard-beat.service"]
    broken.write_text(broken.read_text().replace(str(ROOT / ".venv" / "bin" / "celery"), "/nonexistent/celery"))
    result = verify([broken])
    assert result.returncode != 0
    assert "nonexistent" in result.stdout + result.stderr


def service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNITS / name)
    return parser["Service"]


@pytest.mark.parametrize(
    "name", ["switchboard-daphne@.service", "switchboard-worker@.service", "switchboard-beat.service"]
)
def test_every_service_stops_with_sigterm_as_its_own_user_hardened(name):
    unit = service(name)
    assert unit["KillSignal"] == "SIGTERM"
    assert unit["User"] == "switchboard" and unit["Restart"] == "always"
    assert unit["EnvironmentFile"].startswith("/etc/switchboard/")
    for option in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices"):
        assert unit[option] == "yes", option
    assert unit["ProtectSystem"] == "strict"


def test_daphne_has_time_to_drain_before_sigkill():
    unit = service("switchboard-daphne@.service")
    assert int(unit["TimeoutStopSec"]) > settings.DRAIN_SECONDS + 5
    assert "-p %i" in unit["ExecStart"] and "--proxy-headers" in unit["ExecStart"]
    # The worker waits for its longest task (CELERY_VISIBILITY_TIMEOUT bounds a task's redelivery).
    assert int(service("switchboard-worker@.service")["TimeoutStopSec"]) >= 300
