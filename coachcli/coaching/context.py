"""Fit the coaching conversation to the model's window; fold what falls out into a running summary.

The raw messages always stay in the store. Only the request is trimmed, and everything trimmed is
summarised first, so nothing is silently forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from coachcli.coaching.memories import get_summary, set_summary
from coachcli.coaching.messages import list_messages
from coachcli.coaching.prompts import SUMMARY_PROMPT
from coachcli.coaching.tools.registry import schemas
from coachcli.coaching.usage import record_call
from coachcli.errors import CoachError, UsageError
from coachcli.llm.client import LLMClient
from coachcli.store.models import Message, User

SAFETY_TOKENS = 64  # token counters disagree a little between providers
KEEP_AFTER_FOLD = 0.6  # after folding, history fills at most this share: no fold on every turn
MIN_HISTORY_TOKENS = 128


@dataclass(frozen=True)
class Cue:
    """A user message sent after the history but never saved, for a turn the coach starts.

    Strict providers (Anthropic) reject a request without a user message and take a trailing
    assistant message as a prefill to continue, so a coach-started request still needs one. It
    stands where the person would have written: after message `after` (None: before every
    message), ahead of the turn's own replies and tool results."""

    text: str
    after: int | None

    def request(self) -> dict[str, Any]:
        return {"role": "user", "content": self.text}


@dataclass
class Budget:
    window: int
    reply: int
    # Set when the window is the person's `context_tokens`, not the model's: the model's own
    # reply room, which `reply` was capped from.
    setting_reply: int | None = None

    @property
    def prompt(self) -> int:
        return self.window - self.reply - SAFETY_TOKENS


def budget_for(client: LLMClient, context_tokens: int | None) -> Budget:
    window, reply = client.context_window()
    if context_tokens:
        return _with_setting(context_tokens, reply)
    return Budget(window=window, reply=reply)


