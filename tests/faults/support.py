"""What the fault tests share: real server processes (daphne behind nginx, a Celery worker with beat, a
Redis or a MariaDB server of a test's own) and the checks of the end state against MySQL. The clients,
which survive their socket dying as the widget and the console do, are the project's protocol client
(switchboard_client)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from switchboard_client import Agent, Customer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def alive(pid: int) -> bool:
    """The process runs (a zombie that nobody reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_and_wait(proc: subprocess.Popen, timeout: float) -> int:
    """SIGTERM, as a service manager stops a process, and its exit code once it has exited."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


# --- processes ---------------------------------------------------------------------------------------
class RedisServer:
    """A redis-server of the test's own, without persistence: kill() and start() again is a Redis that
    lost everything, on the same port, while the machine's shared Redis is left alone."""

    def __init__(self, workdir: Path, *, replica_of: int | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.replica_of = replica_of  # the primary's port: a replica of it (`--replicaof`)

    def start(self) -> None:
        log = open(self.workdir / f"redis-{self.port}.log", "a")  # noqa: SIM115 - lives as long as the process
        replica = ["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []
        self.proc = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *replica,
            ],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


class RedisSentinel:
    """A Redis Sentinel of the test's own (`redis-server <conf> --sentinel`, Debian's redis-server) watching
    the primary on `primary_port` as `service`, with the sentinel.conf of docs/deployment.md scaled down
    to a test: the primary is held down after `down_after_ms` and a failover may take `failover_timeout_ms`.
    Sentinel rewrites its file as it learns the replicas and the other sentinels: each has its own."""

    def __init__(
        self,
        workdir: Path,
        primary_port: int,
        *,
        service: str = "mymaster",
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.conf = workdir / f"sentinel-{self.port}.conf"
        self.conf.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {workdir}\n"
            f"sentinel monitor {service} 127.0.0.1 {primary_port} {quorum}\n"
            f"sentinel down-after-milliseconds {service} {down_after_ms}\n"
            f"sentinel failover-timeout {service} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {service} 1\n"
        )
        self.service = service
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.workdir / f"sentinel-{self.port}.log", "a")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            ["redis-server", str(self.conf), "--sentinel"], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
        )
        wait_port(self.port)

    def primary(self) -> tuple[str, int] | None:
        """The primary this sentinel names now (SENTINEL get-master-addr-by-name), or None."""
        import redis

        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            answer = client.execute_command("SENTINEL", "get-master-addr-by-name", self.service)
        except redis.RedisError:
            return None
        finally:
            client.close()
        return (answer[0].decode(), int(answer[1])) if answer else None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


class MariaDbServer:
    """A MariaDB server of the test's own on a free loopback port, with its datadir under `workdir`:
    kill() (SIGKILL, as a crash) and start() again is the same data after InnoDB's crash recovery, while
    the machine's shared MariaDB is left alone. root has no password; the database is `name`."""

    SERVER = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
    INSTALL = ("/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db")

    def __init__(self, workdir: Path, name: str = "switchboard", options: list[str] | None = None) -> None:
        self.workdir = workdir
        self.datadir = workdir / "mariadb"
        self.port = free_port()
        self.name = name
        self.url = f"mysql://root@127.0.0.1:{self.port}/{name}"
        self.proc: subprocess.Popen | None = None
        self.server = next((p for p in self.SERVER if os.path.exists(p)), None)
        self.installer = next((p for p in self.INSTALL if os.path.exists(p)), None)
        # Small files and buffers: the server lives for one test.
        self.options = ["--no-defaults", f"--datadir={self.datadir}", "--innodb-log-file-size=8M"]
        if os.geteuid() == 0:
            self.options.append("--user=root")
        self.options += options or []  # e.g. binary logging and a server id, for replication

    @property
    def missing(self) -> str | None:
        """Why this machine cannot run one (no server or installer binary), or None."""
        if self.server is None or self.installer is None:
            return f"no MariaDB server binaries ({', '.join(self.SERVER + self.INSTALL)})"
        return None

    def install(self) -> None:
        """A fresh datadir and the (empty) database."""
        subprocess.run(
            [self.installer, *self.options, "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True,
            capture_output=True,
        )
        self.start()
        self.query(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def start(self) -> None:
        log = open(self.workdir / "mariadb.log", "a")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [
                self.server,
                *self.options,
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.workdir / 'mariadb.sock'}",
                f"--pid-file={self.workdir / 'mariadb.pid'}",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--max-connections=300",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:  # the port opens once crash recovery is done; a query says it answers
            try:
                self.query("SELECT 1")
                return
            except Exception as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.workdir / "mariadb.log").read_text()[-2000:]
                    raise RuntimeError(f"MariaDB did not start: {log}") from exc
                time.sleep(0.2)

    def query(self, sql: str) -> None:
        import MySQLdb

        db = MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2)
        try:
            db.cursor().execute(sql)
        finally:
            db.close()

    def rows(self, sql: str) -> list[dict]:
        import MySQLdb
        import MySQLdb.cursors

        db = MySQLdb.connect(
            host="127.0.0.1", port=self.port, user="root", connect_timeout=2, cursorclass=MySQLdb.cursors.DictCursor
        )
        try:
            cursor = db.cursor()
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            db.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


