"""Demo sessions that fill a window, so a newcomer sees something real at once.

All content is generated here, deterministically, from our own word lists: nothing is read
from outside the project.

- "Key tracking (PI-LLM style)": a long stream of `key: value;` updates where only the last
  value of each key matters, then a question; a scripted assistant then sculpts its context
  the Sculptor way (fragment the stream, fold the stale part, search, answer), so Replay
  has steps to show.
- "Agent run with large tool results": a debugging agent whose test log and file reads
  flood the window; hiding the log is the obvious first move.
"""

from __future__ import annotations

import json
import random

from engine.actors import Actor
from sessions.session import Session
from sessions.store import SessionStore

KEYS = {
    "fruit": "apple pear plum quince fig date lime mango papaya guava cherry apricot lychee kiwi melon".split(),
    "river": "Danube Rhine Loire Volga Nile Amazon Mekong Indus Tagus Elbe Oder Po Seine Thames Vistula".split(),
    "bird": "heron wren finch robin swift plover egret kestrel owl lark thrush magpie puffin osprey crane".split(),
    "metal": "copper zinc nickel cobalt tin lead silver gold iron chromium titanium tungsten bismuth indium gallium".split(),
    "dance": "tango waltz polka samba rumba salsa foxtrot jive mambo bolero flamenco quickstep cha-cha hustle reel".split(),
    "tool": "hammer chisel wrench pliers saw drill rasp awl mallet clamp plane level trowel shears vise".split(),
    "spice": "cumin clove nutmeg saffron sumac anise mace paprika cardamom turmeric fennel mustard pepper ginger za'atar".split(),
    "planet": "Mercury Venus Earth Mars Jupiter Saturn Uranus Neptune Pluto Ceres Eris Haumea Makemake Sedna Quaoar".split(),
    "fabric": "linen wool silk denim tweed velvet satin chiffon canvas flannel corduroy muslin jersey cashmere felt".split(),
    "tree": "oak ash elm birch maple cedar pine spruce willow poplar beech alder larch yew hazel".split(),
    "sport": "rowing fencing curling judo archery squash hockey cricket rugby sailing skiing karate polo lacrosse darts".split(),
    "color": "teal ochre maroon indigo amber coral olive crimson cobalt ivory umber saffron jade plum slate".split(),
}

DEMO = Actor.program("demo")  # who the demo sessions' events are by


def _update_stream(rng: random.Random, updates: int) -> tuple[str, dict[str, str]]:
    keys = list(KEYS)
    parts, last, previous = [], {}, None
    for _ in range(updates):
        key = rng.choice([k for k in keys if k != previous])
        value = rng.choice(KEYS[key])
        parts.append(f"{key}: {value};")
        last[key], previous = value, key
    lines = [" ".join(parts[i : i + 8]) for i in range(0, len(parts), 8)]
    return "\n".join(lines), last


def create_key_tracking_demo(store: SessionStore) -> Session:
    rng = random.Random(2025)
    stream, answer = _update_stream(rng, 2400)
    session = store.create_session("Demo: key tracking (PI-LLM style)")
    session.actor = DEMO
    session.add_message(
        "system",
        "You are a careful assistant that can manage its own context. Split long inputs with "
        "fragment_context, fold what is stale with fold_fragment, and search with search_context.",
    )
    keys = ", ".join(KEYS)
    session.add_message(
        "user",
        f"Please follow a stream of updates to {len(KEYS)} keys ({keys}). Each key changes many times; "
        "only its latest value counts. I will ask for the current values at the end.\n\n"
        f"UPDATES BEGIN\n{stream}\nUPDATES END\n\n"
        "What is the current value of every key? Answer in the form 'The current value of <key> is <value>.'",
    )
    plan = [("fragment_context", {"start_marker": "UPDATES BEGIN", "end_marker": "UPDATES END", "num_fragments": 10})]
    results = session.run_model_tool_calls(
        [{"id": "call_fragment", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}} for name, args in plan],
        content="The stream is long; I will split it and fold the older updates.",
    )
    ids = [piece["fragment_id"] for piece in results[0]["fragments"]]
    session.run_model_tool_calls(
        [
            {"id": f"call_fold_{n}", "type": "function", "function": {"name": "fold_fragment", "arguments": json.dumps({"fragment_id": fragment_id})}}
            for n, fragment_id in enumerate(ids[:7], start=1)
        ]
    )
    session.run_model_tool_calls(
        [{"id": "call_search", "type": "function", "function": {"name": "search_context", "arguments": json.dumps({"query": "planet:", "max_results": 3})}}]
    )
    reply = " ".join(f"The current value of {key} is {value}." for key, value in answer.items())
    session.add_message("assistant", reply, reasoning=(
        "Only the last update of each key counts. The seven folded fragments hold the oldest updates; "
        "the three still visible hold the newest, so for every key I read its last occurrence there. "
        "The search for 'planet:' confirms the most recent planet value."))
    return session


