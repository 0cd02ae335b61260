"""bench/RESULTS.md, written by the benchmark scripts themselves.

Each script calls `record(name, title, table, ...)` after a run: the section named `name` is
replaced (or added) with the machine, the date, the versions, the exact command and the printed
table, so the file always says how every number in it was made. Sections of other scripts are
left as they are. `--no-record` on a script skips this (a quick run at small sizes should not
replace the committed numbers); `WORKBENCH_RESULTS` points it at another file.
"""

from __future__ import annotations

import fcntl
import os
import platform
import re
import shlex
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
PACKAGES = ("duckdb", "tiktoken", "litellm", "streamlit", "llama-cpp-python", "playwright")
HEADING = """# Benchmark results

Written by the scripts in `bench/` (each replaces its own section when it runs; `--no-record`
skips that). Times are wall-clock on the machine named in each section; tests never assert on
them. The README's Benchmarks section says what each script measures.

To score any model on the paper's benchmarks, give its litellm name (and its key in the usual
environment variable, such as `OPENAI_API_KEY`; keys never reach a file):

    ./workbench bench-pi-llm --model openai/gpt-4.1 --setting task            # or baseline, unified
    ./workbench bench-needlebench --model anthropic/claude-sonnet-4-20250514 --setting task
    ./workbench bench-needlebench --model openai/qwen3-8b --api-base http://127.0.0.1:8000/v1 --setting unified

Each run writes its own section below (named by benchmark, model and setting).
"""


def machine() -> str:
    cores = os.cpu_count() or 0
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2 ** 30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    return f"{platform.system()} {platform.machine()}, {cores} cores{memory}, Python {platform.python_version()}"


def versions() -> str:
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


COMMANDS = {"scale.py": "bench", "ui.py": "bench-ui", "pi_llm.py": "bench-pi-llm",
            "needlebench.py": "bench-needlebench", "mcp_calls.py": "bench-mcp", "follow.py": "bench-follow",
            "stores.py": "bench-stores"}


def command() -> str:
    """The command that reproduces this run, as a user types it."""
    script = Path(sys.argv[0]).name
    verb = COMMANDS.get(script)
    head = ["./workbench", verb] if verb else [".venv/bin/python", f"bench/{script}"]
    return " ".join([*head, *(shlex.quote(a) for a in sys.argv[1:])])


def section(name: str, title: str, table: str, notes: str = "", when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc)
    lines = [f"<!-- section:{name} -->", f"## {title}", "",
             f"- machine: {machine()}", f"- date: {when:%Y-%m-%d %H:%M} UTC", f"- versions: {versions()}",
             f"- command: `{command()}`", ""]
    if notes:
        lines += [notes.strip(), ""]
    lines += ["```", table.rstrip("\n"), "```", f"<!-- /section:{name} -->"]
    return "\n".join(lines)


def slug(*parts: str) -> str:
    """A section name from free text: `slug("pi-llm", "openai/gpt-4.1", "task")` is `pi-llm-openai-gpt-4-1-task`."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-") or "run"


def record(name: str, title: str, table: str, notes: str = "", path: Path | None = None) -> Path:
    """Put this run's section into RESULTS.md, replacing the one of the same name."""
    if not re.fullmatch(r"[a-z0-9-]+", name):
        raise ValueError(f"section name {name!r}: use lower-case letters, digits and hyphens")
    path = path or Path(os.environ.get("WORKBENCH_RESULTS", RESULTS))
    with open(path.with_suffix(".md.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two benchmarks finishing at once both keep their sections
        _replace_section(path, name, section(name, title, table, notes))
    print(f"results recorded in {path} (section {name})", file=sys.stderr)
    return path


def _replace_section(path: Path, name: str, block: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    first = text.find("<!-- section:")
    text = HEADING + ("\n" + text[first:] if first >= 0 else "")  # the heading is always this version's
    pattern = re.compile(rf"<!-- section:{name} -->.*?<!-- /section:{name} -->", re.DOTALL)
    text = pattern.sub(lambda _: block, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    temporary = path.with_suffix(".md.tmp")
    temporary.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    temporary.replace(path)  # a run killed mid-write leaves the old file whole
