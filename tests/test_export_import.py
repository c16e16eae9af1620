"""`coach export` and `coach import`: round trips, idempotence, foreign ids, bad files, merges."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from coachcli.coaching import conversations as conv_svc
from coachcli.coaching.facts import add_fact
from coachcli.coaching.goals import add_goal, log_progress
from coachcli.coaching.memories import add_note, set_summary
from coachcli.coaching.messages import append_message
from coachcli.coaching.users import get_or_create_user
from coachcli.store.models import Agent, Conversation, Dispatch, Memory, Message, UserFact

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def seed(store, handle: str = "alice") -> dict[str, str]:
    """A history with every kind of record: facts (one replaced), goals, notes, a summary, tool
    calls, an interrupted reply, a task thread with its dispatch, and a user-defined agent."""
    with store.write() as session:
        user = get_or_create_user(session, handle)
        old, _ = add_fact(session, user, "Weighs 80 kg")
        add_fact(session, user, "Weighs 78 kg", replaces=old.id)
        add_fact(session, user, "Prefers morning workouts", source="coach")
        goal, _ = add_goal(session, user, "Run a 5k", why="health")
        log_progress(session, user, "Ran 2 km", goal=goal.id)
        log_progress(session, user, "Slept 8 hours")
        coaching = conv_svc.get_or_create_coaching(session, user)
        turns = [
            ("user", "I started physiotherapy for my left knee on Monday.", {}),
            ("assistant", "Good. How does it feel?", {"model": "openai/m", "input_tokens": 12}),
            ("user", "Yes, Monday!", {}),
            (
                "assistant",
                "",
                {
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "x", "arguments": "{}"}}
                    ]
                },
            ),
            ("tool", "no hits", {"tool_call_id": "c1"}),
            ("assistant", "Half a rep", {"status": "interrupted"}),
        ]
        for i, (role, content, extra) in enumerate(turns):
            append_message(session, coaching.id, role, content, created_at=T0 + timedelta(minutes=i), **extra)
        add_note(session, user, coaching.id, "Knee: physio on Mondays")
        set_summary(session, user, coaching.id, "They started physio.", 2)
        thread = conv_svc.create_conversation(
            session, user, type="task", parent_id=coaching.id, mode="task", title="Planner: Plan a 5k"
        )
        append_message(session, thread.id, "user", "Task: Plan a 5k", created_at=T0)
        append_message(
            session, thread.id, "assistant", "# Plan\n1. Run", created_at=T0 + timedelta(seconds=9)
        )
        session.add(
            Dispatch(
                user_id=user.id,
                conversation_id=coaching.id,
                agent="planner",
                task="Plan a 5k",
                status="succeeded",
                proposed_by="coach",
                result="# Plan\n1. Run",
                task_thread_id=thread.id,
                created_at=T0,
            )
        )
        if session.get(Agent, "stretcher") is None:
            session.add(Agent(name="stretcher", display_name="Stretcher", description="d", system_prompt="p"))
        return {"coaching": coaching.id, "thread": thread.id, "user": user.id}


def doc(**fields: object) -> str:
    """An export file (JSON text) holding `fields`."""
    return json.dumps({"format": "coachcli-export", "version": 1, **fields})


def conv(*messages: object, **fields: object) -> dict:
    """A coaching conversation of an export file."""
    return {"type": "coaching", "messages": list(messages), **fields}


def export(coach, handle: str, *args: str) -> dict:
    run = coach("-u", handle, "export", *args)
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)


def import_file(coach, handle: str, path: Path | str, *, input: str | bytes | None = None) -> dict:
    run = coach("-u", handle, "import", str(path), "--json", input=input)
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)


def comparable(document: dict) -> dict:
    """What a round trip must keep: everything but ids and the export time."""

    def message(m: dict) -> tuple:
        return (m["role"], m["content"], m["created_at"], m["status"], m["tool_calls"], m["tool_call_id"])

    conversations = document["conversations"]
    titles = {c["id"]: c["title"] for c in conversations}
    return {
        "facts": [(f["text"], f["source"], f["created_at"], f["superseded_at"]) for f in document["facts"]],
        "conversations": [
            (
                c["type"],
                c["title"],
                c["mode"],
                c["created_at"],
                [message(m) for m in c["messages"]],
                [(m["kind"], m["content"], m.get("covers_through")) for m in c["memories"]],
                titles.get(c["parent_id"]) if c["parent_id"] else None,
            )
            for c in conversations
        ],
        "goals": [
            (g["title"], g["why"], g["status"], g["created_at"], [p["text"] for p in g["progress"]])
            for g in document["goals"]
        ],
        "progress": [(p["text"], p["created_at"]) for p in document["progress"]],
        "dispatches": [
            (d["agent"], d["task"], d["status"], d["result"], titles.get(d["task_thread_id"]))
            for d in document["dispatches"]
        ],
        "agents": [a["name"] for a in document["agents"]],
    }


def snapshot(store, user_id: str) -> list:
    """Every row of one user, to show an import left it alone."""
    with store.write() as session:
        rows: list = []
        for model in (UserFact, Conversation, Memory, Dispatch):
            found = session.execute(select(model.__table__).where(model.user_id == user_id))
            rows.append(sorted(map(tuple, found)))
        ids = select(Conversation.id).where(Conversation.user_id == user_id)
        found = session.execute(select(Message.__table__).where(Message.conversation_id.in_(ids)))
        rows.append(sorted(map(tuple, found), key=lambda r: r[0]))
        return rows


def test_round_trip_into_another_user_keeps_everything(coach, store, tmp_path: Path) -> None:
    seed(store)
    path = tmp_path / "alice.json"
    run = coach("-u", "alice", "export", "-o", str(path))
    assert run.exit_code == 0 and run.stdout == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.partial"))  # no temp file left behind
    original = json.loads(path.read_text())
    assert original["format"] == "coachcli-export" and original["version"] == 1
    assert original["user"] == {"handle": "alice"}

    counts = import_file(coach, "bob", path)
    assert counts["facts"] == 3 and counts["messages"] == 8 and counts["conversations"] == 2
    assert counts["memories"] == 2 and counts["dispatches"] == 1 and counts["skipped"] == 1  # the agent
    copy = export(coach, "bob")
    assert comparable(copy) == comparable(original)
    # alice's ids were taken, so bob's rows have their own, and the references follow them
    assert {c["id"] for c in copy["conversations"]}.isdisjoint(c["id"] for c in original["conversations"])
    coaching, thread = copy["conversations"]
    assert thread["parent_id"] == coaching["id"]
    assert copy["dispatches"][0]["task_thread_id"] == thread["id"]
    replaced = next(f for f in copy["facts"] if f["superseded_at"])
    assert replaced["superseded_by"] == next(f["id"] for f in copy["facts"] if f["text"] == "Weighs 78 kg")


def test_import_twice_adds_nothing(coach, store, tmp_path: Path) -> None:
    seed(store)
    path = tmp_path / "alice.json"
    path.write_text(json.dumps(export(coach, "alice")))
    first = import_file(coach, "bob", path)
    again = import_file(coach, "bob", path)
    assert sum(v for k, v in again.items() if k != "skipped") == 0
    assert again["skipped"] == sum(first.values())
    own = import_file(coach, "alice", path)  # into its own user: every record is found by id
    assert sum(v for k, v in own.items() if k != "skipped") == 0


def test_foreign_ids_get_fresh_ids_and_the_owner_is_untouched(coach, store, tmp_path: Path) -> None:
    ids = seed(store)
    before = snapshot(store, ids["user"])
    path = tmp_path / "alice.json"
    path.write_text(json.dumps(export(coach, "alice")))
    import_file(coach, "bob", path)
    assert snapshot(store, ids["user"]) == before
    with store.write() as session:
        bob = get_or_create_user(session, "bob")
        threads = session.execute(select(Conversation.id).where(Conversation.user_id == bob.id)).scalars()
        assert ids["coaching"] not in set(threads)


def test_ids_nobody_uses_are_kept(coach, store, tmp_path: Path) -> None:
    """Restoring into a fresh store keeps conversation and fact ids, so references stay true."""
    document = {
        "facts": [{"id": "f0000000-0000-4000-8000-000000000001", "text": "Likes tea"}],
        "conversations": [
            {"id": "c0000000-0000-4000-8000-000000000001", "type": "coaching", "messages": []},
            {
                "id": "c0000000-0000-4000-8000-000000000002",
                "type": "task",
                "parent_id": "c0000000-0000-4000-8000-000000000001",
                "title": "T",
                "messages": [{"role": "user", "content": "Task: T"}],
            },
        ],
    }
    path = tmp_path / "mine.json"
    path.write_text(doc(**document))
    import_file(coach, "carol", path)
    out = export(coach, "carol")
    assert [c["id"] for c in out["conversations"]] == [c["id"] for c in document["conversations"]]
    assert out["facts"][0]["id"] == document["facts"][0]["id"]


def test_minimal_hand_written_file_imports(coach, tmp_path: Path) -> None:
    path = tmp_path / "peer.json"
    yes, great = {"role": "user", "content": "Yes"}, {"role": "assistant", "content": "Great"}
    path.write_text(doc(conversations=[conv(yes, great, yes)]))
    counts = import_file(coach, "dave", path)
    assert counts["messages"] == 3 and counts["conversations"] == 1
    history = coach("-u", "dave", "history", "--json")
    assert [m["content"] for m in history.json()] == ["Yes", "Great", "Yes"]
    again = import_file(coach, "dave", path)  # no ids, no times: matched by content, repeats included
    assert again["messages"] == 0 and again["skipped"] == 4


def test_merge_into_existing_coaching_conversation_in_time_order(coach, store, tmp_path: Path) -> None:
    with store.write() as session:
        user = get_or_create_user(session, "erin")
        coaching = conv_svc.get_or_create_coaching(session, user)
        append_message(session, coaching.id, "user", "at ten", created_at=T0 + timedelta(hours=1))
        append_message(session, coaching.id, "assistant", "at twelve", created_at=T0 + timedelta(hours=3))
        set_summary(session, user, coaching.id, "folds 'at ten'", 1)
    at = lambda hours: (T0 + timedelta(hours=hours)).isoformat()  # noqa: E731
    path = tmp_path / "older.json"
    older = conv(
        {"role": "user", "content": "at nine", "created_at": at(0)},
        {"role": "assistant", "content": "at eleven", "created_at": at(2)},
        {"role": "user", "content": "at one", "created_at": at(4)},
        memories=[{"kind": "summary", "content": "another summary", "covers_through": 1}],
    )
    path.write_text(doc(conversations=[older]))
    counts = import_file(coach, "erin", path)
    assert counts["messages"] == 3 and counts["conversations"] == 0
    assert counts["skipped"] == 2  # the conversation (merged) and its summary (erin's stays)
    with store.write() as session:
        rows = session.execute(
            select(Message.position, Message.content)
            .where(Message.conversation_id == coaching.id)
            .order_by(Message.position)
        ).all()
        summary = session.execute(select(Memory).where(Memory.conversation_id == coaching.id)).scalar_one()
    assert [r.content for r in rows] == ["at nine", "at ten", "at eleven", "at twelve", "at one"]
    assert [r.position for r in rows] == [1, 2, 3, 4, 5]
    assert summary.content == "folds 'at ten'" and summary.covers_through == 2  # still ends at "at ten"


def test_explicit_times_import_in_order_and_fast_path(coach, tmp_path: Path) -> None:
    """The shape helper F's recall benchmark writes: one coaching conversation, a time per session."""
    day = lambda d: (datetime(2023, 5, 8, 13, 56, tzinfo=UTC) + timedelta(days=d - 8)).isoformat()  # noqa: E731
    messages = [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"turn {i}",
            "created_at": day(8 + i // 10),
        }
        for i in range(2500)  # more than one insert batch
    ]
    path = tmp_path / "locomo.json"
    path.write_text(doc(conversations=[conv(*messages)]))
    assert import_file(coach, "frank", path)["messages"] == 2500
    out = export(coach, "frank")
    got = out["conversations"][0]["messages"]
    assert [m["content"] for m in got] == [m["content"] for m in messages]
    assert got[0]["created_at"] == "2023-05-08T13:56:00+00:00"


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])  # UTC+14, UTC-11
def test_times_at_the_ends_of_the_range_show_in_any_time_zone(
    coach, tmp_path: Path, monkeypatch, zone
) -> None:
    import time

    first, last = "0001-01-02T00:00:00+00:00", "9999-12-30T23:59:59+00:00"
    path = tmp_path / "edges.json"
    path.write_text(
        doc(
            facts=[{"text": "old", "created_at": first}, {"text": "new", "created_at": last}],
            conversations=[
                {"type": "task", "title": "Old task", "created_at": first, "messages": [GOOD_MESSAGE]},
                conv({"role": "user", "content": "hello there", "created_at": last}),
            ],
            goals=[{"title": "g", "created_at": first, "progress": [{"text": "p", "created_at": last}]}],
            dispatches=[{"agent": "planner", "task": "t", "status": "proposed", "created_at": first}],
        )
    )
    import_file(coach, "zed", path)
    commands = [
        ["facts", "list"], ["tasks", "list"], ["dispatches", "list"], ["goals", "list"],
        ["history"], ["status"], ["search", "hello"], ["export", "--format", "markdown"],
    ]  # fmt: skip
    with monkeypatch.context() as zoned:
        zoned.setenv("TZ", zone)
        time.tzset()
        try:
            for args in commands:
                run = coach("-u", "zed", *args)
                assert run.exit_code == 0, (args, run.stderr)
        finally:
            zoned.undo()
            time.tzset()
    assert [f["created_at"] for f in export(coach, "zed")["facts"]] == [first, last]


