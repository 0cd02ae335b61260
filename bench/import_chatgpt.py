"""Import benchmark: a large ChatGPT export and a large OpenAI message list, time and peak memory.

    ./workbench bench-import                        # a 200 MB export and a 50 MB message list
    ./workbench bench-import --size-mb 20 --openai-mb 5
    ./workbench bench-import --json                 # the same results as JSON

The export is generated into a temporary folder: many conversations, each a tree with
regenerated answers and edited prompts (branches, some of them branching again), a hidden
system message, images beside the text, thoughts and their recaps, code run by the python
tool with its output, a browsing call answered twice, and long replies. The OpenAI file is
one JSON array of `{role, content}` messages. Each file is imported into a fresh temporary
DuckDB file with `SessionStore(path).import_file(...)` in a child process of its own, so
the generation does not count: the wall time is the child's whole life (Python's start-up
and imports included; "import_file alone" is the call itself, timed inside), and the peak
resident memory is the child's own `ru_maxrss`, read from `os.wait4` on that child (the
figure `getrusage(RUSAGE_CHILDREN)` gives, for one child rather than the largest so far).
"baseline" is a child that opens the store and imports nothing. Target: a 200 MB export
imports under 1 GB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RSS_MB = 1024
WORDS = ("the index query plan table customer order join scan cost row page cache lock write read "
         "vacuum replica latency budget trip train coast castle museum garden walk lunch ticket hotel "
         "python function return value list dict error test import module class method loop branch").split()

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from sessions import SessionStore
store = SessionStore(sys.argv[2])
started = time.perf_counter()
report = store.import_file(sys.argv[3]) if sys.argv[3] != "-" else None
seconds = time.perf_counter() - started
files = report.files if report else []
print(json.dumps({"import_s": seconds, "sessions": sum(len(f.sessions) for f in files),
                  "forks": sum(1 for f in files for s in f.sessions if s["relation"] == "fork"),
                  "messages": sum(f.messages for f in files), "tool_calls": sum(f.tool_calls for f in files),
                  "warnings": sum(len(f.warnings) for f in files), "format": files[0].format if files else None}))
store.close()
"""


# ---- generating the files ----------------------------------------------------------------------


