"""Hostile input, command by command (issue 10 #2, #3, #8, #13): markup, control characters,
invalid UTF-8, huge numbers and trailing newlines give a clean result (the text shown literally,
controls as visible symbols) or one `Error:` line with exit 2 — never an internal error, a
traceback, or a raw control sequence on the terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from coachcli.cli.output import visible
from coachcli.store.engine import Store

MARKUP = [
    "I like [/red] things",
    "Tracks runs in the [strava] app",
    "[bold]loud[/bold] and [/] and [link=http://x]y[/link]",
    ":thumbs_up: means :smile:",
]
CONTROLS = [
    "esc \x1b[31mred\x1b[0m then \x1b]0;title\x07",
    "bell \x07 backspace \x08 cr \r over",
    "c1 csi \x9b2J and del \x7f",
    "bidi \u202eevil\u202c text",
]
HOSTILE = MARKUP + CONTROLS
# What must never reach stdout or stderr raw: C0 controls but newline and tab, DEL, C1.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


def assert_clean(run: Any, *codes: int) -> None:
    """A documented exit code; on failure exactly one `Error:` line; nothing raw or internal."""
    codes = codes or (0,)
    everything = run.stdout + run.stderr
    assert "internal error" not in everything and "Traceback" not in everything, everything
    assert run.exit_code in codes, (run.exit_code, run.stdout, run.stderr)
    if run.exit_code:
        assert run.stderr.startswith("Error: ") and run.stderr.count("\n") == 1, run.stderr
    assert not RAW_CONTROL.search(everything), repr(everything)


def shown(text: str) -> str:
    """How stored text appears on plain output: literal, controls as symbols, spaces folded."""
    return visible(" ".join(text.split()))


# --- facts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_facts_add_list_rm_show_text_literally(coach: Any, text: str) -> None:
    added = coach("facts", "add", text)
    assert_clean(added)
    assert shown(text) in added.stdout
    [fact] = coach("facts", "list", "--json").json()
    assert fact["text"] == " ".join(text.split())  # stored as given (only spacing folded)
    listed = coach("facts", "list")
    assert_clean(listed)
    assert shown(text) in listed.stdout
    assert_clean(coach("facts", "list", "--all"))
    removed = coach("facts", "rm", fact["id"][:8])
    assert_clean(removed)
    assert shown(text) in removed.stdout


def test_markup_lookalikes_survive_exactly(coach: Any) -> None:
    """The issue's examples: a closing tag must not crash, a tag that parses must not vanish."""
    for text in ("I like [/red] things", "Tracks runs in the [strava] app"):
        assert_clean(coach("facts", "add", text))
    lines = coach("facts", "list").stdout.splitlines()
    assert lines[0].split("  ")[1] == "I like [/red] things"
    assert lines[1].split("  ")[1] == "Tracks runs in the [strava] app"


def test_json_output_is_exact_and_escapes_controls(coach: Any) -> None:
    text = "esc \x1b[2J c1 \x9b bidi \u202e"
    assert_clean(coach("facts", "add", text))
    run = coach("facts", "list", "--json")
    assert_clean(run)
    assert "\\u001b" in run.stdout and "\\u009b" in run.stdout and "\\u202e" in run.stdout
    assert json.loads(run.stdout)[0]["text"] == text


@pytest.mark.parametrize("text", ["nul \x00 inside", "bad \udcff byte"])
def test_unstorable_fact_text_is_a_usage_error(coach: Any, text: str) -> None:
    assert_clean(coach("facts", "add", text), 2)
    assert coach("facts", "list", "--json").json() == []


@pytest.mark.parametrize("prefix", ["abc\n", "\n", "zz", "[/x]", "\x1b[2J", "a" * 100])
def test_fact_ids_that_cannot_match_are_clean_errors(coach: Any, prefix: str) -> None:
    assert_clean(coach("facts", "add", "Runs on Mondays"))
    for command in (("facts", "rm", prefix), ("facts", "edit", prefix, "x")):
        assert_clean(coach(*command), 1, 2)
    assert len(coach("facts", "list", "--json").json()) == 1


# --- agents --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", MARKUP)
def test_agent_fields_print_literally(coach: Any, text: str) -> None:
    added = coach(
        "agents",
        "add",
        "nutri",
        "--display-name",
        text,
        "--description",
        text,
        "--model",
        text,
        "--prompt",
        text,
    )
    assert_clean(added)
    listed = coach("agents", "list")
    assert_clean(listed)
    [row] = [line for line in listed.stdout.splitlines() if line.startswith("nutri")]
    assert row.count(text) == 3  # display name, model, description
    show = coach("agents", "show", "nutri")
    assert_clean(show)
    assert show.stdout.count(text) == 4
    assert coach("agents", "list", "--json").json()[-1]["display_name"] == text
    assert_clean(coach("agents", "rm", "nutri"))


