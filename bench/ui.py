"""UI benchmark: how long the Context page takes to rerun on a 1M-token session.

    ./workbench bench-ui               # 1M tokens by default
    ./workbench bench-ui --tokens 100000 --json

Builds a session like bench/scale.py (essays, each fragmented into 20, half the fragments
folded), then runs the app's script with Streamlit's AppTest: the first run (load, replay,
counting), plain reruns (what every widget interaction costs), a page change in the
message list, and a Hide click (a tool call, its events, and the rerun). AppTest runs the
script without a browser, so these are server-side times; the browser adds its drawing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import summary, tail, tail_label, timed  # noqa: E402
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_spec = importlib.util.spec_from_file_location("scale", Path(__file__).with_name("scale.py"))
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from sessions import SessionStore
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory(prefix="workbench-bench-ui-") as folder:
        db = Path(folder) / "ui.duckdb"
        store = SessionStore(db)
        print(f"building a {args.tokens:,}-token session ...", file=sys.stderr, flush=True)
        session, tokens, _ = scale.build(store, scale.essays(args.data, args.synthetic), args.tokens)
        store.close()
        os.environ["WORKBENCH_DB"] = str(db)
        at, first = timed(lambda: AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run())
        assert not at.exception, at.exception
        reruns = [timed(at.run)[1] for _ in range(20)]
        pages = []
        last_page = max(2, -(-len(session.state().messages) // 10))
        for page in (2, 5, 10, 20, 30, 3, 8, 12, 15, 25) * 2:
            at.number_input(key="message_page").set_value(page % last_page + 1)
            pages.append(timed(at.run)[1])
        hides = []
        for _ in range(20):
            key = next(b.key for b in at.button if b.key and b.key.endswith("-hide"))
            at.button(key=key).click()
            hides.append(timed(at.run)[1])
        assert not at.exception, at.exception
        state = session.state()  # while the folder still exists: reading picks up the clicks' events
        events = session.last_seq
        store.close()
    result = {
        "tokens": tokens, "messages": len(state.messages), "fragments": len(list(state.fragments())),
        "events": events, "first_run_ms": first * 1000, "rerun": summary(reruns),
        "change_page": summary(pages), "hide_click_and_rerun": summary(hides),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"\nContext page on a {tokens:,}-token session ({result['messages']} messages, "
          f"{result['fragments']:,} fragments, {result['events']:,} events)")
    print(f"{'first run (load, replay, count)':<36}{result['first_run_ms']:>10.0f} ms")
    for key in ("rerun", "change_page", "hide_click_and_rerun"):
        print(f"{key.replace('_', ' '):<36}{result[key]['p50_ms']:>10.0f} ms p50 {tail(result[key]):>8.0f} ms "
              f"{tail_label(result[key])} (n={result[key]['n']})")
    met = tail(result["rerun"]) < 1000
    print(f"\ntarget: a rerun of the Context page under 1 s: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