def test_markdown_export_reads_as_a_transcript(coach, store, tmp_path: Path) -> None:
    seed(store)
    run = coach("-u", "alice", "export", "--format", "markdown")
    assert run.exit_code == 0, run.stderr
    text = run.stdout
    assert text.startswith("# Coaching export: alice")
    for heading in ("## Facts", "## Goals", "## Coaching conversation", "## Task thread: Planner: Plan a 5k"):
        assert f"\n{heading}\n" in text
    assert "**You** · 2025-03-01 09:00 UTC" in text
    assert "**Coach** · 2025-03-01 09:01 UTC" in text
    assert "(interrupted)" in text and "*replaced " in text
    assert text.index("## Coaching conversation") < text.index("## Task thread")


def test_import_from_stdin(coach, store) -> None:
    seed(store)
    document = export(coach, "alice")
    counts = import_file(coach, "gina", "-", input=json.dumps(document))
    assert counts["messages"] == 8


def test_export_of_unknown_user_is_an_empty_valid_file(coach, tmp_path: Path) -> None:
    document = export(coach, "nobody")
    assert document["conversations"] == [] and document["facts"] == []
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(document))
    assert sum(import_file(coach, "henry", path).values()) == 0


GOOD_MESSAGE = {"role": "user", "content": "hi"}


