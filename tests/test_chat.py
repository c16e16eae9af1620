"""`coach chat` one-shot turns against the scripted server (issue 3).

Why: the coaching conversation is where users spend their day; a turn must never lose the user's
words, must keep what the coach learns (facts, memories, proposals), must tell the model what it
knows, must fit the model's window however long the conversation gets, and must survive several
processes writing at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL, coaching_messages
from scripted_server import Reply, ScriptedServer, broken_stream, error, text, tool_call

from coachcli.coaching.agents import BUILTIN_AGENTS

CHAT_KEYS = {"conversation_id", "reply", "model", "input_tokens", "output_tokens", "cost_usd"}


# -- helpers ------------------------------------------------------------------------------------


def facts_of(coach: Any) -> list[dict[str, Any]]:
    run = coach("facts", "list", "--json")
    assert run.exit_code == 0, run.stderr
    return run.json()


def system_prompt(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    assert first["role"] == "system"
    return first["content"]


def one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


# -- one-shot and piped turns -------------------------------------------------------------------


def test_one_shot_json_shape(coach: Any, model_env: ScriptedServer) -> None:
    """--json prints exactly the documented document, with the provider's usage."""
    model_env.queue(text("Let's start with one small step.", input_tokens=42, output_tokens=6))
    run = coach("chat", "I skipped two runs this week", "--json")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    assert set(doc) == CHAT_KEYS
    assert doc["reply"] == "Let's start with one small step."
    assert doc["model"] == MODEL
    assert (doc["input_tokens"], doc["output_tokens"]) == (42, 6)
    assert doc["cost_usd"] is None  # the scripted model has no price: empty, not an error
    assert doc["conversation_id"]
    assert model_env.requests[0]["messages"][-1] == {
        "role": "user",
        "content": "I skipped two runs this week",
    }


def test_piped_stdin_is_one_plain_turn(coach: Any, model_env: ScriptedServer) -> None:
    """`echo ... | coach chat`: the piped text is the message and the reply is plain text on stdout."""
    model_env.queue(text("Your goal is a **10k** in June."))
    run = coach("chat", input="Summarise my goals\n")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "Your goal is a **10k** in June.\n"  # no Markdown rendering, no colour codes
    assert model_env.requests[0]["messages"][-1]["content"] == "Summarise my goals"


def test_empty_piped_message_is_bad_usage(coach: Any, model_env: ScriptedServer) -> None:
    """Nothing to say: exit 2 and no model call."""
    run = coach("chat", input="   \n")
    assert run.exit_code == 2
    one_error_line(run.stderr)
    assert model_env.requests == []


def test_user_message_is_committed_before_the_model_is_called(
    coach: Any, model_env: ScriptedServer, store: Any
) -> None:
    """While the model works, another connection already sees the user's message."""
    seen: list[list[str]] = []

    def responder(body: dict[str, Any]) -> Reply:
        seen.append([m.content for m in coaching_messages(store)])
        return text("Good question.")

    model_env.default = responder
    run = coach("chat", "Is it OK to run two days in a row?")
    assert run.exit_code == 0, run.stderr
    assert seen == [["Is it OK to run two days in a row?"]]


@pytest.mark.parametrize("failure", [error(401), error(500)], ids=["401", "500"])
def test_provider_failure_keeps_the_user_message(
    coach: Any, model_env: ScriptedServer, store: Any, failure: Reply
) -> None:
    """A failing provider: exit 1, one Error line, and the user's words stay in the conversation."""
    model_env.default = failure
    run = coach("chat", "Please remember I travel next week")
    assert run.exit_code == 1
    one_error_line(run.stderr)
    messages = coaching_messages(store)
    assert [(m.role, m.content) for m in messages] == [("user", "Please remember I travel next week")]


