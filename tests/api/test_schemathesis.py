"""Schemathesis fuzzes every operation the OpenAPI document lists, on a running server (daphne, the embedded
profile on SQLite, the demo data, a seeded write token): no answer is a 500, and every answer matches the
document (status, content type, headers, body). Whatever endpoints exist when it runs are fuzzed: it reads
the document the server serves.

Also here: the document itself passes drf-spectacular's validation with warnings as errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from bench.server import free_port, server_env

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
# Each operation gets at most this many generated cases per phase; the run must end within MAX_TIME_S.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
MAX_TIME_S = int(os.environ.get("SCHEMATHESIS_MAX_TIME_S", "100"))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
# The fuzzed token's id: far from the small ids the fuzzer tries, so `DELETE /tokens/{id}` does not revoke it.
TOKEN_ID_FROM = 900_000_000


def test_the_openapi_document_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/rest/v1/me" in (tmp_path / "schema.yaml").read_text()


def _manage(env, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"daphne exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"daphne did not listen on {port}")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = server_env("embedded", var_dir)
    env.update({"API_RATE_LIMIT": "1000000/min", "LOG_LEVEL": "ERROR", "PYTHONUNBUFFERED": "1"})
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "seed_demo")
    _manage(
        env,
        "shell",
        stdin=(
            "from django.db import connection\n"
            "with connection.cursor() as c:\n"
            f"    c.execute(\"INSERT INTO sqlite_sequence(name, seq) VALUES ('api_apitoken', {TOKEN_ID_FROM})\")\n"
        ),
    )
    key = _manage(env, "api_token", "supervisor", "--scope", "write", "--name", "schemathesis").strip()
    assert key.startswith("sbk_")

    port = free_port()
    log_path = tmp_path / "daphne.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, server)
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"http://127.0.0.1:{port}/api/rest/v1/schema",
                "--checks",
                CHECKS,
                "--header",
                f"Authorization: Bearer {key}",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--generation-database",
                "none",
                "--seed",
                "20261205",
                "--workers",
                "1",
                "--request-timeout",
                "20",
                "--no-color",
                "--output-sanitize",
                "true",
            ],
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=MAX_TIME_S,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    output = result.stdout + result.stderr
    if os.environ.get("SCHEMATHESIS_OUTPUT"):
        Path(os.environ["SCHEMATHESIS_OUTPUT"]).write_text(output + log_path.read_text(errors="replace"))
    assert result.returncode == 0, (
        output[-12000:] + "\n--- server log ---\n" + log_path.read_text(errors="replace")[-4000:]
    )
    assert "No issues found" in output or "passed" in output, output[-4000:]
