"""Sculptor's search tools: search_context and get_search_detail.

Search reads the original text, so it finds what was folded or summarized too, and says
so; a hit's id (`s` + 5 hex) opens a wider window on it with get_search_detail.
"""

from __future__ import annotations

from typing import Annotated, Literal

from engine.errors import ToolInputError
from engine.events import ContextSearched, SearchDetailViewed, SearchHit
from engine.ids import IdAllocator
from engine.search import SEARCHES
from engine.state import ContextState
from engine.tools.context import SearchRole
from engine.tools.registry import ToolContext, ToolResult
from engine.tools.types import DetailChars, HiddenFromModel, ResultCount, SnippetChars


def text_window(text: str, start: int, end: int, reach: int) -> tuple[str, int, int]:
    """text around [start, end) with `reach` characters each side; '…' marks a cut edge.

    A match longer than twice `reach` (a greedy regex) keeps only its two ends, so a
    snippet never grows to the size of the message.
    """
    left, right = max(0, start - reach), min(len(text), end + reach)
    prefix = "…" if left > 0 else ""
    suffix = "…" if right < len(text) else ""
    if end - start > 2 * reach:
        middle = text[start : start + reach] + " … " + text[end - reach : end]
        window = prefix + text[left:start] + middle + text[end:right] + suffix
        return window, start - left + len(prefix), start - left + len(prefix) + len(middle)
    window = prefix + text[left:right] + suffix
    return window, start - left + len(prefix), end - left + len(prefix)


def _fragment_of(state: ContextState, message_id: str, offset: int, part: str = "content") -> tuple[str | None, str | None]:
    if part != "content":  # reasoning and tool calls have no fragments
        return None, None
    fragment = state.fragment_at(message_id, offset)
    return (fragment.id, fragment.status) if fragment else (None, None)


def search_context(
    ctx: ToolContext,
    query: str,
    role: SearchRole = "user",
    max_results: ResultCount = 10,
    context_size: SnippetChars = 200,
    mode: Literal["exact", "regex", "ranked"] = "exact",
    include_reasoning: Annotated[bool, HiddenFromModel] = False,
) -> ToolResult:
    """Search tool for finding exact text matches in conversation history.

    Case-insensitive, like Ctrl+F, over the original text of every message of the given
    role, including folded and summarized fragments (each hit says which fragment holds it
    and its state) and the arguments of tool calls. Results come most recent match first. Each hit has an ID such as
    "s1a2b3" for get_search_detail.

    Args:
        query: Text to find, such as "project deadline"; matched case-insensitively.
        role: Whose messages to search: "user", "assistant", "tool", "system", or "all".
        max_results: Most hits to return, from 1 to 50; total_matches counts them all.
        context_size: Context characters before and after each match in its snippet, from 50 to 1000.
        mode: "exact" for plain text (the default), "regex" for a regular expression, or "ranked" for BM25 relevance over fragments, best first, when the exact words are unknown.
        include_reasoning: Also search assistants' reasoning (a person's option in the workbench; models are not offered it).
    """
    if not query.strip():
        raise ToolInputError('query is empty; give the text to find, such as "deadline"')
    from engine.tools import registry  # the package imports this module: its registry exists by call time

    matches, total = SEARCHES[mode](ctx.state, query, role, max_results, include_reasoning,
                                    frozenset(registry.names))
    ids = IdAllocator("s", ctx.state.searches, seed=f"search:{ctx.state.event_count}")
    hits, results = [], []
    for rank, match in enumerate(matches):
        message = ctx.state.messages[match.message_index]
        search_id = ids.next(f"{rank}:{message.id}:{match.start}")
        hits.append(SearchHit(search_id=search_id, message_id=message.id, start=match.start, end=match.end,
                              part=match.part))
        fragment_id, status = _fragment_of(ctx.state, message.id, match.start, match.part)
        snippet, _, _ = text_window(message.part_text(match.part), match.start, match.end, context_size)
        result = {
            "search_id": search_id,
            "message_id": message.id,
            "fragment_id": fragment_id,
            "fragment_state": status,
            "snippet": snippet,
        }
        if match.part != "content":
            result["part"] = match.part
        if match.score is not None:
            result["score"] = match.score
        results.append(result)
    order = "best match first" if mode == "ranked" else "most recent match first"
    data = {"results": results, "total_matches": total, "order": order}
    if total > len(results):
        data["note"] = f"showing {len(results)} of {total}; raise max_results or refine the query"
    event = ContextSearched(query=query, role=role, mode=mode, total_matches=total, hits=hits,
                            include_reasoning=include_reasoning)
    return ToolResult.ok(data, [event])


def get_search_detail(ctx: ToolContext, search_id: str, extended_context: DetailChars = 500) -> ToolResult:
    """Get detailed context for a search result by its ID.

    Retrieves the original text around the match, extended_context characters on each
    side, even when the fragment holding it is folded or summarized.

    Args:
        search_id: ID of a search result, such as "s1a2b3", from search_context.
        extended_context: Characters of original text to show before and after the match, from 100 to 2000.
    """
    record = ctx.state.search(search_id)
    message = ctx.state.message(record.message_id)
    text, match_start, match_end = text_window(message.part_text(record.part), record.start, record.end, extended_context)
    fragment_id, status = _fragment_of(ctx.state, message.id, record.start, record.part)
    return ToolResult.ok(
        {
            **({"part": record.part} if record.part != "content" else {}),
            "search_id": search_id,
            "message_id": message.id,
            "role": message.role,
            "fragment_id": fragment_id,
            "fragment_state": status,
            "match": text[match_start:match_end],
            "match_length": record.end - record.start,
            "text": text,
            "match_start": match_start,
            "match_end": match_end,
        },
        [SearchDetailViewed(search_id=search_id, extended_context=extended_context)],
    )