BAD_FILES = {
    "not json": (b"hello", "not valid JSON"),
    "empty": (b"", "empty"),
    "truncated": (
        doc(conversations=[conv(GOOD_MESSAGE)]).encode()[:-5],
        "conversations[0].messages[0]: not valid JSON (it ends too early: is the file truncated?)",
    ),
    "not an object": (b"[1, 2]", "one JSON object"),
    "other format": (json.dumps({"format": "llm-logs", "version": 1}).encode(), 'format: "llm-logs" is not'),
    "newer version": (json.dumps({"format": "coachcli-export", "version": 2}).encode(), "version: 2 is not"),
    "no format": (json.dumps({"version": 1}).encode(), "format: is missing"),
    "unknown role": (
        doc(conversations=[conv(*[GOOD_MESSAGE] * 12, {"role": "bot", "content": "x"})]).encode(),
        'conversations[0].messages[12]: role "bot" is not one of user, assistant, tool, system',
    ),
    "no role": (
        doc(conversations=[conv({"content": "x"})]).encode(),
        "conversations[0].messages[0]: role is missing",
    ),
    "no content": (doc(conversations=[conv({"role": "user"})]).encode(), "messages[0]: content is missing"),
    "wrong type": (
        doc(conversations=[conv({"role": "user", "content": 5})]).encode(),
        "conversations[0].messages[0]: content must be a string, not a number",
    ),
    "bad time": (
        doc(conversations=[conv({"role": "user", "content": "x", "created_at": "yesterday"})]).encode(),
        'messages[0]: created_at "yesterday" is not an ISO 8601 time',
    ),
    "no type": (doc(conversations=[{"messages": []}]).encode(), "conversations[0]: type is missing"),
    "messages not a list": (
        doc(conversations=[conv(messages={})]).encode(),
        "conversations[0].messages: must be a list",
    ),
    "orphan thread": (
        doc(conversations=[{"type": "task", "parent_id": "nope", "messages": []}]).encode(),
        "conversations[0]: parent_id nope is not a conversation in this file or one of yours",
    ),
    "fact without text": (doc(facts=[{"source": "manual"}]).encode(), "facts[0]: text is missing"),
    "lone low surrogate": (
        doc(facts=[{"text": "ok"}, {"text": "\udcff"}]).encode(),
        "facts[1].text: holds text that is not valid Unicode",
    ),
    "lone high surrogate": (
        doc(facts=[{"text": "ok"}, {"text": "a\ud800b"}]).encode(),
        "facts[1].text: holds text that is not valid Unicode",
    ),
    "lone surrogate as a list item": (doc(facts=[{"text": "ok"}, "\udc00"]).encode(), "facts[1]: holds text"),
    "lone surrogate in a title": (
        doc(conversations=[conv(title="\udfff")]).encode(),
        "conversations[0].title: holds text that is not valid Unicode",
    ),
    "reversed surrogate pair deep in a message": (
        doc(
            conversations=[
                conv(GOOD_MESSAGE, {**GOOD_MESSAGE, "tool_calls": [{"id": "a"}, {"id": "\ude00\ud83d"}]})
            ]
        ).encode(),
        "conversations[0].messages[1].tool_calls[1].id: holds text that is not valid Unicode",
    ),
    "time before year 1 in UTC": (
        doc(facts=[{"text": "x", "created_at": "0001-01-01T00:00:00+14:00"}]).encode(),
        'facts[0]: created_at "0001-01-01T00:00:00+14:00" is too near the ends of the calendar',
    ),
    "time after year 9999 in UTC": (
        doc(conversations=[conv({**GOOD_MESSAGE, "created_at": "9999-12-31T23:59:59-14:00"})]).encode(),
        'conversations[0].messages[0]: created_at "9999-12-31T23:59:59-14:00" is too near the ends',
    ),
    "a first day no time zone west of UTC can show": (
        doc(facts=[{"text": "x", "created_at": "0001-01-01T00:00:00Z"}]).encode(),
        'created_at "0001-01-01T00:00:00Z" is too near the ends of the calendar',
    ),
    "a last day no time zone east of UTC can show": (
        doc(conversations=[conv(title="t", created_at="9999-12-31T12:00:00")]).encode(),
        "conversations[0]: created_at",
    ),
    "goal updated after year 9999 in UTC": (
        doc(goals=[{"title": "g", "updated_at": "9999-12-31T20:00:00-04:00"}]).encode(),
        "goals[0]: updated_at",
    ),
    "invalid utf-8": (
        b'{"format": "coachcli-export", "version": 1, "facts": [{"text": "caf\xe9"}]}',
        "facts[0]: not valid JSON (lexical error: invalid bytes in UTF8 string.)",
    ),
}


