"""Every file format the workbench reads or writes, in one explicit list.

Each format is a module here declaring a `FORMAT` (`conversation.Format`): a `sniff` that
looks at a file's sample (its content, never its name) and says how close it comes, a
`read` that yields conversations, and a `write` where the workbench exports it. Detection
asks every format in `FORMATS` order and takes the first match, so a specific format comes
before a general one that would also accept it (ours and ChatGPT's before a plain message
list). A file that matches none is told, closest first, why each format did not take it.
"""

from __future__ import annotations

from engine.errors import ImportFormatError
from sessions.formats import letta, openai_chat, sharegpt, workbench_trace
from sessions.formats import swe_agent
from sessions.formats import openhands
from sessions.formats import langfuse
from sessions.formats import otlp
from sessions.formats import chatgpt
from sessions.formats import anthropic, anthropic_cassette, claude_code
from sessions.formats.conversation import Format, Sniff
from sessions.formats.source import Source

# In detection order: specific formats first. Planned places: chatgpt, claude_code, letta,
# langfuse, otlp (and its SDK span JSON) after the trace; swe_agent, openhands, sharegpt,
# anthropic (and its cassettes) before the plain OpenAI message list, which comes last.
FORMATS: tuple[Format, ...] = (
    workbench_trace.FORMAT,
    chatgpt.FORMAT,
    claude_code.FORMAT,
    letta.FORMAT,
    langfuse.FORMAT,
    otlp.FORMAT,
    otlp.SDK_SPANS_FORMAT,
    swe_agent.FORMAT,
    openhands.FORMAT,
    sharegpt.FORMAT,
    anthropic.FORMAT,
    anthropic_cassette.FORMAT,
    openai_chat.FORMAT,
)
IMPORT_FORMATS = tuple(f for f in FORMATS if f.read is not None)
EXPORT_FORMAT_NAMES = ("jsonl", "otlp", "parquet", "markdown")


NO_MATCH = "matches no format the workbench reads"


def format_named(name: str) -> Format:
    """The format called `name` (as `--format` takes it)."""
    for candidate in IMPORT_FORMATS:
        if candidate.name == name:
            return candidate
    raise ImportFormatError(f"unknown format {str(name)[:40]!r}; the formats are {', '.join(f.name for f in IMPORT_FORMATS)}")


def detect(source: Source) -> Format:
    """The first format whose sniff matches `source`; otherwise an error saying why none did."""
    if source.sample.shape == "empty":
        raise ImportFormatError(f"{source.name}: the file is empty")
    verdicts: list[tuple[Format, Sniff]] = []
    for candidate in IMPORT_FORMATS:
        verdict = candidate.sniff(source.sample)
        if verdict.matched:
            return candidate
        verdicts.append((candidate, verdict))
    raise ImportFormatError(no_match_message(source, verdicts))


def no_match_message(source: Source, verdicts: list[tuple[Format, Sniff]]) -> str:
    ranked = sorted(verdicts, key=lambda pair: -pair[1].closeness)
    near = [pair for pair in ranked if pair[1].closeness > 0]
    lines = [f"{source.name}: {NO_MATCH}."]
    if near:
        lines.append("Closest first:")
        lines += [f"  - {fmt.label} ({fmt.name}): {verdict.reason}" for fmt, verdict in near]
    rest = [pair for pair in ranked if pair[1].closeness == 0]
    if rest:
        lines.append("Also tried:")
        lines += [f"  - {fmt.label} ({fmt.name}): {verdict.reason}" for fmt, verdict in rest]
    lines.append("If you know the format, name it with --format NAME (the names are in brackets).")
    return "\n".join(lines)


__all__ = ["EXPORT_FORMAT_NAMES", "FORMATS", "IMPORT_FORMATS", "Format", "detect", "format_named"]
