"""Sculptor's system prompts, verbatim, for the benchmarks and for MCP clients (`prompts/get`).

From the Sculptor paper (v2, App. C; reference/sculptor-and-benchmarks.md). The unified prompt
was published whole. Of the two task-specific prompts only the key part was published, with
its "..." marks; they are kept exactly as published, marks included, rather than completed by
guesswork. The paper gave each as the system prompt of a session whose one user message is the
task.
"""

from __future__ import annotations

from dataclasses import dataclass

UNIFIED_PROMPT = ("You are a helpful assistant. You can autonomously manage your own context: fold irrelevant "
                  "information, focus on useful details, summarize long texts to keep your context concise, and use "
                  "search tools to find key information in large documents.")
PI_LLM_PROMPT = ("...First use the fragment_context tool to split the long text into multiple fragments, then use "
                 "fold_fragment to fold unimportant, earlier key-value updates... divide the entire update stream into "
                 "multiple fragments (e.g., ten fragments), then keep only the last two or three fragments while "
                 "folding the rest.")
NEEDLEBENCH_PROMPT = ('You are an agent skilled at analyzing family relationships... You have "search_context" and '
                      '"get_search_detail" tools... conducting chained searches... When searching for the oldest '
                      "ancestor, ensure that every person name found has been verified through the search tools to "
                      "confirm they truly have no higher-level ancestors before concluding.")


@dataclass(frozen=True, slots=True)
class SystemPrompt:
    name: str
    title: str
    description: str
    text: str


SCULPTOR_PROMPTS: tuple[SystemPrompt, ...] = (
    SystemPrompt("sculptor_unified", "Sculptor: unified prompt",
                 "Sculptor's unified system prompt (paper v2, App. C), verbatim: the model manages its own context "
                 "with the six Sculptor tools. The paper used it as the system prompt of every task.", UNIFIED_PROMPT),
    SystemPrompt("sculptor_pi_llm", "Sculptor: PI-LLM task prompt",
                 "Sculptor's task-specific system prompt for PI-LLM (proactive interference: fragment the update "
                 "stream, fold all but the last two or three fragments). Only its key part is published; it is "
                 "given as published, \"...\" included.", PI_LLM_PROMPT),
    SystemPrompt("sculptor_needlebench", "Sculptor: NeedleBench task prompt",
                 "Sculptor's task-specific system prompt for NeedleBench multi-needle reasoning (chained "
                 "search_context and get_search_detail calls). Only its key part is published; it is given as "
                 "published, \"...\" included.", NEEDLEBENCH_PROMPT),
)