def test_unpaired_high_surrogates_are_caught_however_the_file_is_read() -> None:
    """yajl turns a lone \\ud800 into "?" (or glues it to the next escape): the reader makes it a
    lone low surrogate first, which fails with its place; pairs and escaped backslashes pass as they are.
    Every read size is tried, so an escape split between two reads is seen whole."""
    import io

    from coachcli.coaching.portable.reader import _SurrogateGuard

    cases = {
        rb'"\ud83d\ude00 \\ud800 \\\\ud800"': rb'"\ud83d\ude00 \\ud800 \\\\ud800"',  # kept
        rb'"\ud800"': rb'"\udc00"',
        rb'"a\uD800\u0041"': rb'"a\udc00\u0041"',
        rb'"\\\ud800 \udbff\udbff\udfff \ud83d"': rb'"\\\udc00 \udc00\udbff\udfff \udc00"',
    }
    for raw, expected in cases.items():
        for size in range(1, len(raw) + 2):
            guard, got = _SurrogateGuard(io.BytesIO(raw)), b""
            assert guard.read(0) == b""
            while chunk := guard.read(size):
                got += chunk
            assert got == expected, (raw, size)


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_names_the_place_and_writes_nothing(coach, store, tmp_path: Path, case: str) -> None:
    content, needle = BAD_FILES[case]
    seed(store, "ivan")
    before = snapshot_of(store, "ivan")
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    run = coach("-u", "ivan", "import", str(path))
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert run.stderr.startswith("Error: ") and run.stderr.count("\n") == 1, run.stderr
    assert needle in run.stderr and "nothing was imported" in run.stderr
    assert "Traceback" not in run.stderr
    assert snapshot_of(store, "ivan") == before