@pytest.mark.parametrize("status", [400, 401, 500])
def test_provider_echoing_the_key_does_not_leak_it(
    coach: Any, model_env: ScriptedServer, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    """A provider error that repeats the API key: the CLI's output never shows the key."""
    key = "zz-chat-secret-4e5f6a7b8c9d"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    model_env.default = error(status, f"Incorrect API key provided: {key}")
    run = coach("chat", "hello", "--json")
    assert run.exit_code == 1
    one_error_line(run.stderr)
    assert model_env.requests
    assert key not in run.stdout + run.stderr


def test_reply_is_saved_with_model_and_tokens(coach: Any, model_env: ScriptedServer, store: Any) -> None:
    """The stored assistant message carries the model and the provider's token counts."""
    model_env.queue(text("Well done on the long run.", input_tokens=77, output_tokens=5))
    assert coach("chat", "I ran 12 km").exit_code == 0
    user, reply = coaching_messages(store)
    assert (user.role, user.content) == ("user", "I ran 12 km")
    assert (reply.role, reply.status) == ("assistant", "complete")
    assert reply.content == "Well done on the long run."
    assert reply.model == MODEL
    assert (reply.input_tokens, reply.output_tokens) == (77, 5)
    history = coach("history", "--json").json()
    assert [m["content"] for m in history] == ["I ran 12 km", "Well done on the long run."]


def test_broken_stream_keeps_the_partial_reply(coach: Any, model_env: ScriptedServer, store: Any) -> None:
    """A stream that breaks midway: what was shown is stored as interrupted, and the command exits 1."""
    model_env.queue(broken_stream("You could try a shorter run on", chunks=3))
    run = coach("chat", "How do I fit in runs?")
    assert run.exit_code == 1
    one_error_line(run.stderr)
    assert "You could try a shorter run on" in run.stdout  # it was shown as it streamed
    user, partial = coaching_messages(store)
    assert user.content == "How do I fit in runs?"
    assert (partial.role, partial.content, partial.status) == (
        "assistant",
        "You could try a shorter run on",
        "interrupted",
    )
    model_env.queue(text("Sorry, as I was saying."))
    assert coach("chat", "go on").exit_code == 0
    sent = model_env.requests[-1]["messages"]
    assert any("You could try a shorter run on" in (m.get("content") or "") for m in sent)


# -- tools --------------------------------------------------------------------------------------


def test_remember_fact_saves_a_durable_fact(coach: Any, model_env: ScriptedServer) -> None:
    """remember_fact creates a fact with source coach, tells the user, and feeds the result back."""
    model_env.queue(
        tool_call("remember_fact", {"fact": "Runs three times a week"}, call_id="call_fact1"),
        text("Got it."),
    )
    run = coach("chat", "I run three times a week")
    assert run.exit_code == 0, run.stderr
    assert "Got it." in run.stdout
    assert "Saved fact" in run.stderr
    assert "Runs three times a week" in run.stderr
    [fact] = facts_of(coach)
    assert (fact["text"], fact["source"]) == ("Runs three times a week", "coach")

    assert len(model_env.requests) == 2
    follow_up = model_env.requests[1]["messages"]
    call_index = next(i for i, m in enumerate(follow_up) if m.get("tool_calls"))
    assert follow_up[call_index]["role"] == "assistant"
    assert follow_up[call_index]["tool_calls"][0]["id"] == "call_fact1"
    result = follow_up[call_index + 1]
    assert result["role"] == "tool"
    assert result["tool_call_id"] == "call_fact1"
    assert "Runs three times a week" in result["content"]


def test_restated_or_corrected_fact_updates_instead_of_duplicating(
    coach: Any, model_env: ScriptedServer
) -> None:
    """A restatement merges into the known fact and the tool result names it; a correction
    (replaces_fact_id) leaves one current fact, the old one kept as history."""
    model_env.queue(tool_call("remember_fact", {"fact": "Runs three times a week"}), text("Noted."))
    assert coach("chat", "I run three times a week").exit_code == 0
    [original] = facts_of(coach)

    model_env.queue(tool_call("remember_fact", {"fact": "runs three times a week."}), text("Still noted."))
    run = coach("chat", "As I said, three runs a week")
    assert run.exit_code == 0, run.stderr
    assert "Already known fact" in run.stderr
    assert [f["id"] for f in facts_of(coach)] == [original["id"]]
    tool_result = [m for m in model_env.requests[-1]["messages"] if m["role"] == "tool"][-1]
    assert f"Merged into fact {original['id'][:8]}" in tool_result["content"]

    correction = {"fact": "Runs four times a week", "replaces_fact_id": original["id"][:8]}
    model_env.queue(tool_call("remember_fact", correction), text("Four it is."))
    run = coach("chat", "Actually it is four now")
    assert run.exit_code == 0, run.stderr
    assert "Saved fact" in run.stderr
    [fact] = facts_of(coach)
    assert fact["text"] == "Runs four times a week"
    replaced = [f for f in coach("facts", "list", "--all", "--json").json() if f["id"] == original["id"]]
    assert replaced[0]["superseded_by"] == fact["id"]


def test_save_memory_keeps_a_note_on_the_coaching_conversation(
    coach: Any, model_env: ScriptedServer, store: Any
) -> None:
    """save_memory stores a note scoped to the coaching conversation; the next turn's prompt has it."""
    from coachcli.coaching.conversations import find_coaching
    from coachcli.coaching.memories import list_notes
    from coachcli.coaching.users import find_user

    model_env.queue(tool_call("save_memory", {"note": "Check on Friday's long run"}), text("OK."))
    run = coach("chat", "I'll do my long run on Friday", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["reply"] == "OK."
    with store.read_session() as session:
        coaching = find_coaching(session, find_user(session, "tester"))
        notes = [(n.content, n.conversation_id) for n in list_notes(session, coaching.id)]
    assert notes == [("Check on Friday's long run", run.json()["conversation_id"])]
    assert coach("chat", "hello again").exit_code == 0
    assert "Check on Friday's long run" in system_prompt(model_env.requests[-1])


def test_propose_dispatch_in_one_shot_waits_for_approval(
    coach: Any, model_env: ScriptedServer, store: Any
) -> None:
    """One-shot mode cannot ask: the proposal is stored as proposed by the coach, with how to approve."""
    from coachcli.coaching.dispatch.lifecycle import list_dispatches
    from coachcli.coaching.users import find_user

    task = "Draft a four-week plan to get back into running"
    model_env.queue(
        tool_call("propose_dispatch", {"agent": "planner", "task": task}, call_id="call_prop"),
        text("I've suggested the Planner draft it; approve it when you're ready."),
    )
    run = coach("chat", "Can you make me a plan?")
    assert run.exit_code == 0, run.stderr
    with store.read_session() as session:
        [dispatch] = list_dispatches(session, find_user(session, "tester"))
    assert (dispatch.status, dispatch.proposed_by, dispatch.agent, dispatch.task) == (
        "proposed",
        "coach",
        "planner",
        task,
    )
    assert dispatch.tool_call_id == "call_prop"
    assert f"coach dispatches approve {dispatch.id[:8]}" in run.stdout + run.stderr
    assert len(model_env.requests) == 2  # no specialist ran
    tool_result = model_env.requests[1]["messages"][-1]
    assert (tool_result["role"], tool_result["tool_call_id"]) == ("tool", "call_prop")
    assert dispatch.id[:8] in tool_result["content"]
    assert coach("tasks", "list", "--json").json() == []


def test_bad_tool_arguments_are_reported_to_the_model(coach: Any, model_env: ScriptedServer) -> None:
    """An unknown agent in a proposal is an error for the model to fix, not a crash of the turn."""
    model_env.queue(tool_call("propose_dispatch", {"agent": "astrologer", "task": "x"}), text("Never mind."))
    run = coach("chat", "Read my stars", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["reply"] == "Never mind."
    tool_result = model_env.requests[1]["messages"][-1]
    assert tool_result["role"] == "tool"
    assert tool_result["content"].startswith("Error:")
    assert "planner" in tool_result["content"]


# -- the tool registry --------------------------------------------------------------------------


def test_the_model_is_sent_exactly_the_registered_tools(coach: Any, model_env: ScriptedServer) -> None:
    """Every registered tool reaches the model with its own schema; names are unique."""
    from coachcli.coaching.tools.registry import TOOLS, schemas

    assert coach("chat", "hello").exit_code == 0
    sent = model_env.requests[0]["tools"]
    assert sent == schemas()
    names = [tool.name for tool in TOOLS]
    assert len(names) == len(set(names))
    assert {"remember_fact", "save_memory", "propose_dispatch"} <= set(names)
    assert all(s["function"]["parameters"]["type"] == "object" for s in sent)


def test_a_new_tool_is_one_module_and_one_registry_entry(
    coach: Any, model_env: ScriptedServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool added to the registry is offered, called with a ToolContext, its notice shown after its
    writes are committed; a tool that refuses (UsageError) has its writes rolled back, no notice."""
    from coachcli.coaching.memories import add_note
    from coachcli.coaching.tools import registry
    from coachcli.coaching.tools.base import Tool, ToolContext, require_arg
    from coachcli.errors import UsageError

    def search(ctx: ToolContext) -> str:
        query = require_arg(ctx, "query")
        add_note(ctx.session, ctx.user, ctx.conversation_id, f"searched {query}")
        ctx.after_save(lambda: ctx.events.notice("dim", f"searched for {query}"))
        return f"found 2 matches for {query}"

    def refuse(ctx: ToolContext) -> str:
        add_note(ctx.session, ctx.user, ctx.conversation_id, "never kept")
        ctx.after_save(lambda: ctx.events.notice("goal", "never shown"))
        raise UsageError("goal_id is unknown")

    params = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    extra = (Tool("search_test", "Search.", params, search), Tool("refuse_test", "Refuse.", params, refuse))
    monkeypatch.setattr(registry, "TOOLS", registry.TOOLS + extra)
    model_env.queue(
        tool_call("search_test", {"query": "long runs"}, more=[("refuse_test", {"query": "x"})]),
        text("Found them."),
    )
    run = coach("chat", "What did I say about long runs?")
    assert run.exit_code == 0, run.stderr
    assert "searched for long runs" in run.stderr and "never shown" not in run.stderr
    offered = [t["function"]["name"] for t in model_env.requests[0]["tools"]]
    assert offered[-2:] == ["search_test", "refuse_test"]
    results = [m for m in model_env.requests[1]["messages"] if m["role"] == "tool"]
    assert [r["content"] for r in results] == ["found 2 matches for long runs", "Error: goal_id is unknown"]
    assert "searched long runs" in system_prompt(model_env.requests[1])
    assert "never kept" not in system_prompt(model_env.requests[1])


# -- a reset while a turn runs (issue 10 #5) ------------------------------------------------------


@pytest.mark.parametrize(
    "late",
    [
        text("Here is my late answer."),
        tool_call(
            "save_memory",
            {"note": "Asked about shoes"},
            content="Here is my late answer.",
            more=[("remember_fact", {"fact": "Runs in old shoes"})],
        ),
    ],
    ids=["reply", "reply-with-tools"],
)
def test_reset_during_a_turn_keeps_the_fresh_conversation_empty(
    coach: Any, model_env: ScriptedServer, store: Any, late: Reply
) -> None:
    """`coach reset` while the model is still answering: the late reply is shown, with a note that it
    was not saved, and nothing of that turn (reply, tool results, notes, facts) lands in the fresh
    conversation. The model's answer is held until the reset has committed (no timing involved)."""
    from coachcli.coaching.conversations import find_coaching, reset
    from coachcli.coaching.memories import list_notes
    from coachcli.coaching.users import find_user

    asked, released = threading.Event(), threading.Event()

    def held(_body: dict[str, Any]) -> Reply:
        asked.set()
        released.wait(30)
        return late

    model_env.queue(held)
    failures: list[BaseException] = []

    def reset_meanwhile() -> None:
        try:
            assert asked.wait(30)
            with store.session() as session:
                user = find_user(session, "tester")
                reset(session, user, find_coaching(session, user).id)
                session.commit()
        except BaseException as exc:
            failures.append(exc)
        finally:
            released.set()

    resetter = threading.Thread(target=reset_meanwhile)
    resetter.start()
    run = coach("chat", "Which shoes should I buy?", "--json")
    resetter.join()
    assert failures == []
    assert run.exit_code == 0, run.stderr
    assert run.json()["reply"] == "Here is my late answer."
    assert "this reply was not saved" in run.stderr
    assert coaching_messages(store) == []
    with store.read_session() as session:
        coaching = find_coaching(session, find_user(session, "tester"))
        assert list_notes(session, coaching.id) == []
    assert facts_of(coach) == []
    assert len(model_env.requests) == 1  # the turn stopped: its tools were not run

    model_env.queue(text("Fresh start."))  # the next turn starts clean in the same conversation
    assert coach("chat", "Hello again", "--json").json()["reply"] == "Fresh start."
    assert [(m.role, m.content) for m in coaching_messages(store)] == [
        ("user", "Hello again"),
        ("assistant", "Fresh start."),
    ]


def test_reset_while_history_is_folded_saves_no_stale_summary(
    coach: Any, model_env: ScriptedServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reset while the turn is summarising older history: that summary is not saved (it would
    cover positions the fresh conversation reuses and hide its first messages)."""
    from coachcli.coaching.conversations import get_or_create_coaching, reset
    from coachcli.coaching.memories import get_summary
    from coachcli.coaching.messages import append_message
    from coachcli.coaching.users import get_or_create_user

    monkeypatch.setenv("COACH_CONTEXT_TOKENS", "3000")
    with store.session() as session:
        user = get_or_create_user(session, "tester")
        coaching = get_or_create_coaching(session, user)
        for i in range(300):
            append_message(session, coaching.id, "user" if i % 2 == 0 else "assistant", f"Day {i}: ran.")
        session.commit()
        conversation_id = coaching.id

    def summary_held(_body: dict[str, Any]) -> Reply:
        with store.session() as session:  # the reset lands while the summary is being written
            owner = get_or_create_user(session, "tester")
            reset(session, owner, conversation_id)
            session.commit()
        return text("The person ran every day.")

    model_env.queue(summary_held)
    run = coach("chat", "How am I doing?", "--json")
    assert run.exit_code == 0, run.stderr
    assert "this reply was not saved" in run.stderr
    assert len(model_env.requests) == 1  # the summary request only: the turn stopped there
    with store.read_session() as session:
        assert get_summary(session, conversation_id) is None
    assert coaching_messages(store) == []


# -- what the coach knows -----------------------------------------------------------------------


def test_system_prompt_has_facts_memories_threads_and_specialists(
    coach: Any, model_env: ScriptedServer
) -> None:
    """The coach is told the user's facts, its notes, recent task threads and who it can dispatch to."""
    assert coach("facts", "add", "Training for a half marathon in May").exit_code == 0
    model_env.queue(text("Week 1: three easy runs."))
    dispatched = coach("dispatch", "Plan my next month of training", "--agent", "planner", "--json")
    assert dispatched.exit_code == 0, dispatched.stderr
    thread_id = dispatched.json()["task_thread_id"]
    model_env.queue(tool_call("save_memory", {"note": "Wants to start slowly"}), text("Sure."))
    assert coach("chat", "Start me slowly").exit_code == 0
    model_env.queue(text("Hi!"))
    assert coach("chat", "What do you know about me?").exit_code == 0

    prompt = system_prompt(model_env.requests[-1])
    assert "Training for a half marathon in May" in prompt
    assert "Wants to start slowly" in prompt
    assert thread_id[:8] in prompt
    assert "Planner: Plan my next month of training" in prompt
    for spec in BUILTIN_AGENTS.values():
        assert spec.name in prompt and spec.description in prompt
    assert model_env.requests[-1]["tools"], "the coach's tools are offered"


def test_reset_clears_history_but_not_facts(coach: Any, model_env: ScriptedServer) -> None:
    """After `coach reset --yes` the model sees none of the old messages or notes, but still the facts."""
    assert coach("facts", "add", "Prefers morning workouts").exit_code == 0
    model_env.queue(tool_call("save_memory", {"note": "Talked about a knee niggle"}), text("Noted."))
    assert coach("chat", "My knee hurts a bit after long runs").exit_code == 0
    reset = coach("reset", "--yes", "--json")
    assert reset.exit_code == 0, reset.stderr
    assert reset.json()["messages_cleared"] >= 2
    assert reset.json()["facts_kept"] == 1

    model_env.queue(text("Fresh start!"))
    assert coach("chat", "New week, new plan").exit_code == 0
    sent = model_env.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[-1]["content"] == "New week, new plan"
    everything = json.dumps(sent)
    assert "knee" not in everything
    assert "Prefers morning workouts" in system_prompt(model_env.requests[-1])


# -- the window ---------------------------------------------------------------------------------


def test_window_smaller_than_the_prompt_names_the_setting_and_its_minimum(
    coach: Any, model_env: ScriptedServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prompt and tools take about 1,300 tokens: a smaller context_tokens is the person's
    setting to fix (exit 2, one line, the minimum), the message is kept, and the minimum works."""
    import re

    monkeypatch.setenv("COACH_CONTEXT_TOKENS", "1000")
    run = coach("chat", "Plan my week, please.")
    assert run.exit_code == 2 and run.stdout == ""
    line = one_error_line(run.stderr)
    assert "context_tokens (1000) is too small" in line
    least = int(re.search(r"raise it to at least (\d+) ", line).group(1))
    assert least > 1000 and f"coach config set context_tokens {least}" in line
    assert model_env.requests == []  # no truncated request was sent
    assert [m.content for m in coaching_messages(store)] == ["Plan my week, please."]

    monkeypatch.setenv("COACH_CONTEXT_TOKENS", str(least - 1))
    assert coach("chat", "Again?").exit_code == 2
    monkeypatch.setenv("COACH_CONTEXT_TOKENS", str(least))
    model_env.queue(text("Three runs and a rest day."))
    assert coach("chat", "And now?").exit_code == 0
    assert model_env.requests[-1]["messages"][-1]["content"] == "And now?"
    assert [m.content for m in coaching_messages(store)] == [
        "Plan my week, please.",
        "Again?",
        "And now?",
        "Three runs and a rest day.",
    ]


def test_model_window_smaller_than_the_prompt_is_one_line_naming_the_model() -> None:
    """Without context_tokens the window is the model's: not the person's setting (exit 1)."""
    from coachcli.coaching.context import Budget, too_small
    from coachcli.errors import UsageError

    error = too_small(Budget(window=1000, reply=250), 1318, "tiny/model")
    assert not isinstance(error, UsageError) and error.exit_code == 1
    assert error.message.startswith("tiny/model's window (1000 tokens, 250 kept for the reply)")
    assert "\n" not in error.message


def test_very_long_conversation_fits_the_window(
    coach: Any, model_env: ScriptedServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5,000 stored messages, a 3,000-token window: the turn answers, every request fits, a running
    summary holds what fell out, and every raw message is still stored."""
    import litellm

    from coachcli.coaching.conversations import get_or_create_coaching
    from coachcli.coaching.memories import get_summary
    from coachcli.coaching.messages import append_message, list_messages
    from coachcli.coaching.prompts import SUMMARY_PROMPT
    from coachcli.coaching.users import get_or_create_user

    window = 3000  # the coach's prompt and tool schemas alone take about 1,300 tokens
    monkeypatch.setenv("COACH_CONTEXT_TOKENS", str(window))
    with store.session() as session:
        user = get_or_create_user(session, "tester")
        coaching = get_or_create_coaching(session, user)
        for i in range(5000):
            role, felt = ("user", "ok") if i % 2 == 0 else ("assistant", "sore")
            append_message(session, coaching.id, role, f"Day {i}: ran {i % 13} km, felt {felt}.")
        session.commit()
        conversation_id = coaching.id

    summary_head = SUMMARY_PROMPT.split("\n", 1)[0]

    def responder(body: dict[str, Any]) -> Reply:
        if body["messages"][0]["content"].startswith(summary_head):
            return text("The person has run most days for months, at an easy pace.")
        return text("Keep the easy pace; add one rest day.")

    model_env.default = responder
    run = coach("chat", "What should I change next week?", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["reply"] == "Keep the easy pace; add one rest day."

    # The backlog folds in window-sized chunks (most of the window per call), so 5,000 messages
    # take a few dozen calls, not one per handful of messages: what keeps this turn quick.
    folds = model_env.requests[:-1]
    assert 1 <= len(folds) <= 70
    chunk_sizes = [len(r["messages"][1]["content"].split("New messages:\n")[1].splitlines()) for r in folds]
    assert min(chunk_sizes[:-1], default=60) >= 60, chunk_sizes
    for request in model_env.requests:
        assert litellm.token_counter(model=MODEL, messages=request["messages"]) < window
    turn = model_env.requests[-1]
    assert turn["messages"][-1]["content"] == "What should I change next week?"
    assert "The person has run most days" in system_prompt(turn)
    assert len(turn["messages"]) < 5000

    with store.read_session() as session:
        summary = get_summary(session, conversation_id)
        assert summary is not None
        assert summary.content.startswith("The person has run most days")
        assert summary.covers_through and summary.covers_through > 4000
        assert len(list_messages(session, conversation_id)) == 5002


# -- several processes --------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    from coachcli.llm.loader import load

    load()  # pay litellm's import before the start line, so the turns really overlap
    from coachcli.cli.app import app

    ready, go, worker, turns = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    ready.touch()
    while not go.exists():
        time.sleep(0.02)
    failed = 0
    for j in range(turns):
        try:
            app(["chat", f"p{worker}-{j}"], prog_name="coach")
        except SystemExit as exc:
            failed += exc.code not in (0, None)
    sys.exit(1 if failed else 0)
    """
)


def test_parallel_processes_lose_and_duplicate_nothing(
    model_env: ScriptedServer, store: Any, tmp_path: Path
) -> None:
    """4 processes each run several `coach chat` turns on one SQLite file at the same time:
    every message and reply is stored exactly once and nobody sees "database is locked".

    Each process runs its turns through the real CLI entry point; one process per turn would pay
    litellm's multi-second import twenty times over.
    """
    workers, turns = 4, 5

    produced: list[str] = []
    lock = threading.Lock()

    def answer(body: dict[str, Any]) -> Reply:
        # Not an echo of messages[-1]: with one shared conversation, another process's newer
        # message may be last in this request.
        with lock:
            produced.append(f"reply {len(produced)} to {len(body['messages'])} messages")
            return text(produced[-1], chunk_delay=0.005)

    model_env.default = answer
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / f"ready{i}"), str(go), str(i), str(turns)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 150
        while not all((tmp_path / f"ready{i}").exists() for i in range(workers)):
            assert all(p.poll() is None for p in procs), "a worker died before the start line"
            assert time.monotonic() < deadline, "workers did not get ready"
            time.sleep(0.05)
        go.touch()
        results = [p.communicate(timeout=150) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    printed: list[str] = []
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err.lower(), err
        assert "Error" not in err, err
        printed += [line for line in out.splitlines() if line.strip()]

    messages = coaching_messages(store)
    expected = [f"p{i}-{j}" for i in range(workers) for j in range(turns)]
    users = sorted(m.content for m in messages if m.role == "user")
    replies = sorted(m.content for m in messages if m.role == "assistant")
    assert users == sorted(expected)
    assert replies == sorted(produced)
    assert len(produced) == workers * turns
    assert sorted(printed) == sorted(produced)  # each process printed the replies to its own turns
    assert len(messages) == 2 * workers * turns
    assert len({m.position for m in messages}) == len(messages)
