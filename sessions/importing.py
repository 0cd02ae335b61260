"""Importing a file: open it, find its format, build its sessions, store them whole or not at all.

`import_into(events, path)` is what `SessionStore.import_file`, the CLI and the Sessions
page call. The file is opened (`.gz` and `.zip` transparently), each document in it is
matched to a format by its content (or the one named), read and built into sessions as a
stream, and the store adds them all in one transaction: a bad record refuses the whole
file, naming every bad record, unless `skip_invalid` imports the rest and lists what it
skipped. In an archive, a member no format reads (a ChatGPT export's `user.json`) is left
out with a warning, and a damaged one refuses the archive like a bad record. `progress(done, total)` hears how far through the file the reading is, in bytes.
Its events are the import's (`engine.actors`, named by the file), except those a workbench
trace already says the actor of.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

from engine.actors import Actor
from engine.errors import ImportFormatError
from sessions.formats import NO_MATCH, detect, format_named
from sessions.formats.building import Builder
from sessions.formats.conversation import Format
from sessions.formats.report import FileReport, ImportReport
from sessions.formats.source import Progress, Source, open_sources
from sessions.stores.base import EventStore, NewSession


def import_into(events: EventStore, path: str | Path, *, title: str | None = None, format_name: str | None = None,
                skip_invalid: bool = False, progress: Progress | None = None) -> ImportReport:
    forced = format_named(format_name) if format_name else None
    sources = open_sources(path, progress)
    plan: list[tuple[Source, Format]] = []
    unmatched: list[str] = []
    for source in sources:
        try:
            plan.append((source, forced or detect(source)))
        except ImportFormatError as exc:
            if len(sources) == 1:
                raise
            if NO_MATCH not in str(exc) and not skip_invalid:  # a damaged member refuses the archive
                raise ImportFormatError(f"{exc}\nNothing was imported from {Path(path).name}; import the rest "
                                        "with --skip-invalid.") from None
            unmatched.append(str(exc).splitlines()[0])
    if not plan:
        raise ImportFormatError("\n".join(unmatched) or f"{path}: nothing to import")
    report = ImportReport()

    def sessions() -> Iterator[NewSession]:
        for source, fmt in plan:
            file_report = FileReport(source.name, fmt.name, fmt.label)
            if not report.files and unmatched:
                file_report.warnings += [f"left out of the archive: {line}" for line in unmatched]
            report.files.append(file_report)
            builder = Builder(source.name, fmt, file_report, skip_invalid, title if len(plan) == 1 else None)
            actor = Actor("import", f"{fmt.name}: {source.name}")
            try:
                for new in builder.build(fmt.read(source)):
                    yield dataclasses.replace(new, records=[record if record.actor is not None
                                                            else dataclasses.replace(record, actor=actor)
                                                            for record in new.records])
            except ImportFormatError as exc:
                if len(sources) == 1:
                    raise
                raise ImportFormatError(f"{exc}\nA damaged file refuses the whole archive {Path(path).name}: "
                                        "nothing was imported (remove that file from the archive to import the "
                                        "rest).") from None

    events.create_many(sessions())
    return report