class _Text:
    """Long prose cheaply: paragraphs drawn from a pool made once."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pool = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 160))).capitalize() + "."
                     for _ in range(400)]

    def __call__(self, paragraphs: int) -> str:
        return "\n\n".join(self.rng.choice(self.pool) for _ in range(paragraphs))


class _Export:
    """One conversation's mapping, grown turn by turn from a chosen node."""

    def __init__(self, rng: random.Random, text: _Text, number: int) -> None:
        self.rng, self.text, self.number = rng, text, number
        self.mapping: dict[str, dict] = {}
        self.clock = 1_700_000_000.0 + number * 3600
        self.asked = ""  # the last user message added

    def add(self, parent: str | None, role: str, content: dict, name: str | None = None,
            recipient: str = "all", **metadata) -> str:
        node = f"{self.number:06d}-{len(self.mapping):04d}"
        self.clock += self.rng.uniform(1, 90)
        message = None if role == "root" else {
            "id": node, "author": {"role": role, "name": name, "metadata": {}}, "create_time": self.clock,
            "update_time": None, "content": content, "status": "finished_successfully", "end_turn": role == "assistant",
            "weight": 1.0, "metadata": {"request_id": f"req-{node}", "message_type": None, **metadata},
            "recipient": recipient, "channel": None}
        self.mapping[node] = {"id": node, "message": message, "parent": parent, "children": []}
        if parent is not None:
            self.mapping[parent]["children"].append(node)
        return node

    def turn(self, parent: str) -> str:
        """A user message and the assistant's answer to it (sometimes through thoughts and tools)."""
        rng, text, model = self.rng, self.text, {"model_slug": "gpt-4o", "finish_details": {"type": "stop"}}
        parts: list = [text(rng.randint(1, 3))]
        if rng.random() < 0.15:
            parts.insert(0, {"content_type": "image_asset_pointer", "size_bytes": 183_000, "width": 1024, "height": 768,
                             "asset_pointer": f"file-service://file-{rng.randint(1, 10**6)}"})
        kind = "multimodal_text" if len(parts) > 1 else "text"
        node = self.asked = self.add(parent, "user", {"content_type": kind, "parts": parts})
        if rng.random() < 0.25:
            node = self.add(node, "assistant", {"content_type": "thoughts", "thoughts": [
                {"summary": "Working it out", "content": text(2)} for _ in range(rng.randint(1, 3))]}, **model)
            node = self.add(node, "assistant", {"content_type": "reasoning_recap", "content": "Thought for 9 seconds"})
        if rng.random() < 0.2:
            code = "import math\n" + "\n".join(f"print(math.sqrt({n}))" for n in range(20))
            node = self.add(node, "assistant", {"content_type": "code", "language": "unknown", "text": code},
                            recipient="python", **model)
            output = "\n".join(str(n ** 0.5) for n in range(20))
            node = self.add(node, "tool", {"content_type": "execution_output", "text": output},
                            name="python", aggregate_result={"status": "success", "messages": []})
        elif rng.random() < 0.1:
            node = self.add(node, "assistant", {"content_type": "text", "parts": ['search("weekend trips")']},
                            recipient="browser", **model)
            node = self.add(node, "tool", {"content_type": "tether_browsing_display", "result": text(2),
                                           "summary": None}, name="browser")
            node = self.add(node, "tool", {"content_type": "tether_quote", "url": "https://example.org/trip",
                                           "domain": "example.org", "title": "Trips", "text": text(1)}, name="browser")
        return self.add(node, "assistant", {"content_type": "text", "parts": [text(rng.randint(2, 12))]}, **model)

    def conversation(self) -> dict:
        rng = self.rng
        root = self.add(None, "root", {})
        system = self.add(root, "system", {"content_type": "text", "parts": [""]},
                          is_visually_hidden_from_conversation=True)
        thread, asked = [system], []
        for _ in range(rng.randint(2, 14)):
            thread.append(self.turn(thread[-1]))
            asked.append(self.asked)
        for _ in range(rng.randint(0, 3)):
            if rng.random() < 0.5:  # an edited prompt: a new turn or more from a message on the thread
                branch = [self.turn(rng.choice(thread[:-1]))]
            else:  # a regenerated answer to a prompt on the thread
                branch = [self.add(rng.choice(asked), "assistant", {"content_type": "text", "parts": [self.text(4)]},
                                   model_slug="gpt-4o")]
            for _ in range(rng.randint(0, 2)):
                branch.append(self.turn(branch[-1]))
            if len(branch) > 1 and rng.random() < 0.3:  # a branch of the branch
                self.turn(branch[0])
        current = thread[-1]
        return {"title": f"Conversation {self.number}", "create_time": 1_700_000_000.0 + self.number * 3600,
                "update_time": self.clock, "mapping": self.mapping, "moderation_results": [],
                "current_node": current, "plugin_ids": None, "conversation_id": f"conv-{self.number:06d}",
                "conversation_template_id": None, "gizmo_id": None, "is_archived": False, "safe_urls": [],
                "default_model_slug": "gpt-4o", "id": f"conv-{self.number:06d}"}


def _write_array(path: Path, megabytes: float, item) -> int:
    """A JSON array of `item(n)` for n = 0, 1, ... until the file holds `megabytes`; returns n."""
    target, written, count = megabytes * 1e6, 0, 0
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        while written < target:
            line = json.dumps(item(count), ensure_ascii=False)
            out.write((",\n" if count else "\n") + line)
            written += len(line) + 2
            count += 1
        out.write("\n]\n")
    return count