def snapshot_of(store, handle: str) -> list:
    with store.write() as session:
        user_id = get_or_create_user(session, handle).id
    return snapshot(store, user_id)


def test_a_bad_record_late_in_a_file_leaves_the_good_ones_out_too(coach, tmp_path: Path) -> None:
    path = tmp_path / "late.json"
    good = [{"role": "user", "content": f"m{i}"} for i in range(50)]
    path.write_text(doc(facts=[{"text": "Likes tea"}], conversations=[conv(*good, {"role": "user"})]))
    run = coach("-u", "jo", "import", str(path))
    assert run.exit_code == 2 and "messages[50]" in run.stderr
    assert export(coach, "jo")["facts"] == []


def test_import_of_a_missing_file_is_a_usage_error(coach, tmp_path: Path) -> None:
    run = coach("import", str(tmp_path / "nope.json"))
    assert run.exit_code == 2 and run.stderr.startswith("Error: cannot read")


def test_unknown_format_option_is_a_usage_error(coach) -> None:
    run = coach("export", "--format", "yaml")
    assert run.exit_code == 2 and "json or --format markdown" in run.stderr


def test_import_counts_in_store(store, coach, tmp_path: Path) -> None:
    """Positions stay unique per conversation after imports (the store's own invariant)."""
    seed(store)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(export(coach, "alice")))
    import_file(coach, "kim", path)
    with store.write() as session:
        duplicates = session.execute(
            select(Message.conversation_id, Message.position, func.count())
            .group_by(Message.conversation_id, Message.position)
            .having(func.count() > 1)
        ).all()
    assert duplicates == []