def _test_log(rng: random.Random) -> str:
    modules = ["invoices", "ledger", "refunds", "currency", "tax", "exports", "webhooks", "accounts"]
    lines = ["============================= test session starts ==============================",
             "platform linux -- Python 3.11.7, pytest-8.3.2, pluggy-1.5.0", "collected 1,284 items", ""]
    for n in range(1, 1200):
        module = rng.choice(modules)
        outcome = "PASSED" if n not in (731, 732, 1018) else "FAILED"
        lines.append(f"tests/test_{module}.py::test_{module}_case_{n:04d} {outcome} [{n * 100 // 1284:3d}%]")
        if rng.random() < 0.15:
            lines.append(f"  DEBUG billing.{module}: cache warm, {rng.randint(3, 900)} rows, {rng.randint(1, 80)} ms")
    lines += [
        "", "=================================== FAILURES ===================================",
        "______________________ test_exports_case_0731 ______________________",
        "    def test_exports_case_0731(client):",
        "        report = client.export(month='2026-02', currency='EUR')",
        ">       assert report.total == Decimal('1204.50')",
        "E       AssertionError: assert Decimal('1204.49') == Decimal('1204.50')",
        "billing/exports.py:88: in export",
        "    total = sum(round(line.amount, 2) for line in lines)",
        "FAILED tests/test_exports.py::test_exports_case_0731 - rounding each line loses a cent",
        "FAILED tests/test_exports.py::test_exports_case_0732 - same rounding error, GBP",
        "FAILED tests/test_currency.py::test_currency_case_1018 - half-even vs half-up",
        "=========== 3 failed, 1281 passed, 12 warnings in 41.07s ===========",
    ]
    return "\n".join(lines)


def _source_file() -> str:
    body = ['"""Monthly exports of invoices, in the customer\'s currency."""', "", "from decimal import Decimal, ROUND_HALF_EVEN", ""]
    for n in range(1, 60):
        body += [f"def helper_{n}(lines, rate):", f'    """Helper {n}: scale each line by the rate and keep the sign."""',
                 "    return [line.scaled(rate) for line in lines if line.amount]", ""]
    body += ["def export(lines, currency):", "    # BUG: rounding each line before summing drifts by a cent",
             "    total = sum(round(line.amount, 2) for line in lines)",
             "    return Report(total=Decimal(total).quantize(Decimal('0.01'), ROUND_HALF_EVEN), currency=currency)"]
    return "\n".join(body)


def create_agent_demo(store: SessionStore) -> Session:
    rng = random.Random(11)
    session = store.create_session("Demo: agent run with large tool results")
    session.actor = DEMO
    session.add_message("system", "You are a coding agent. Use the tools to inspect the repository, then explain the fix.")
    session.add_message("user", "CI for billing-service is red since this morning. Find out why and propose a fix.")
    session.add_message("assistant", None, tool_calls=[{"id": "call_tests", "type": "function", "function": {"name": "run_tests", "arguments": "{\"path\": \"tests/\"}"}}])
    session.add_message("tool", _test_log(rng), tool_call_id="call_tests")
    session.add_message("assistant", None, tool_calls=[{"id": "call_read", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\": \"billing/exports.py\"}"}}])
    session.add_message("tool", _source_file(), tool_call_id="call_read")
    session.add_message(
        "assistant",
        "Three tests fail, all from rounding: billing/exports.py rounds each line before summing, so totals "
        "drift by a cent. Sum the exact amounts first, then round once with ROUND_HALF_EVEN.",
    )
    session.add_message("user", "Good. Which tests failed exactly, and in which modules?")
    return session


def load_demo_sessions(store: SessionStore) -> list[Session]:
    """Create both demo sessions; returns them, the key-tracking one (created last, so listed first) first."""
    agent = create_agent_demo(store)
    return [create_key_tracking_demo(store), agent]