@pytest.mark.parametrize("text", CONTROLS)
def test_agent_names_refuse_controls_but_prompts_show_them(coach: Any, text: str) -> None:
    refused = coach("agents", "add", "nutri", "--display-name", text, "--description", "d", "--prompt", "p")
    assert_clean(refused, 2)
    added = coach("agents", "add", "nutri", "--display-name", "N", "--description", "d", "--prompt", text)
    assert_clean(added)
    show = coach("agents", "show", "nutri")
    assert_clean(show)
    assert visible(text.strip()) in show.stdout


@pytest.mark.parametrize(
    "name", ["nutri\n", "planner\n", "nutri\r\n", " nutri", "Nutri", "nu tri", "n", "x" * 41, "[/b]", "\x1bx"]
)
def test_agent_names_are_full_matches(coach: Any, name: str) -> None:
    run = coach("agents", "add", name, "--display-name", "N", "--description", "d", "--prompt", "p")
    assert_clean(run, 2)
    assert [a["name"] for a in coach("agents", "list", "--json").json() if not a["builtin"]] == []


@pytest.mark.parametrize("name", ["nutri\n", "[/b]", "\x1b[2J", "planner\x00"])
def test_agent_lookups_with_odd_names_are_clean(coach: Any, name: str) -> None:
    for command in (("agents", "show", name), ("agents", "rm", name)):
        assert_clean(coach(*command), 1, 2)


# --- stored conversation text: tasks show, history, dispatches list ---------------------------------


def _seed_conversations(store: Store, text: str) -> str:
    """A coaching conversation, a task thread and a failed dispatch, all carrying `text`."""
    from coachcli.coaching.conversations import create_conversation, get_or_create_coaching
    from coachcli.coaching.messages import append_message
    from coachcli.coaching.users import get_or_create_user
    from coachcli.store.models import Dispatch

    with store.write() as session:
        user = get_or_create_user(session, "tester")
        coaching = get_or_create_coaching(session, user)
        append_message(session, coaching.id, "user", f"user says {text}")
        append_message(session, coaching.id, "assistant", f"coach says {text}")
        thread = create_conversation(
            session, user, type="task", parent_id=coaching.id, mode="task", title=text
        )
        append_message(session, thread.id, "user", f"Task: {text}")
        append_message(session, thread.id, "assistant", f"result {text}")
        session.add(
            Dispatch(
                user_id=user.id,
                conversation_id=coaching.id,
                agent="planner",
                task=text,
                status="failed",
                proposed_by="coach",
                error=f"boom {text}",
            )
        )
        return thread.id


@pytest.mark.parametrize("text", HOSTILE)
def test_stored_text_in_tasks_history_and_dispatches(coach: Any, store: Store, text: str) -> None:
    thread_id = _seed_conversations(store, text)
    for command in (
        ("tasks", "show", thread_id[:8]),
        ("tasks", "list"),
        ("history",),
        ("dispatches", "list"),
    ):
        run = coach(*command)
        assert_clean(run)
        assert visible(text) in run.stdout or shown(text) in run.stdout, command
    assert visible(f"result {text}") in coach("tasks", "show", thread_id[:8]).stdout
    assert_clean(coach("tasks", "show", thread_id[:8], "--json"))
    assert coach("history", "--json").json()[0]["content"] == f"user says {text}"
    assert_clean(coach("reset", "--yes"))


@pytest.mark.parametrize("prefix", ["abc\n", "[/x]", "\x1b", "9" * 40])
def test_task_ids_that_cannot_match_are_clean_errors(coach: Any, prefix: str) -> None:
    assert_clean(coach("tasks", "show", prefix), 1, 2)


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["openai/[/x]", "[bold]m[/bold]", "openai/[strava]"])
def test_config_show_prints_a_model_name_literally(coach: Any, model: str) -> None:
    assert_clean(coach("config", "set", "model", model))
    run = coach("config", "show")
    assert_clean(run)
    assert model in run.stdout


@pytest.mark.parametrize("value", ["bob\n", "bad handle!", "[/x]", "\x1b[2J"])
def test_odd_user_handles_are_clean_errors(coach: Any, value: str) -> None:
    assert_clean(coach("--user", value, "facts", "list"), 2)


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["99999999999999999999", "9223372036854775808", "1000001", "0", "-1", "1e3"]
)
@pytest.mark.parametrize("command", [("history", "-n"), ("tasks", "list", "--limit")])
def test_numbers_out_of_range_are_usage_errors(coach: Any, command: tuple[str, ...], number: str) -> None:
    assert_clean(coach(*command, number), 2)


