"""A PostgreSQL address as a person gives it, and as it may be shown: never with its password.

`--db postgresql://ana@db.team:5432/workbench` (or `postgres://`, or `WORKBENCH_DB`) names a
server; libpq fills in what the URL leaves out from the standard `PG*` variables (`PGHOST`,
`PGUSER`, `PGPASSWORD`, ...) and the password from `~/.pgpass` (or `PGPASSFILE`). The password
may also be in the URL itself. Wherever it came from, it stays in the connection string handed
to psycopg: `location` (what logs, errors, the sidebar and `mcp --print-config` show) has none,
and `scrub` takes a known password out of any text before it is shown.
"""

from __future__ import annotations

import os
import urllib.parse

from engine.errors import StoreError

SCHEMES = ("postgresql://", "postgres://")
_SECRET_KEYS = ("password", "passfile", "sslpassword")


def is_postgres_target(target: str) -> bool:
    return target.startswith(SCHEMES)


class PostgresTarget:
    """The connection string (private) and its printable `location`."""

    def __init__(self, url: str) -> None:
        import psycopg.conninfo

        try:
            parts = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            reason = scrub(str(exc).strip().replace(url, redact_url(url)), _url_password(url))
            raise StoreError(f"cannot read the PostgreSQL address {redact_url(url)}: {' '.join(reason.split())}; "
                             "write it as postgresql://USER@HOST:PORT/DATABASE (the password in PGPASSWORD or "
                             "~/.pgpass)") from None
        if "@" in (parts.get("host") or ""):  # an '@' in the password, not written %40: the rest reads as the host
            raise StoreError(f"cannot read the PostgreSQL address {redact_url(url)}: a '@' in the password must be "
                             "written %40 in the URL (or give the password in PGPASSWORD or ~/.pgpass)")
        self.conninfo = url
        self.password = parts.get("password") or os.environ.get("PGPASSWORD") or None
        self.user = parts.get("user") or os.environ.get("PGUSER")
        self.location = _location(parts)

    def __repr__(self) -> str:
        return f"<PostgresTarget {self.location}>"

    def scrub(self, text: str) -> str:
        return scrub(text, self.password)


def scrub(text: str, password: str | None) -> str:
    """`text` with `password` (and its URL-encoded form) replaced by `***`."""
    if password:
        for form in {password, urllib.parse.quote(password, safe=""), urllib.parse.quote(password)}:
            if len(form) >= 3:  # a two-letter password would blank out ordinary words
                text = text.replace(form, "***")
    return text


def redact_url(url: str) -> str:
    """A postgresql:// URL with any password taken out (for a URL that does not parse)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://..."
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2:
        user = netloc[0].split(":", 1)[0]
        netloc = [f"{user}@{netloc[1]}"]
    query = "&".join(pair for pair in parts.query.split("&") if pair and pair.split("=", 1)[0] not in _SECRET_KEYS)
    return urllib.parse.urlunsplit((parts.scheme, netloc[0], parts.path, query, ""))


def _url_password(url: str) -> str | None:
    """The password a URL holds, read as a person meant it (up to the last '@' before the host),
    even from a URL that does not parse."""
    rest = url.split("://", 1)[-1]
    netloc = rest.split("/", 1)[0].split("?", 1)[0]
    if "@" not in netloc:
        return None
    userinfo = netloc.rsplit("@", 1)[0]
    if ":" not in userinfo:
        return None
    password = userinfo.split(":", 1)[1]
    return urllib.parse.unquote(password) if password else None


def _location(parts: dict) -> str:
    user = parts.get("user") or os.environ.get("PGUSER") or ""
    host = parts.get("host") or os.environ.get("PGHOST") or "localhost"
    port = parts.get("port") or os.environ.get("PGPORT") or ""
    database = parts.get("dbname") or os.environ.get("PGDATABASE") or user or ""
    if host.startswith("/"):  # a socket folder
        where = f"postgresql://{urllib.parse.quote(user)}@/{urllib.parse.quote(database)}?host={host}"
        return where.replace("//@/", "///")
    netloc = f"{urllib.parse.quote(user)}@{host}" if user else host
    if port:
        netloc += f":{port}"
    return f"postgresql://{netloc}/{urllib.parse.quote(database)}"
