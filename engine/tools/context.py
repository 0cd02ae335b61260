"""Sculptor's context-editing tools: fragment, fold, summarize, restore.

Names, parameters, defaults and ranges follow the Sculptor paper (v2, App. F) so its
prompts work as written. Every edit is reversible: the original text is never changed,
only how a fragment renders.
"""

from __future__ import annotations

from typing import Literal

from engine.errors import ToolInputError
from engine.events import ContextFragmented, FragmentFolded, FragmentRestored, FragmentSummarized
from engine.fragmenting import plan_fragments
from engine.render import fold_marker, summary_header
from engine.tools.registry import ToolContext, ToolResult
from engine.tools.types import FragmentCount

SearchRole = Literal["user", "assistant", "all", "tool", "system"]


def fragment_context(
    ctx: ToolContext,
    start_marker: str,
    end_marker: str,
    num_fragments: FragmentCount = 5,
    role: SearchRole = "user",
    message_id: str | None = None,
) -> ToolResult:
    """Fragment conversation content between specified markers into manageable pieces.

    Splits the text from the first start_marker to the first end_marker after it (both
    included) into about num_fragments pieces of about equal tokens, cut at paragraph, line
    or sentence boundaries. A fragment never crosses a message boundary. Markers are matched
    exactly (case-sensitive) in the text you can see; folded or summarized parts inside the
    span stay as they are. Each piece gets an ID such as "f1a2b3" for fold_fragment,
    summarize_fragment and restore_fragment. Fragmenting alone does not change what you see.

    Args:
        start_marker: Exact text where the span begins, copied from the conversation; it is included in the span.
        end_marker: Exact text where the span ends: its first occurrence after start_marker, included in the span.
        num_fragments: How many fragments to split the span into, from 1 to 20.
        role: Whose messages to look in: "user", "assistant", "tool", "system", or "all" for every message.
        message_id: Optional: look only in this message, such as "m3" (then role is ignored).
    """
    if not start_marker:
        raise ToolInputError('start_marker is empty; copy a few words where the span begins, such as "Chapter 1"')
    if not end_marker:
        raise ToolInputError('end_marker is empty; copy a few words where the span ends, such as "The end."')
    plan = plan_fragments(ctx.state, start_marker, end_marker, num_fragments, role, ctx.counter, message_id)
    result = {"fragments": plan.pieces, "total_tokens": sum(p["tokens"] for p in plan.pieces)}
    if plan.edges:
        result["split_off"] = plan.edges  # parts of fragments the span cut through, now with new ids
    notes = []
    if len(plan.pieces) != num_fragments:
        reason = (
            "the span covers several messages and a fragment never crosses one"
            if len(plan.pieces) > num_fragments
            else "the span is too short for more"
        )
        notes.append(f"made {len(plan.pieces)} fragments, not {num_fragments}: {reason}")
    if not plan.cuts:
        notes.append("the span was already fragmented this way; ids are unchanged")
    if notes:
        result["note"] = "; ".join(notes)
    event = ContextFragmented(
        start_marker=start_marker, end_marker=end_marker, role=role, num_fragments=num_fragments, cuts=plan.cuts
    )
    return ToolResult.ok(result, [event])


def fold_fragment(ctx: ToolContext, fragment_id: str) -> ToolResult:
    """Fold (hide) a conversation fragment to reduce visible context length.

    The content is preserved: only a one-line marker with the fragment's ID and its token
    count stays visible, and restore_fragment brings the text back.

    Args:
        fragment_id: ID of the fragment to fold, such as "f1a2b3", from fragment_context or search_context.
    """
    fragment = ctx.state.fragment(fragment_id)
    if fragment.status == "folded":
        raise ToolInputError(f"fragment {fragment_id} is already folded; restore_fragment shows it again")
    tokens = ctx.counter.count(fragment.text)
    marker_tokens = ctx.counter.count(fold_marker(fragment_id, tokens))
    return ToolResult.ok(
        {
            "fragment_id": fragment_id,
            "message_id": fragment.message_id,
            "tokens_hidden": tokens,
            "tokens_saved": tokens - marker_tokens,
            "previous_state": fragment.status,
        },
        [FragmentFolded(fragment_id=fragment_id)],
    )


def summarize_fragment(ctx: ToolContext, fragment_id: str, focus: str) -> ToolResult:
    """Summarize a conversation fragment to compress it while keeping key information.

    The fragment is replaced in the context by a summary steered by focus; the original is
    preserved and restore_fragment brings it back.

    Args:
        fragment_id: ID of the fragment to summarize, such as "f1a2b3".
        focus: What the summary should keep, e.g. "technical details", "key decisions", "action items", "main points", "problems", "solutions".
    """
    fragment = ctx.state.fragment(fragment_id)
    if not focus.strip():
        raise ToolInputError('focus is empty; say what the summary should keep, such as "key decisions"')
    summary = ctx.summarizer(fragment.text, focus)
    tokens_before = ctx.counter.count(fragment.text)
    tokens_after = ctx.counter.count(summary_header(fragment_id, tokens_before, focus) + "\n" + summary)
    return ToolResult.ok(
        {
            "fragment_id": fragment_id,
            "summary": summary,
            "tokens_before": tokens_before,
            "tokens_after": tokens_after,
            "summarizer": ctx.summarizer.name,
        },
        [FragmentSummarized(fragment_id=fragment_id, focus=focus, summary=summary, summarizer=ctx.summarizer.name)],
    )


def restore_fragment(ctx: ToolContext, fragment_id: str) -> ToolResult:
    """Restore a fragment to its original content. Works for both summarized and folded fragments.

    Args:
        fragment_id: ID of the folded or summarized fragment to show again, such as "f1a2b3".
    """
    fragment = ctx.state.fragment(fragment_id)
    if fragment.status == "visible":
        raise ToolInputError(f"fragment {fragment_id} is already visible; only folded or summarized fragments can be restored")
    return ToolResult.ok(
        {
            "fragment_id": fragment_id,
            "message_id": fragment.message_id,
            "tokens_restored": ctx.counter.count(fragment.text),
            "previous_state": fragment.status,
        },
        [FragmentRestored(fragment_id=fragment_id)],
    )