class Cluster:
    """daphne processes on the test database behind nginx; optionally a Celery worker with beat (the
    production shape of scripts/cluster.sh). Each process's log is under `workdir`."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        redis_url: str,
        *,
        daphnes: int = 2,
        celery: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            # Without a worker, routing's tasks run in the request; with one, they go through the broker.
            "CELERY_TASK_ALWAYS_EAGER": "0" if celery else "1",
            "INPROCESS_TIMERS": "0",
            "IM_WIDGET_SESSIONS_PER_MINUTE": "100000",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.ports = [free_port() for _ in range(daphnes)]
        self.listen = free_port()
        self.base = f"http://127.0.0.1:{self.listen}"
        self.celery = celery
        self.daphne_procs: list[subprocess.Popen] = []
        self.other_procs: list[subprocess.Popen] = []
        self.nginx = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "a")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def _daphne_spawn(self, port: int) -> subprocess.Popen:
        daphne = [str(BIN / "daphne"), "--proxy-headers", "-b", "127.0.0.1", "-p", str(port)]
        return self._spawn(f"daphne-{port}", [*daphne, "config.asgi:application"])

    def start(self) -> None:
        for port in self.ports:
            self.daphne_procs.append(self._daphne_spawn(port))
        if self.celery:
            self.other_procs.append(self._celery_spawn())
        subprocess.run(
            [
                sys.executable,
                "deploy/nginx_conf.py",
                str(self.workdir),
                str(self.listen),
                str(self.workdir),
                *(f"127.0.0.1:{p}" for p in self.ports),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        self.nginx_start()
        for port in self.ports:
            wait_port(port)

    def daphne_restart(self, index: int, timeout: float = 30) -> int:
        """SIGTERM to a daphne process (it drains), wait for it to exit, start it again on its port and
        wait until it listens. Returns the exit code of the stopped one."""
        returncode = stop_and_wait(self.daphne_procs[index], timeout)
        self.daphne_procs[index] = self._daphne_spawn(self.ports[index])
        wait_port(self.ports[index])
        return returncode

    def celery_restart(self, timeout: float = 60) -> int:
        """SIGTERM to the Celery worker (warm shutdown: it ends its current task), wait for it to exit,
        start it again. Returns the exit code of the stopped one."""
        returncode = stop_and_wait(self.other_procs[0], timeout)
        self.other_procs[0] = self._celery_spawn()
        return returncode

    def _celery_spawn(self) -> subprocess.Popen:
        # One worker on every queue with beat inside it: routing.tick every second.
        return self._spawn(
            "celery",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "-B",
                "-s",
                str(self.workdir / "celerybeat-schedule"),
                "-Q",
                "default,gateway,routing,media,bots,webhooks",
                "-c",
                "1",
                "--pool",
                "solo",
                "--loglevel",
                "WARNING",
            ],
        )

    def nginx_start(self) -> None:
        subprocess.run([self.nginx, "-c", str(self.workdir / "nginx.conf"), "-p", str(self.workdir)], check=True)
        wait_port(self.listen)

    def nginx_kill(self) -> None:
        """SIGKILL to nginx's master and its workers, as a crash: every socket through it dies at once."""
        master = int((self.workdir / "nginx.pid").read_text())
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        for pid in [master, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in [master, *map(int, children)]):
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not die")
            time.sleep(0.05)
        (self.workdir / "nginx.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        subprocess.run(
            [self.nginx, "-c", str(self.workdir / "nginx.conf"), "-p", str(self.workdir), "-s", "stop"], check=False
        )
        for proc in [*self.daphne_procs, *self.other_procs]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.daphne_procs, *self.other_procs]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


