"""A throwaway PostgreSQL server for the tests and the benchmarks: Debian's server programs
(`initdb`, `pg_ctl`, `postgres`) run a fresh cluster in a folder, on 127.0.0.1 and a free port,
with a random admin password, and stop it afterwards. No mock: the real server.

    with PostgresCluster.start(folder) as cluster:
        url = cluster.create_database("t_one")   # postgresql://workbench_admin:...@127.0.0.1:PORT/t_one

The server trades durability for speed (fsync, synchronous_commit and full_page_writes off): it is
a test server, never a place for data. As root, the server programs run as Debian's `postgres` user
(they refuse root). The admin password never appears in a message or in the server's log.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

ADMIN_USER = "workbench_admin"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30
INSTALL_HINT = (
    "install Debian's PostgreSQL server (apt-get install postgresql), "
    "or set WORKBENCH_PG_BIN to the folder that holds initdb, pg_ctl and postgres"
)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes with its NUL; the name adds /.s.PGSQL.NNNNN
SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "logging_collector": "off",
}
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}  # as a real server commits


def find_server_bin() -> Path:
    """The folder of PostgreSQL's server programs: $WORKBENCH_PG_BIN, else the newest
    /usr/lib/postgresql/*/bin (Debian), else where `initdb` on PATH lives."""
    given = os.environ.get("WORKBENCH_PG_BIN")
    if given:
        folder = Path(given)
        missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (folder / name).is_file()]
        if missing:
            raise RuntimeError(f"WORKBENCH_PG_BIN={given} holds no {', '.join(missing)}: {INSTALL_HINT}")
        return folder
    versions = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        number = initdb.parent.parent.name
        key = tuple(int(part) for part in number.split(".") if part.isdigit())
        versions.append((key, initdb.parent))
    if versions:
        return max(versions)[1]
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise RuntimeError(f"no PostgreSQL server programs found (no initdb): {INSTALL_HINT}")


def check_identifier(name: str, what: str = "database") -> str:
    """A name for a database or role: lower-case letters, digits and _, at most 63 characters."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{what} name {name!r} is not a plain identifier: use lower-case letters, digits and _ "
            "(starting with a letter or _), at most 63 characters"
        )
    return name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _log_tail(log: Path, start: int = 0, lines: int = 25) -> str:
    try:
        with open(log, "rb") as handle:
            handle.seek(start)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(the server log is empty)"


class PostgresCluster:
    """A running throwaway cluster; see the module's docstring."""

    def __init__(self, folder: Path, bin_dir: Path, run_as: str | None):
        self.folder = Path(folder)
        self.bin_dir = bin_dir
        self.run_as = run_as  # the system user the server programs run as (None: ourselves)
        self.host = HOST
        self.port: int | None = None
        self.admin_user = ADMIN_USER
        self.admin_password = secrets.token_urlsafe(24)
        self._cleanup: list[Path] = []  # folders we made outside `folder` (removed on stop)
        self.base = self.folder
        self.data_dir = self.folder / "data"
        self.log_path = self.folder / "server.log"
        self.socket_dir = self.folder / "s"
        self._running = False

    def __repr__(self) -> str:  # never the password
        return f"PostgresCluster(host={self.host!r}, port={self.port!r}, data={str(self.data_dir)!r})"

    # --- starting ------------------------------------------------------------------------------

    @classmethod
    def start(cls, folder: Path, *, durable: bool = False) -> PostgresCluster:
        """initdb a fresh cluster into folder/data and start it; raises RuntimeError on failure
        (with the tail of folder/server.log). `durable`: fsync, synchronous_commit and
        full_page_writes as a real server has them (a benchmark's), not off (the tests')."""
        bin_dir = find_server_bin()
        run_as = None
        if os.geteuid() == 0:
            run_as = "postgres"
            try:
                pwd.getpwnam(run_as)
            except KeyError:
                raise RuntimeError(
                    "running as root, the PostgreSQL server must run as the 'postgres' system user, "
                    "and there is none: install Debian's package (apt-get install postgresql), which "
                    "creates it, or run the tests as an ordinary user"
                ) from None
        cluster = cls(Path(folder), bin_dir, run_as)
        cluster.durable = durable
        try:
            cluster._prepare_folders()
            cluster._initdb()
            cluster._start_server()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _as_server(self, argv: list[str]) -> list[str]:
        """argv run as the server's user: as is, or (as root) through runuser or setpriv."""
        if self.run_as is None:
            return argv
        if shutil.which("runuser"):
            return ["runuser", "-u", self.run_as, "--", *argv]
        if shutil.which("setpriv"):
            return ["setpriv", f"--reuid={self.run_as}", f"--regid={self.run_as}", "--init-groups", *argv]
        raise RuntimeError("running as root needs runuser or setpriv (util-linux) to run PostgreSQL as 'postgres'")

    def _run(self, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env.setdefault("LC_ALL", "C.UTF-8")
        return subprocess.run(
            self._as_server([str(self.bin_dir / program), *args]),
            cwd=self.base, env=env, capture_output=True, text=True, timeout=timeout,
        )

    def _own(self, path: Path) -> None:
        if self.run_as is not None:
            shutil.chown(path, self.run_as, self.run_as)

    def _server_can_write(self, path: Path) -> bool:
        if self.run_as is None:
            return True
        argv = self._as_server(["test", "-w", str(path), "-a", "-x", str(path)])
        return subprocess.run(argv, capture_output=True).returncode == 0

    def _short_tempdir(self, prefix: str) -> Path:
        root = "/tmp" if os.path.isdir("/tmp") else None
        made = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        self._cleanup.append(made)
        self._own(made)
        return made

    def _prepare_folders(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if (self.folder / "data").exists():
            raise RuntimeError(f"{self.folder / 'data'} exists already: give PostgresCluster.start an empty folder")
        self._own(self.folder)
        if not self._server_can_write(self.folder):
            # a folder under one the postgres user cannot enter (pytest's /tmp/pytest-of-root is
            # 0700): the server's files go to a folder of their own, linked from `folder`
            self.base = self._short_tempdir("wbpg-")
            (self.folder / "data").symlink_to(self.base / "data")
            (self.folder / "server.log").symlink_to(self.base / "server.log")
        self.data_dir = self.base / "data"
        self.log_path = self.base / "server.log"
        self.socket_dir = self.base / "s"
        if len(str(self.socket_dir / ".s.PGSQL.65535").encode()) > _SOCKET_PATH_LIMIT or "'" in str(self.socket_dir):
            self.socket_dir = self._short_tempdir("wbpgs-")
        else:
            self.socket_dir.mkdir(exist_ok=True)
            self._own(self.socket_dir)
        self.log_path.touch()
        self._own(self.log_path)

    def _initdb(self) -> None:
        pwfile = self.base / ".pwfile"
        pwfile.touch(mode=0o600)
        os.chmod(pwfile, 0o600)
        pwfile.write_text(self.admin_password + "\n")
        self._own(pwfile)
        try:
            failure = ""
            for locale in ("C.UTF-8", "C"):
                done = self._run(
                    "initdb", "-D", str(self.data_dir), "-U", self.admin_user, f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", f"--locale={locale}",
                    "--no-sync",
                )
                if done.returncode == 0:
                    break
                failure = (done.stdout + done.stderr).strip()[-2000:]
                shutil.rmtree(self.data_dir, ignore_errors=True)
            else:
                raise RuntimeError(f"initdb failed in {self.data_dir}:\n{failure}")
        finally:
            pwfile.unlink(missing_ok=True)
        settings = {**SETTINGS, **(DURABLE if getattr(self, "durable", False) else {})}
        lines = [f"{key} = {value}" for key, value in settings.items()]
        lines.append(f"unix_socket_directories = '{self.socket_dir}'")
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# PostgresCluster (a throwaway test server)\n" + "\n".join(lines) + "\n")

    def _start_server(self) -> None:
        log = self.folder / "server.log"  # where the log is (or, after stop, a copy)
        for _attempt in range(5):
            port = free_port()
            log_start = self.log_path.stat().st_size
            try:
                done = self._run(
                    "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
                    "-t", str(START_TIMEOUT_S), "-o", f"-p {port}", timeout=START_TIMEOUT_S + 15,
                )
                ok = done.returncode == 0
                said = (done.stdout + done.stderr).strip()
            except subprocess.TimeoutExpired:
                ok, said = False, f"pg_ctl did not return within {START_TIMEOUT_S + 15} s"
            if ok:
                self.port = port
                self._running = True
                atexit.register(self.stop)
                return
            tail = _log_tail(self.log_path, log_start)
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", timeout=60)
            if "could not bind" in tail or "already in use" in tail:
                continue  # the port was taken between our probe and the server's bind: another one
            raise RuntimeError(f"the PostgreSQL test server did not start ({said}); {log} ends:\n{tail}")
        raise RuntimeError(f"the PostgreSQL test server found no free port in 5 tries; {log} ends:\n{tail}")

    # --- using -----------------------------------------------------------------------------------

    def url(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """postgresql://user:password@127.0.0.1:port/dbname; the admin's user and password unless
        `user` is given (then the URL has `password`, or none when it is None)."""
        if user is None:
            user, password = self.admin_user, self.admin_password if password is None else password
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def connect(self, dbname: str = "postgres"):
        """An autocommit psycopg connection as the admin, over the server's unix socket (trusted:
        no password exchange, so admin calls cost a few ms; `url()` is the TCP way, with it)."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=self.admin_user, dbname=dbname,
            autocommit=True, connect_timeout=10,
        )

    def sql(self, statement, params=None, dbname: str = "postgres") -> list[tuple]:
        """Run one admin statement (autocommit) and return its rows ([] for a statement without)."""
        with self.connect(dbname) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description is not None else []

    def create_database(self, name: str, template: str = "template0") -> str:
        """A new empty database (a copy of template0, or of `template`); returns its admin URL."""
        from psycopg import sql

        check_identifier(name)
        check_identifier(template, "template database")
        self.sql(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop the database if it exists, ending the sessions still connected to it."""
        from psycopg import sql

        check_identifier(name)
        self.sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create_role(self, name: str, password: str | None, *, login: bool = True) -> None:
        """A role with a password (sent as its SCRAM verifier, so the plain password never reaches
        the server or its log), able to log in unless login=False."""
        from psycopg import sql

        check_identifier(name, "role")
        with self.connect() as conn:
            parts = [sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)), sql.SQL("LOGIN" if login else "NOLOGIN")]
            if password is not None:
                verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
                parts.append(sql.SQL("PASSWORD {}").format(sql.Literal(verifier.decode())))
            conn.execute(sql.SQL(" ").join(parts))

    # --- stopping --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the server (pg_ctl stop -m fast). The folder stays for the caller to remove; folders
        made outside it (a short socket folder, root's server files) are removed, the log copied."""
        atexit.unregister(self.stop)
        if self._running:
            self._running = False
            try:
                data = str(self.data_dir)
                done = self._run("pg_ctl", "stop", "-D", data, "-m", "fast", "-w", "-t", "30", timeout=60)
                if done.returncode != 0:
                    self._run("pg_ctl", "stop", "-D", data, "-m", "immediate", "-w", timeout=60)
            except subprocess.TimeoutExpired:
                pass
        for made in self._cleanup:
            if made == self.base and self.log_path.exists():
                link = self.folder / "server.log"
                link.unlink(missing_ok=True)
                shutil.copyfile(self.log_path, link)
                (self.folder / "data").unlink(missing_ok=True)
            shutil.rmtree(made, ignore_errors=True)
        self._cleanup = []

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