def write_export(path: Path, megabytes: float, seed: int = 7) -> int:
    rng = random.Random(seed)
    text = _Text(rng)
    return _write_array(path, megabytes, lambda n: _Export(rng, text, n).conversation())


def write_openai(path: Path, megabytes: float, seed: int = 8) -> int:
    rng = random.Random(seed)
    text = _Text(rng)

    def message(n: int) -> dict:
        role = "user" if n % 2 == 0 else "assistant"
        return {"role": role, "content": text(rng.randint(1, 3) if role == "user" else rng.randint(2, 12))}

    return _write_array(path, megabytes, message)


# ---- measuring ---------------------------------------------------------------------------------


def measure(file: Path | None, db: Path) -> dict:
    """Import `file` (None: nothing) in a child process: its wall time, peak RSS and what it made."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT), str(db), str(file) if file else "-"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        sys.exit(f"the import of {file} failed (exit {child.returncode}):\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    ru_maxrss_kib = usage.ru_maxrss  # kibibytes on Linux
    result.update(wall_s=wall, peak_rss_mb=ru_maxrss_kib / 1024, file_mb=file.stat().st_size / 1e6 if file else 0.0,
                  db_mb=db.stat().st_size / 1e6 if db.exists() else 0.0)
    return result


def print_table(results: dict) -> None:
    names = list(results)
    rows = [("file size MB", "file_mb", "{:.1f}"), ("sessions made", "sessions", "{:,}"),
            ("  of them forks", "forks", "{:,}"), ("messages", "messages", "{:,}"),
            ("tool calls", "tool_calls", "{:,}"), ("warnings", "warnings", "{:,}"),
            ("wall time s (child)", "wall_s", "{:.1f}"), ("import_file alone s", "import_s", "{:.1f}"),
            ("MB/s (import_file)", "rate", "{:.1f}"), ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
            ("DuckDB file MB", "db_mb", "{:.1f}")]
    width = 24
    print(f"\n{'':<{width}}" + "".join(f"{name:>26}" for name in names))
    for label, key, shape in rows:
        cells = []
        for name in names:
            value = results[name].get(key)
            if key == "rate":
                value = results[name]["file_mb"] / results[name]["import_s"] if results[name]["import_s"] else None
            cells.append(f"{shape.format(value) if value is not None else '-':>26}")
        print(f"{label:<{width}}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=200, help="size of the ChatGPT export (default 200)")
    parser.add_argument("--openai-mb", type=float, default=50, help="size of the OpenAI message list (default 50)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="workbench-bench-import-") as folder:
        folder = Path(folder)
        export, messages = folder / "conversations.json", folder / "messages.json"
        print(f"writing a {args.size_mb:g} MB ChatGPT export ...", file=sys.stderr, flush=True)
        write_export(export, args.size_mb)
        if args.openai_mb > 0:
            print(f"writing a {args.openai_mb:g} MB OpenAI message list ...", file=sys.stderr, flush=True)
            write_openai(messages, args.openai_mb)
        print("baseline: a child that opens the store and imports nothing ...", file=sys.stderr, flush=True)
        results["baseline (no import)"] = measure(None, folder / "baseline.duckdb")
        print("importing the ChatGPT export ...", file=sys.stderr, flush=True)
        results[f"ChatGPT export {args.size_mb:g} MB"] = measure(export, folder / "chatgpt.duckdb")
        if args.openai_mb > 0:
            print("importing the OpenAI message list ...", file=sys.stderr, flush=True)
            results[f"OpenAI list {args.openai_mb:g} MB"] = measure(messages, folder / "openai.duckdb")
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print_table(results)
    chatgpt = results[f"ChatGPT export {args.size_mb:g} MB"]
    verdict = "met " if chatgpt["peak_rss_mb"] < TARGET_RSS_MB else "MISSED"
    print(f"\nTarget: {verdict} peak RSS of the {args.size_mb:g} MB export's import < {TARGET_RSS_MB} MB "
          f"({chatgpt['peak_rss_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
