"""coach memory: the running summary with its span, the coach's notes, and removing a note."""

from __future__ import annotations

from typing import Any

from coachcli.coaching.conversations import get_or_create_coaching
from coachcli.coaching.memories import add_note, set_summary
from coachcli.coaching.messages import append_message
from coachcli.coaching.users import get_or_create_user
from coachcli.store.engine import Store


def _remember(store: Store, handle: str, notes: list[str], *, summary: str | None = None) -> list[str]:
    """Notes (oldest first) and optionally a summary folding the first two messages."""
    with store.write() as session:
        user = get_or_create_user(session, handle)
        coaching = get_or_create_coaching(session, user)
        for content in ("first message", "second message", "third message"):
            append_message(session, coaching.id, "user", content)
        ids = [add_note(session, user, coaching.id, note).id for note in notes]
        if summary is not None:
            set_summary(session, user, coaching.id, summary, covers_through=2)
    return ids


def test_empty_memory(coach: Any) -> None:
    run = coach("memory", "--json")
    assert run.exit_code == 0
    assert run.json() == {"summary": None, "notes": []}
    assert "no summary or notes yet" in coach("memory").stdout


def test_summary_and_notes_newest_first(store: Store, coach: Any) -> None:
    ids = _remember(store, "tester", ["older note", "newer note"], summary="They train for a 10k.")
    document = coach("memory", "--json").json()
    assert set(document) == {"summary", "notes"}
    summary = document["summary"]
    assert set(summary) == {"content", "covers_through", "updated_at"}
    assert summary["content"] == "They train for a 10k."
    with store.read_session() as session:
        from sqlmodel import select

        from coachcli.store.models import Message

        second = session.exec(select(Message).where(Message.position == 2)).one()
    assert summary["covers_through"] == second.created_at.isoformat()  # the last message it folds in
    assert [n["content"] for n in document["notes"]] == ["newer note", "older note"]
    assert [n["id"] for n in document["notes"]] == ids[::-1]
    assert all(set(n) == {"id", "content", "created_at"} for n in document["notes"])
    plain = coach("memory").stdout
    assert "They train for a 10k." in plain and "covers" in plain
    assert plain.index("newer note") < plain.index("older note")


def test_rm_by_prefix_and_only_your_own(store: Store, coach: Any) -> None:
    [mine] = _remember(store, "tester", ["my note"])
    [theirs] = _remember(store, "other", ["their note"])
    foreign = coach("memory", "rm", theirs[:8])
    assert foreign.exit_code == 1 and foreign.stderr.startswith("Error: no memory note with id")
    removed = coach("memory", "rm", mine[:8], "--json")
    assert removed.exit_code == 0, removed.stderr
    assert removed.json()["removed"]["content"] == "my note"
    assert coach("memory", "--json").json()["notes"] == []
    assert [n["content"] for n in coach("-u", "other", "memory", "--json").json()["notes"]] == ["their note"]
    assert coach("memory", "rm", "not-an-id!").exit_code == 2


def test_the_summary_cannot_be_removed_as_a_note(store: Store, coach: Any) -> None:
    _remember(store, "tester", [], summary="gist")
    with store.read_session() as session:
        from sqlmodel import select

        from coachcli.store.models import Memory

        summary = session.exec(select(Memory).where(Memory.kind == "summary")).one()
    assert coach("memory", "rm", summary.id).exit_code == 1
    assert coach("memory", "--json").json()["summary"]["content"] == "gist"


def test_repl_memory_command(store: Store, monkeypatch: Any, capsys: Any) -> None:
    """/memory in the REPL shows the same summary and notes (on stderr, like the other listings)."""
    from coachcli.cli.repl import Repl
    from coachcli.cli.state import AppState

    _remember(store, "tester", ["repl note"], summary="repl gist")
    repl = Repl.__new__(Repl)
    repl.app = AppState(home=None, db=None, user=None)
    assert repl.slash("/memory") is None
    shown = capsys.readouterr().err
    assert "repl gist" in shown and "repl note" in shown
