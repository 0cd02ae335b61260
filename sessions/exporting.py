"""Exports: one dispatch from a format's name to the writer that makes it.

`EXPORTS` lists every export format, in the order the CLI and the Export page offer them;
`export_session(session, name, path)` writes one and returns a line saying what it wrote
(or sent); `export_bytes(session, name)` gives a download's bytes, file name and media type.

- `jsonl`: the workbench trace (`Session.export`), which imports back exactly.
- `otlp`: OTLP JSON (`sessions.formats.otlp_export`); with an endpoint, the same trace is
  sent to a collector, with headers from `OTEL_EXPORTER_OTLP_HEADERS` (never from a command
  line or a page, never printed).
- `parquet`: a folder with `events.parquet` and `messages.parquet`; as a download, a zip of both.
- `markdown`: a transcript to read and share.
"""

from __future__ import annotations

import importlib
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine import WorkbenchError

if TYPE_CHECKING:
    from sessions.session import Session



@dataclass(frozen=True, slots=True)
class ExportFormat:
    name: str  # as --format takes it
    label: str
    description: str
    suffix: str  # of a downloaded file
    mime: str
    folder: bool = False  # -o names a folder, not a file


EXPORTS: dict[str, ExportFormat] = {
    "jsonl": ExportFormat(
        "jsonl", "JSONL trace",
        "The workbench trace: a header naming the session, then one event per line (`seq`, `ts`, `kind`, "
        "`payload`) in canonical JSON. Importing it reproduces the session exactly.",
        ".jsonl", "application/jsonl"),
    "otlp": ExportFormat(
        "otlp", "OTLP JSON",
        "An OpenTelemetry trace (OTLP JSON, GenAI semantic conventions): a span per model call and per tool "
        "call under a session span, every context edit a span event. Observability tools (Langfuse, Phoenix, "
        "Jaeger) read it, and the workbench imports it back.",
        ".otlp.json", "application/json"),
    "parquet": ExportFormat(
        "parquet", "Parquet tables",
        "Two tables for DuckDB, pandas or Polars: `events.parquet` (every event) and `messages.parquet` (one "
        "row per message: its original text beside what the model is sent now, status, tokens). The download "
        "is a zip of both; the CLI writes them into a folder.",
        "-parquet.zip", "application/zip", folder=True),
    "markdown": ExportFormat(
        "markdown", "Markdown transcript",
        "A transcript to read and share: each message under its role, folded and summarized parts marked, "
        "reasoning in collapsible blocks, tool calls and results in code blocks. The conversation's text is "
        "escaped so it cannot inject HTML where the Markdown is rendered.",
        ".md", "text/markdown"),
}


def export_format(name: str) -> ExportFormat:
    try:
        return EXPORTS[name]
    except (KeyError, TypeError):
        raise WorkbenchError(f"unknown export format {str(name)[:40]!r}; the formats are {', '.join(EXPORTS)}") from None


def _otlp_module():
    try:  # imported only when asked for
        return importlib.import_module("sessions.formats.otlp_export")
    except ModuleNotFoundError as exc:
        if exc.name != "sessions.formats.otlp_export":
            raise
        raise WorkbenchError("the otlp export is not installed in this checkout") from None


def otlp_headers() -> dict[str, str]:
    """The headers a send adds, from OTEL_EXPORTER_OTLP_HEADERS only (never shown: the page counts them)."""
    return _otlp_module().environment_headers()


