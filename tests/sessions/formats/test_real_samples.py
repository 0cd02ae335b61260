"""Every real sample in ../shared/data/conversations: detected as its format (and by no other
specific one: the plain OpenAI message list, last in the list, may also take a file that has
a "messages" array), and imported with the counts its README gives (chatlore's two broken
records skipped)."""

from __future__ import annotations

import pytest

from sessions.formats import IMPORT_FORMATS, detect
from sessions.formats.source import open_sources

# file, format, sessions, messages by role (system, user, assistant, tool), tool calls, reasoning parts, skipped
SAMPLES = [
    ("agent-trajectories/openhands/basic_gui_mode.json", "openhands", 1, (0, 1, 5, 4), 4, 0, 0),
    ("agent-trajectories/swe-agent/marshmallow-code__marshmallow-1867.traj", "swe-agent", 1, (1, 1, 11, 11), 11, 0, 0),
    ("agent-trajectories/swe-agent/pydicom__pydicom-1458.traj", "swe-agent", 1, (1, 13, 12, 0), 0, 0, 0),
    ("anthropic-messages/llm-anthropic/test_fixed_version_tool_chain_regression.yaml", "anthropic-cassette", 1,
     (0, 1, 2, 1), 1, 0, 0),
    ("anthropic-messages/llm-anthropic/test_fixed_version_tool_chain_with_thinking_display_regression.yaml",
     "anthropic-cassette", 1, (0, 1, 2, 1), 1, 1, 0),
    ("chatgpt-export/chatgpt-export-parser/example-conversation.json", "chatgpt", 2, (1, 3, 2, 0), 0, 0, 0),
    ("chatgpt-export/chatlore/conversations.json", "chatgpt", 3, (1, 3, 5, 1), 1, 1, 2),
    ("claude-code-jsonl/claude-code-viewer/5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl", "claude-code", 3,
     (0, 4, 20, 21), 21, 0, 0),
    ("claude-code-jsonl/claude-code-viewer/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl", "claude-code", 6,
     (0, 8, 170, 167), 167, 0, 0),
    ("letta-agent-file/agent-file/loop.af", "letta", 1, (1, 0, 1, 1), 1, 0, 0),
    ("letta-agent-file/agent-file/memgpt_agent_with_convo.af", "letta", 1, (6, 29, 28, 28), 28, 0, 0),
    ("openai-chat-tool-calls/tau-bench/gpt-4o-airline.json.gz", "openai", 200, (200, 1490, 2454, 1164), 1164, 0, 0),
    ("otel-traces/agent-prism/langfuse-1.json", "langfuse", 1, (1, 1, 2, 0), 0, 0, 0),
    ("otel-traces/agent-prism/smol_deep_research_agent.json", "otlp", 1, (2, 8, 8, 0), 2, 0, 0),
    ("otel-traces/any-agent/OPENAI_trace.json", "otel-spans", 1, (1, 1, 3, 2), 2, 0, 0),
    ("sharegpt/fastchat/dummy_conversation.json", "sharegpt", 500, (0, 1000, 1000, 0), 0, 0, 0),
    ("sharegpt/llama-factory/glaive_toolcall_en_demo.json", "sharegpt", 300, (0, 746, 957, 211), 211, 0, 0),
]
ROLES = ("system", "user", "assistant", "tool")


@pytest.mark.parametrize(("relative", "name", "sessions", "roles", "tool_calls", "reasoning", "skipped"), SAMPLES,
                         ids=[row[0].split("/")[-1][:40] for row in SAMPLES])
def test_a_real_sample_is_detected_and_imported_with_its_counts(sample, store, relative, name, sessions, roles,
                                                                tool_calls, reasoning, skipped):
    path = sample(relative)
    source = open_sources(path)[0]
    assert detect(source).name == name
    takers = [fmt.name for fmt in IMPORT_FORMATS if fmt.sniff(source.sample).matched]
    assert [n for n in takers if n != "openai"] == ([name] if name != "openai" else []), takers
    assert IMPORT_FORMATS[-1].name == "openai"
    report = store.import_file(path, skip_invalid=True)
    [file] = report.files
    assert (len(file.sessions), file.tool_calls, file.reasoning_parts, len(file.skipped)) == (
        sessions, tool_calls, reasoning, skipped)
    assert tuple(file.messages_by_role.get(role, 0) for role in ROLES) == roles
    assert len(store.list_sessions()) == sessions