# --- invalid UTF-8 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("facts", "add", "bad \udcff"),
        ("agents", "add", "nutri", "--display-name", "\udcfe", "--description", "d", "--prompt", "p"),
        ("tasks", "show", "ab\udcff"),
        ("config", "set", "model", "m\udcff"),
        ("--user", "b\udcffb", "facts", "list"),
    ],
)
def test_undecodable_arguments_are_usage_errors(coach: Any, args: tuple[str, ...]) -> None:
    """Python hands bytes that are not UTF-8 over as surrogate escapes: exit 2 before anything runs."""
    run = coach(*args)
    assert_clean(run, 2)
    assert "not valid UTF-8" in run.stderr


def _coach_process(*args: bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable.encode(), b"-m", b"coachcli", *args]
    return subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=60, check=False)


def test_raw_bytes_argument_and_stdin_in_a_real_process() -> None:
    """The real path: argv bytes decoded by Python, stdin read as bytes."""
    run = _coach_process(b"facts", b"add", b"bad \xff byte")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(b"Error: argument 3 is not valid UTF-8") and run.stderr.count(b"\n") == 1
    assert b"\\xff" in run.stderr
    piped = _coach_process(b"chat", stdin=b"hello \xff\xfe")
    assert piped.returncode == 2, piped.stderr
    assert piped.stderr.startswith(b"Error: standard input is not valid UTF-8"), piped.stderr
    listed = _coach_process(b"facts", b"list", b"--json")
    assert json.loads(listed.stdout) == []


# --- plain output in a pipe -----------------------------------------------------------------------


def test_a_pipe_gets_whole_records_never_wrapped(coach: Any, store: Store) -> None:
    long_fact = "Prefers " + " ".join(f"word{i}" for i in range(60))  # ~400 characters
    assert len(long_fact) > 300
    added = coach("facts", "add", long_fact)
    assert added.stdout.count("\n") == 1
    listed = coach("facts", "list").stdout.splitlines()
    assert len(listed) == 1 and listed[0].split("  ")[1] == long_fact
    description = "Plans meals " + "and more " * 40
    assert_clean(
        coach("agents", "add", "nutri", "--display-name", "N", "--description", description, "--prompt", "p")
    )
    [row] = [line for line in coach("agents", "list").stdout.splitlines() if line.startswith("nutri")]
    assert row.endswith(" ".join(description.split()))
    _seed_conversations(store, "Plan " + "the week " * 10)  # a Rich table: still one line per row
    [row] = [ln for ln in coach("dispatches", "list").stdout.splitlines() if "failed" in ln]
    assert row.rstrip().endswith("the week")
    empty = coach("tasks", "list")
    assert all("coach dispatch" in line for line in empty.stdout.splitlines() if "dispatch" in line)


# --- chat -----------------------------------------------------------------------------------------


def test_chat_reply_and_tool_notices_are_literal(coach: Any, model_env: Any) -> None:
    from scripted_server import text, tool_call

    fact = "Uses the [strava] app \x1b[2J"
    model_env.queue(tool_call("remember_fact", {"fact": fact}), text("Noted [/x] \x1b]0;pwned\x07 ok"))
    run = coach("chat", "I use [strava] \x1b[31m")
    assert_clean(run)
    assert "Noted [/x]" in run.stdout and "␛" in run.stdout
    assert "[strava]" in run.stderr
    assert coach("facts", "list", "--json").json()[0]["text"] == fact


def test_terminal_rendering_never_writes_stored_control_sequences() -> None:
    """On a terminal too: Markdown, panels, tables and live displays show stored ESC as a symbol
    (Rich's own styling codes are the only escapes written)."""
    import io

    from rich.live import Live
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.table import Table

    from coachcli.cli.output import SafeConsole, styled

    hostile = "clear \x1b[2J title \x1b]0;pwned\x07 csi \x9b31m [/x]"
    buffer = io.StringIO()
    console = SafeConsole(file=buffer, force_terminal=True, width=70)
    table = Table()
    table.add_row(hostile)
    for renderable in (
        Markdown(f"# {hostile}\n\n{hostile}"),
        Panel(styled(hostile), title=styled(hostile)),
        table,
    ):
        console.print(renderable)
    console.print(hostile, style="bold")
    with Live(Markdown(hostile), console=console, auto_refresh=False) as live:
        live.refresh()
    written = buffer.getvalue()
    assert "\x1b[2J" not in written and "\x1b]0;" not in written and "\x9b" not in written
    assert written.count("␛[2J") >= 6 and "[/x]" in written