def shown_url(url: str) -> str:
    """A URL as it may be printed: no user name, password, query or fragment (`otlp_send.shown_url`)."""
    return _otlp_module().shown_url(url)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def export_session(session: "Session", format_name: str, path: str | Path | None, *,
                   otlp_endpoint: str | None = None) -> str:
    """Write `session` as `format_name` to `path` (a folder for parquet) and, for otlp with an
    endpoint, send it there; returns one line saying what was written or sent."""
    chosen = export_format(format_name)
    if otlp_endpoint is not None and chosen.name != "otlp":
        raise WorkbenchError(f"an endpoint takes an OTLP trace; --otlp-endpoint goes with --format otlp, not {chosen.name}")
    if path is None and otlp_endpoint is None:
        where = "a folder" if chosen.folder else "a file"
        raise WorkbenchError(f"a {chosen.name} export needs {where} to write to (-o PATH)")
    if path is not None:
        _check_folder(Path(path))
    if chosen.name == "otlp":
        return _otlp(session, path, otlp_endpoint)
    path = Path(path)
    if chosen.name == "jsonl":
        written = session.export(path)
        return f"wrote {_plural(session.last_seq, 'event')} to {written}"
    state = session.state()
    if chosen.name == "parquet":
        from sessions.formats.parquet_export import write_parquet

        records = session.records()
        events, messages = write_parquet(path, session.info(), records, state, session.encoding)
        return (f"wrote {_plural(len(records), 'event')} to {events} and "
                f"{_plural(len(state.messages), 'message')} to {messages}")
    from sessions.formats.markdown_export import write_markdown

    written = write_markdown(path, session.info(), state, session.encoding)
    return f"wrote a Markdown transcript of {_plural(len(state.messages), 'message')} to {written}"


def _check_folder(path: Path) -> None:
    """A path whose folder is a file (or missing) is named before anything is made."""
    folder = path.expanduser().parent
    for above in (folder, *folder.parents):
        if above.exists():
            if not above.is_dir():
                raise WorkbenchError(f"cannot export to {path}: {above} is a file, not a folder")
            break


def _otlp(session: "Session", path: str | Path | None, endpoint: str | None) -> str:
    """Send first (with -o too), so a failed send leaves no new file behind; then write."""
    otlp_export = _otlp_module()
    url = otlp_export.traces_url(endpoint) if endpoint is not None else None  # a bad URL is refused before anything
    info, records = session.info(), session.records()
    events = _plural(len(records), "event")
    done = []
    if url is not None:  # headers from the environment, added by send_otlp itself
        try:
            delivery = otlp_export.send_otlp(url, otlp_export.otlp_document(info, records))
        except WorkbenchError as exc:
            if path is None:
                raise
            raise WorkbenchError(f"sending failed, so nothing was written to {Path(path)}: {exc}") from None
        done.append(f"sent the OTLP trace of {events} to {shown_url(url)} ({delivery.describe()})")
    if path is not None:
        try:
            written = otlp_export.write_otlp(Path(path), info, records)
        except WorkbenchError as exc:
            if not done:
                raise
            raise WorkbenchError(f"{done[0]}, but writing the file failed: {exc}") from None
        done.append(f"wrote the OTLP trace of {events} to {written}")
    return "; ".join(done)


def download_name(session: "Session", format_name: str) -> str:
    safe_title = "".join(c if c.isalnum() or c in "-_" else "-" for c in session.title)[:60].strip("-") or "session"
    return f"{safe_title}-{session.id}{export_format(format_name).suffix}"


def export_bytes(session: "Session", format_name: str) -> tuple[bytes, str, str]:
    """A download: the export's bytes (parquet: a zip of its two files), its file name and media type."""
    chosen = export_format(format_name)
    with tempfile.TemporaryDirectory(prefix="workbench-export-") as folder:
        target = Path(folder) / ("tables" if chosen.folder else "export" + chosen.suffix)
        export_session(session, chosen.name, target)
        if not chosen.folder:
            data = target.read_bytes()
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # Parquet is compressed already
                for file in sorted(target.iterdir()):
                    archive.write(file, file.name)
            data = buffer.getvalue()
    return data, download_name(session, chosen.name), chosen.mime


__all__ = ["EXPORTS", "ExportFormat", "download_name", "export_bytes", "export_format", "export_session", "otlp_headers", "shown_url"]