def test_export_file_replaces_atomically(coach, store, tmp_path: Path) -> None:
    seed(store)
    path = tmp_path / "out.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    assert coach("-u", "alice", "export", "-o", str(path)).exit_code == 0
    assert json.loads(path.read_text())["format"] == "coachcli-export"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_imported_messages_are_searchable(coach, tmp_path: Path) -> None:
    """Imports insert rows like append does, so the search index sees them (F's recall benchmark)."""
    path = tmp_path / "peer.json"
    said = "I started physiotherapy for my left knee on Monday."
    path.write_text(
        doc(conversations=[conv({"role": "user", "content": said, "created_at": "2023-05-08T13:56:00Z"})])
    )
    import_file(coach, "lena", path)
    run = coach("-u", "lena", "search", "When did I start physio for my knee?", "--json")
    assert run.exit_code == 0, run.stderr
    assert [hit["content"] for hit in run.json()][:1] == [said]


def test_stdin_with_invalid_utf8_is_refused(coach) -> None:
    run = coach(
        "-u",
        "mo",
        "import",
        "-",
        input=b'{"format": "coachcli-export", "version": 1, "facts": [{"text": "\xff"}]}',
    )
    assert run.exit_code == 2 and "stdin: facts[0]: not valid JSON" in run.stderr
    assert "Traceback" not in run.stderr


def test_task_thread_may_name_a_parent_already_in_the_store(coach, store, tmp_path: Path) -> None:
    ids = seed(store, "nina")
    thread = {
        "type": "task",
        "parent_id": ids["coaching"],
        "title": "Writer: a note",
        "messages": [GOOD_MESSAGE],
    }
    path = tmp_path / "thread.json"
    path.write_text(doc(conversations=[thread]))
    assert import_file(coach, "nina", path)["conversations"] == 1
    titles = {c["title"]: c["parent_id"] for c in export(coach, "nina")["conversations"]}
    assert titles["Writer: a note"] == ids["coaching"]
    run = coach("-u", "olga", "import", str(path))  # nina's conversation is not olga's parent
    assert run.exit_code == 2 and f"parent_id {ids['coaching']} is not a conversation" in run.stderr


def test_control_characters_never_reach_the_terminal_and_json_stays_lossless(coach, store, tmp_path) -> None:
    hostile = "red \x1b[31mtext\x9b2J and \u202eevil"
    with store.write() as session:
        user = get_or_create_user(session, "pat")
        coaching = conv_svc.get_or_create_coaching(session, user)
        append_message(session, coaching.id, "user", hostile)
    run = coach("-u", "pat", "export")
    assert run.exit_code == 0
    assert not any(ch in run.stdout for ch in "\x1b\x9b\u202e")
    assert json.loads(run.stdout)["conversations"][0]["messages"][0]["content"] == hostile
    markdown = coach("-u", "pat", "export", "--format", "markdown").stdout
    assert "text" in markdown and not any(ch in markdown for ch in "\x1b\x9b\u202e")


def test_a_dispatch_running_when_exported_comes_in_interrupted(coach, tmp_path: Path) -> None:
    path = tmp_path / "running.json"
    path.write_text(doc(dispatches=[{"agent": "planner", "task": "Plan", "status": "running"}]))
    assert import_file(coach, "quin", path)["dispatches"] == 1
    (dispatch,) = export(coach, "quin")["dispatches"]
    assert dispatch["status"] == "interrupted" and dispatch["error"]