def _with_setting(context_tokens: int, model_reply: int) -> Budget:
    return Budget(context_tokens, min(model_reply, context_tokens // 4), setting_reply=model_reply)


def smallest_setting(model_reply: int, prompt_tokens: int) -> int:
    """The smallest `context_tokens` that leaves `prompt_tokens` for the request."""
    low, high = 1, prompt_tokens + model_reply + SAFETY_TOKENS  # `high` always leaves enough
    while low < high:  # the prompt share never shrinks as the window grows
        middle = (low + high) // 2
        if _with_setting(middle, model_reply).prompt >= prompt_tokens:
            high = middle
        else:
            low = middle + 1
    return low


def too_small(budget: Budget, fixed: int, model: str) -> CoachError:
    """The one-line error for a window that cannot hold the prompt and tools (`fixed` tokens)
    plus a little history: exit 2 naming the setting and its minimum when the window is the
    person's `context_tokens`, else exit 1 naming the model."""
    needed = fixed + MIN_HISTORY_TOKENS
    if budget.setting_reply is not None:
        least = smallest_setting(budget.setting_reply, needed)
        return UsageError(
            f"context_tokens ({budget.window}) is too small for the coach's prompt and tools "
            f"({fixed} tokens): raise it to at least {least} (`coach config set context_tokens {least}` "
            "or COACH_CONTEXT_TOKENS), or remove some facts (`coach facts rm`)."
        )
    return CoachError(
        f"{model}'s window ({budget.window} tokens, {budget.reply} kept for the reply) is too small "
        f"for the coach's prompt and tools ({fixed} tokens): choose a model with a larger window, "
        "or remove some facts (`coach facts rm`)."
    )


def to_request(message: Message) -> dict[str, Any]:
    """A stored message as the model expects it."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content}
    item: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        item["tool_calls"] = message.tool_calls
        item["content"] = message.content or None
    if message.status == "interrupted" and message.role == "assistant":
        item["content"] = (message.content or "") + "\n[reply interrupted by the user]"
    return item


class TokenCounter:
    """Counts each message once per process: long conversations are counted incrementally."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client
        self._cache: dict[int, int] = {}

    def message(self, message: Message) -> int:
        key = message.id or 0
        if key not in self._cache:
            self._cache[key] = self.client.count_tokens([to_request(message)])
        return self._cache[key]

    def prime(self, messages: list[Message]) -> None:
        """Count the messages not counted yet, all in one request (one worker round trip)."""
        new = {m.id or 0: m for m in messages if (m.id or 0) not in self._cache}
        counts = self.client.count_each([[to_request(m)] for m in new.values()])
        self._cache.update(zip(new, counts, strict=True))

    def requests(self, *items: list[dict[str, Any]]) -> list[int]:
        """The tokens of each request, in one round trip."""
        return self.client.count_each(items)


def _split(messages: list[Message], room: int, count: Callable[[Message], int]) -> int:
    """Index of the first message kept so that the kept suffix fits `room` tokens."""
    used = 0
    start = len(messages)
    for index in range(len(messages) - 1, -1, -1):
        used += count(messages[index])
        if used > room:
            break
        start = index
    # A tool result cannot open the history: its assistant call would be missing.
    while start < len(messages) and messages[start].role == "tool":
        start += 1
    return start


def fit_history(
    session: Session,
    user: User,
    conversation_id: str,
    client: LLMClient,
    budget: Budget,
    system_prompt: Callable[[], str],
    counter: TokenCounter,
    guard: Callable[[], None] | None = None,
    cue: Cue | None = None,
) -> list[dict[str, Any]]:
    """The request for the next turn: system prompt plus as much recent history as fits.

    `guard` runs before each summary is saved (a turn checks there that the conversation was not
    reset meanwhile; a stale summary would hide the fresh conversation's first messages).
    `cue`, when given, is placed in the request (and counted) but not saved."""
    tools = [{"role": "system", "content": str(schemas())}]
    cued = [[cue.request()]] if cue else []
    for _ in range(4):
        system = {"role": "system", "content": system_prompt()}
        fixed = sum(counter.requests([system], tools, *cued))  # one round trip
        room = budget.prompt - fixed
        if room < MIN_HISTORY_TOKENS:
            raise too_small(budget, fixed, client.model)
        summary = get_summary(session, conversation_id)
        after = summary.covers_through if summary and summary.covers_through else 0
        pending = list_messages(session, conversation_id, after=after)
        counter.prime(pending)
        start = _split(pending, room, counter.message)
        if start == 0:
            return [system, *_with_cue([to_request(m) for m in pending], pending, cue)]
        if start >= len(pending):
            raise CoachError(
                f"the latest message is longer than the model's window allows ({budget.window} tokens): "
                "send a shorter message, or raise context_tokens."
            )
        target = _split(pending, int(room * KEEP_AFTER_FOLD), counter.message)
        fold_to = max(start, min(target, len(pending) - 1))
        fold(session, user, conversation_id, client, budget, pending[:fold_to], guard)
    raise CoachError("could not fit the conversation into the model's window: raise context_tokens.")


def _with_cue(items: list[dict[str, Any]], kept: list[Message], cue: Cue | None) -> list[dict[str, Any]]:
    """`items` (the requests of `kept`) with the cue before the first message of the turn."""
    if cue is None:
        return items
    at = next((i for i, m in enumerate(kept) if cue.after is None or (m.id or 0) > cue.after), len(kept))
    return [*items[:at], cue.request(), *items[at:]]


def _line(message: Message, limit: int) -> str:
    text = message.content or ""
    if message.tool_calls:
        names = ", ".join(c.get("function", {}).get("name", "?") for c in message.tool_calls)
        text = f"{text} [called {names}]".strip()
    if len(text) > limit:
        text = text[: limit // 2] + " … " + text[-limit // 2 :]
    return f"{message.role}: {text}"


def fold(
    session: Session,
    user: User,
    conversation_id: str,
    client: LLMClient,
    budget: Budget,
    messages: list[Message],
    guard: Callable[[], None] | None = None,
) -> None:
    """Merge `messages` into the running summary, a window-sized chunk at a time, committing each."""
    if not messages:
        return
    words = max(60, min(400, budget.window // 12))
    # Most of the window per call: a long backlog folds in as few calls as possible.
    chunk_tokens = max(256, budget.prompt - words * 2 - 400)
    char_limit = chunk_tokens * 3
    index = 0
    while index < len(messages):
        chunk: list[str] = []
        used = 0
        while index < len(messages):
            line = _line(messages[index], char_limit)
            cost = len(line) // 3 + 4
            if chunk and used + cost > chunk_tokens:
                break
            chunk.append(line)
            used += cost
            index += 1
        summary = get_summary(session, conversation_id)
        previous = summary.content if summary else "(none yet)"
        request = [
            {"role": "system", "content": SUMMARY_PROMPT.format(words=words)},
            {
                "role": "user",
                "content": f"Existing summary:\n{previous}\n\nNew messages:\n" + "\n".join(chunk),
            },
        ]
        session.commit()  # no transaction is held while the model works
        reply = client.complete(request, max_tokens=words * 2)
        text = " ".join(reply.content.split())[: words * 8] or previous
        if guard is not None:
            try:
                guard()
            except Exception:
                session.rollback()
                record_call(session, user.id, "summary", reply, conversation_id=conversation_id)
                session.commit()  # the summary is dropped, but the call was paid for
                raise
        set_summary(session, user, conversation_id, text, messages[index - 1].position)
        record_call(session, user.id, "summary", reply, conversation_id=conversation_id)
        session.commit()