# --- checks ------------------------------------------------------------------------------------------
def check_messages(agents: list[Agent], customers: list[Customer], *, agent_screens: bool = True) -> list[dict]:
    """Every acknowledged message is in MySQL exactly once; every conversation's seq runs 1..N; every
    customer's screen is MySQL's conversation (less what was hidden from them); every agent's screen is
    MySQL's for each conversation it holds. Returns the rows."""
    from imsubsystem.models import Message

    peers = [*agents, *customers]
    assert not [e for p in peers for e in p.errors], [
        (type(p).__name__, p.error_details[:3], p.reconnects) for p in peers if p.errors
    ]
    assert not any(p.unacked for p in peers), "something was never acknowledged"
    rows = list(Message.objects.values("id", "conversation_id", "seq", "client_id", "private"))
    by_client_id = Counter(r["client_id"] for r in rows if r["client_id"])
    acked = set().union(*(p.acked for p in peers))
    assert acked, "nothing was acknowledged"
    assert all(by_client_id.get(client_id) == 1 for client_id in acked), "an ack without exactly one row"
    assert all(n == 1 for n in by_client_id.values()), "a client_id stored twice"
    by_conversation: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        by_conversation.setdefault(row["conversation_id"], []).append((row["seq"], row["id"]))
    for mine in by_conversation.values():
        mine.sort()
        assert [s for s, _ in mine] == list(range(1, len(mine) + 1)), "seq with a gap in MySQL"
    for customer in customers:
        hidden = set(customer.screen.hidden_seqs(customer.conversation_id))
        expected = [(s, i) for s, i in by_conversation.get(customer.conversation_id, []) if s not in hidden]
        assert customer.screen.shown(customer.conversation_id) == expected, "a customer's screen differs from MySQL"
    if agent_screens:
        for agent in agents:
            for conversation_id in agent.conversations:
                assert agent.screen.shown(conversation_id) == by_conversation.get(conversation_id, []), (
                    "an agent's screen differs from MySQL"
                )
    return rows


def check_holding(agents: list[Agent]) -> dict[int, int]:
    """No conversation held by two agents: MySQL's conversation, routing's work item and each console
    agree on one holder, and no agent holds more than its capacity. Returns conversation -> agent."""
    from imsubsystem.models import Conversation
    from routing.models import AgentProfile, WorkItem, WorkStatus

    assigned = dict(Conversation.objects.filter(status="assigned").values_list("pk", "assignee_id"))
    work = dict(WorkItem.objects.filter(status=WorkStatus.ASSIGNED).values_list("ref", "agent_id"))
    assert assigned == work, "the switch and routing disagree on who holds what"
    consoles: dict[int, list[int]] = {}
    for agent in agents:
        for conversation_id in agent.conversations:
            consoles.setdefault(conversation_id, []).append(agent.user_id)
    assert all(len(holders) == 1 for holders in consoles.values()), "a conversation on two agents' consoles"
    assert {c: h[0] for c, h in consoles.items()} == assigned, "the consoles differ from MySQL"
    load = Counter(assigned.values())
    for profile in AgentProfile.objects.filter(user_id__in=load):
        assert load[profile.user_id] <= profile.default_capacity, "an agent above capacity"
    return assigned
