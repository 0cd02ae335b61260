"""Typed streaming with one stop path, through the real litellm path with the scripted provider.

The scripted model streams its content in small chunks (or exactly the chunks a test gives),
so think tags cut across chunk boundaries reach our splitter as a local server would send
them; its `reasoning` is sent as litellm's `reasoning_content`.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import scripted_model
from engine.llm import (Backend, LLMError, ObserverError, ReasoningDelta, StopSignal, TextDelta, ToolCallDelta,
                        complete)
from engine.streaming import CLOSE_TAG, OPEN_TAG, StreamAssembler, ThinkTagSplitter, split_think_tags

QUESTION = [{"role": "user", "content": "What is the answer?"}]
LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"


def _run(model: str, reply, **options):
    scripted_model.enqueue(model, reply)
    deltas: list = []
    result = complete(Backend(model=model), QUESTION, observer=deltas.append, **options)
    return result, deltas


def _joined(deltas, kind) -> str:
    return "".join(d.text for d in deltas if isinstance(d, kind))


def test_text_deltas_arrive_in_order_and_join_to_the_content(model):
    result, deltas = _run(model, LONG)
    assert len(deltas) > 3 and all(isinstance(d, TextDelta) and d.text for d in deltas)
    assert _joined(deltas, TextDelta) == result.content == LONG
    assert result.finish_reason == "stop" and not result.stopped and result.reasoning is None
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    assert result.usage["reasoning_tokens"] == 0 and result.latency_ms > 0


def test_streamed_reasoning_content_arrives_as_reasoning_deltas_before_the_text(model):
    result, deltas = _run(model, {"reasoning": "The user asks for the answer; it is 42, famously.",
                                  "content": "The answer is 42."})
    kinds = [type(d) for d in deltas]
    assert kinds.index(TextDelta) > max(i for i, k in enumerate(kinds) if k is ReasoningDelta)
    assert _joined(deltas, ReasoningDelta) == result.reasoning == "The user asks for the answer; it is 42, famously."
    assert _joined(deltas, TextDelta) == result.content == "The answer is 42."
    assert result.usage["reasoning_tokens"] > 0
    assert result.usage["completion_tokens"] > result.usage["reasoning_tokens"]


def test_think_tags_cut_across_chunks_are_split_out_of_the_content(model):
    chunks = ["<thi", "nk>\nThe user wa", "nts 42.</th", "ink>", "\n\nThe answer", " is 42."]
    result, deltas = _run(model, {"chunks": chunks})
    assert result.content == "The answer is 42." and result.reasoning == "The user wants 42."
    assert _joined(deltas, TextDelta) == result.content and _joined(deltas, ReasoningDelta) == result.reasoning
    assert not any("<" in d.text or ">" in d.text for d in deltas)


def test_think_tags_in_twelve_character_chunks(model):
    result, _ = _run(model, "Let me see. <think>Two and two make four, surely.</think>It is four.")
    assert result.content == "Let me see. It is four." and result.reasoning == "Two and two make four, surely."


def test_a_reply_that_starts_inside_its_reasoning_closes_with_a_lone_tag(model):
    # The template put <think> in the prompt: only the closing tag comes back.
    result, _ = _run(model, {"chunks": ["Okay, the user", " wants a number.</thi", "nk>\n\n42."]})
    assert result.content == "42." and result.reasoning == "Okay, the user wants a number."
    assert CLOSE_TAG not in result.content


def test_a_reply_without_tags_and_a_lone_angle_bracket_pass_unchanged(model):
    text = "if a < b and c > d: print('<thinking> is not a tag') <b>bold</b> 3 <"
    result, deltas = _run(model, {"content": text, "chunk_size": 5})
    assert result.content == text == _joined(deltas, TextDelta) and result.reasoning is None
    result, deltas = _run(model, {"chunks": ["x <", "/th", "e end"]})
    assert result.content == "x </the end" == _joined(deltas, TextDelta)


def test_the_observer_stops_the_stream_after_n_deltas(model):
    stop = StopSignal()
    seen: list = []

    def brake(delta) -> None:
        seen.append(delta)
        if len(seen) == 3:
            stop.set("enough after three")

    scripted_model.enqueue(model, {"reasoning": "thinking " * 8, "content": LONG})
    result = complete(Backend(model=model), QUESTION, observer=brake, stop=stop)
    assert result.stopped and result.finish_reason == "stopped" and result.stop_reason == "enough after three"
    assert len(seen) == 3 and result.content == "" and result.reasoning == ("thinking " * 8)[:36]  # 3 chunks of 12
    assert result.usage["prompt_tokens"] > 0 and result.usage["reasoning_tokens"] > 0
    assert result.latency_ms > 0 and result.tool_calls == []

    seen.clear()
    stop.clear()
    scripted_model.enqueue(model, LONG)
    result = complete(Backend(model=model), QUESTION, observer=brake, stop=stop)
    assert result.stopped and result.content == "".join(d.text for d in seen)  # the partial text is kept
    assert len(result.content) < len(LONG) and LONG.startswith(result.content)
    assert 0 < result.usage["completion_tokens"] < 15


def test_stopping_from_another_thread(model):
    stop, first, gate = StopSignal(), threading.Event(), threading.Event()

    def press_stop() -> None:  # a Stop button: it waits for the first words, then stops
        first.wait(10)
        stop.set("the person pressed stop")
        gate.set()

    button = threading.Thread(target=press_stop)
    button.start()
    scripted_model.enqueue(model, {"content": LONG, "gate": gate})
    try:
        result = complete(Backend(model=model), QUESTION, observer=lambda delta: first.set(), stop=stop)
    finally:
        gate.set()
        button.join(10)
    assert result.stopped and result.stop_reason == "the person pressed stop"
    assert 0 < len(result.content) <= 24 and LONG.startswith(result.content)


def test_a_slow_stream_still_arrives_whole(model):
    result, deltas = _run(model, {"content": "slow but steady wins", "chunk_delay": 0.001, "chunk_size": 4})
    assert result.content == "slow but steady wins" and len(deltas) == 5


def test_tool_call_deltas_are_assembled_into_tool_calls(model):
    reply = {"content": "Searching.", "tool_calls": [
        {"id": "call_a", "name": "search_context", "arguments": {"query": "the code word, please"}},
        {"id": "call_b", "name": "fold_fragment", "arguments": {"fragment_id": "f1a2b3"}},
    ]}
    result, deltas = _run(model, reply)
    pieces = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert [p.index for p in pieces] == sorted(p.index for p in pieces) and {p.index for p in pieces} == {0, 1}
    firsts = [p for p in pieces if p.name]
    assert [(p.index, p.id, p.name) for p in firsts] == [(0, "call_a", "search_context"), (1, "call_b", "fold_fragment")]
    assert "".join(p.arguments_fragment for p in pieces if p.index == 0) == '{"query": "the code word, please"}'
    assert len([p for p in pieces if p.index == 0]) > 1  # the arguments came in fragments
    assert result.finish_reason == "tool_calls" and result.content == "Searching."
    assert result.tool_calls == [
        {"id": "call_a", "type": "function", "function": {"name": "search_context", "arguments": '{"query": "the code word, please"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "fold_fragment", "arguments": '{"fragment_id": "f1a2b3"}'}},
    ]


def test_a_stop_during_tool_calls_drops_the_partial_calls(model):
    stop = StopSignal()

    def brake(delta) -> None:
        if isinstance(delta, ToolCallDelta):
            stop.set("no tools now")

    scripted_model.enqueue(model, {"content": "Let me look.", "tool_calls": [{"name": "search_context", "arguments": {"query": "a long query indeed"}}]})
    result = complete(Backend(model=model), QUESTION, observer=brake, stop=stop)
    assert result.stopped and result.tool_calls == [] and result.content == "Let me look."
    assert result.finish_reason == "stopped" and result.stop_reason == "no tools now"


def test_the_unstreamed_path_gives_the_same_completion_and_deltas_in_order(model):
    reply = {"reasoning": "Native reasoning.", "content": "<think>Tagged reasoning.</think>The answer.",
             "tool_calls": [{"id": "call_1", "name": "search_context", "arguments": {"query": "x"}}]}
    streamed, _ = _run(model, reply)
    whole, deltas = _run(model, reply, stream=False)
    for field in ("content", "reasoning", "tool_calls", "finish_reason", "stopped", "stop_reason"):
        assert getattr(whole, field) == getattr(streamed, field), field
    assert whole.content == "The answer." and whole.reasoning == "Native reasoning.Tagged reasoning."
    assert deltas == [ReasoningDelta("Native reasoning."), ReasoningDelta("Tagged reasoning."), TextDelta("The answer."),
                      ToolCallDelta(0, "call_1", "search_context", '{"query": "x"}')]
    assert whole.usage == streamed.usage and whole.usage["reasoning_tokens"] > 0


def test_think_tags_are_split_out_of_an_unstreamed_reply(model):
    scripted_model.enqueue(model, "<think>\nhmm, four\n</think>\n\nFour.")
    result = complete(Backend(model=model), QUESTION)
    assert result.content == "Four." and result.reasoning == "hmm, four\n" and not result.stopped


def test_usage_the_backend_reports_is_used_on_both_paths(model):
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18, "completion_tokens_details": {"reasoning_tokens": 3}}
    for stream in (True, False):
        result, _ = _run(model, {"content": "hi there", "reasoning": "hm", "usage": usage}, stream=stream)
        assert result.usage == {"prompt_tokens": 11, "completion_tokens": 7, "reasoning_tokens": 3}, stream


def test_the_old_on_token_and_event_still_work(model):
    tokens: list[str] = []
    scripted_model.enqueue(model, {"reasoning": "private", "content": "public words here and there"})
    result = complete(Backend(model=model), QUESTION, on_token=tokens.append)
    assert "".join(tokens) == result.content == "public words here and there"  # reasoning is not text
    event = threading.Event()
    scripted_model.enqueue(model, LONG)
    result = complete(Backend(model=model), QUESTION, on_token=lambda token: event.set(), stop=event)
    assert result.stopped and result.stop_reason == "requested" and len(result.content) < len(LONG)


def test_an_observer_object_and_an_observer_that_fails(model):
    class Recorder:
        def __init__(self) -> None:
            self.deltas: list = []

        def on_delta(self, delta) -> None:
            self.deltas.append(delta)

    recorder = Recorder()
    scripted_model.enqueue(model, "hello there, observer")
    result = complete(Backend(model=model), QUESTION, observer=recorder)
    assert _joined(recorder.deltas, TextDelta) == result.content

    def broken(delta) -> None:
        raise ValueError("observer bug")

    scripted_model.enqueue(model, "hello")
    with pytest.raises(ObserverError, match="observer bug") as caught:
        complete(Backend(model=model), QUESTION, observer=broken)
    assert not isinstance(caught.value, LLMError)  # the caller's bug, not the backend's


def test_a_stop_signal_keeps_its_first_reason():
    stop = StopSignal()
    assert not stop.is_set() and stop.reason is None
    stop.set("overthinking")
    stop.set("the person pressed stop")
    assert stop.is_set() and stop.wait(0) and stop.reason == "overthinking"
    stop.clear()
    assert not stop.is_set() and stop.reason is None
    assert isinstance(stop, threading.Event)


def test_anthropic_thinking_blocks_count_once():
    heard: list = []
    parts = StreamAssembler(heard.append)
    blocks = [{"type": "thinking", "thinking": "step one", "signature": "sig"}]
    parts.add_delta({"reasoning_content": "step one", "thinking_blocks": blocks})  # litellm sends both
    parts.add_delta({"thinking_blocks": [{"type": "thinking", "thinking": ", step two"}, {"type": "redacted_thinking", "data": "x"}]})
    parts.add_delta({"content": "Done."})
    parts.finish()
    assert parts.reasoning == "step one, step two" and parts.text == "Done."
    assert heard == [ReasoningDelta("step one"), ReasoningDelta(", step two"), TextDelta("Done.")]


# ---- the splitter on its own --------------------------------------------------------------

_free_text = st.text(alphabet="ab <>/thinkTK\n", max_size=16).filter(lambda s: OPEN_TAG not in s and CLOSE_TAG not in s)


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted(set(cuts) | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:])]


def _stream(chunks: list[str]) -> tuple[ThinkTagSplitter, list]:
    splitter = ThinkTagSplitter()
    deltas = [d for chunk in chunks for d in splitter.feed(chunk)] + splitter.flush()
    return splitter, deltas


@given(before=_free_text, reasoning=_free_text, after=_free_text, data=st.data())
def test_any_split_of_a_think_block_gives_the_same_text_and_reasoning(before, reasoning, after, data):
    whole = f"{before}{OPEN_TAG}{reasoning}{CLOSE_TAG}{after}"
    cuts = data.draw(st.lists(st.integers(0, len(whole)), max_size=12))
    splitter, deltas = _stream(_split(whole, cuts))
    expected_text = before + (after if before else after.lstrip())
    assert (splitter.text, splitter.reasoning) == (expected_text, reasoning.lstrip()) == split_think_tags(whole)
    assert _joined(deltas, TextDelta) == splitter.text and _joined(deltas, ReasoningDelta) == splitter.reasoning
    assert all(d.text for d in deltas)


@given(reasoning=_free_text, after=_free_text, data=st.data())
def test_any_split_of_a_reply_that_only_closes_its_reasoning(reasoning, after, data):
    whole = f"{reasoning}{CLOSE_TAG}{after}"
    cuts = data.draw(st.lists(st.integers(0, len(whole)), max_size=12))
    splitter, _ = _stream(_split(whole, cuts))
    assert (splitter.text, splitter.reasoning) == (after.lstrip(), reasoning)


@given(text=_free_text, data=st.data())
def test_text_without_tags_passes_through_any_split_unchanged(text, data):
    splitter, deltas = _stream(_split(text, data.draw(st.lists(st.integers(0, len(text)), max_size=12))))
    assert splitter.text == text == _joined(deltas, TextDelta) and splitter.reasoning == ""
