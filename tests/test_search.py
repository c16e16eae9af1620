"""coach search: words not syntax, per-user results, reset, context, and the index kept in sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coachcli.coaching.conversations import create_conversation, get_or_create_coaching
from coachcli.coaching.facts import add_fact, edit_fact
from coachcli.coaching.memories import add_note
from coachcli.coaching.messages import append_message
from coachcli.coaching.search import search
from coachcli.coaching.users import get_or_create_user
from coachcli.store.engine import Store

KNEE = "I started physiotherapy for my left knee on Monday"
HIT_KEYS = {"type", "id", "conversation_id", "role", "content", "created_at", "score"}


def _talk(store: Store, handle: str, turns: list[tuple[str, str]], *, thread: str | None = None) -> str:
    """Append turns to the user's coaching conversation (or a new task thread titled `thread`)."""
    with store.write() as session:
        user = get_or_create_user(session, handle)
        conversation = get_or_create_coaching(session, user)
        if thread is not None:
            conversation = create_conversation(
                session, user, type="task", parent_id=conversation.id, mode="task", title=thread
            )
        for role, content in turns:
            append_message(session, conversation.id, role, content)
        return conversation.id


def _find(store: Store, handle: str, query: str, **kwargs: Any) -> list[Any]:
    with store.read_session() as session:
        return search(session, get_or_create_user(session, handle), query, **kwargs)


def test_a_question_finds_the_answer_through_stems_and_prefixes(store: Store, coach: Any) -> None:
    _talk(store, "tester", [("user", "I like pizza on Fridays"), ("user", KNEE), ("assistant", "Noted.")])
    run = coach("search", "When did I start physio for my knee?", "--json")
    assert run.exit_code == 0, run.stderr
    hits = run.json()
    assert hits[0]["content"] == KNEE
    assert set(hits[0]) == HIT_KEYS
    assert hits[0]["type"] == "message" and hits[0]["role"] == "user"
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_any_word_is_enough_and_stop_words_do_not_count(store: Store) -> None:
    _talk(store, "tester", [("user", "The marathon is in April")], thread="one")
    _talk(store, "tester", [("user", "What about the weather there")], thread="two")
    hits = _find(store, "tester", "what about the marathon training plan")
    assert [h.content for h in hits] == ["The marathon is in April"]


@pytest.mark.parametrize(
    "query",
    [
        '"knee',
        "knee)",
        "knee AND OR NOT",
        "NEAR(knee physio, 2)",
        "knee* ^physio",
        "content: knee",
        "owner:knee",
        "{knee} - + : ' \\",
        "knee & physio | !x <-> y:*",
        "[bold]knee[/bold]",
    ],
)
def test_operator_characters_are_text(store: Store, coach: Any, query: str) -> None:
    _talk(store, "tester", [("user", KNEE)])
    run = coach("search", query, "--json")
    assert run.exit_code == 0, run.stderr
    assert [h["content"] for h in run.json()] == [KNEE]


@pytest.mark.parametrize("query", ["", "   ", "the and of", "*** ^ ()", '"AND" OR'])
def test_a_query_without_words_is_a_usage_error(store: Store, coach: Any, query: str) -> None:
    run = coach("search", query)
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: the search has no words")
    assert "Traceback" not in run.stderr


def test_a_huge_query_is_a_clean_result(store: Store, coach: Any) -> None:
    _talk(store, "tester", [("user", KNEE)])
    query = "knee " + " ".join(f"word{i}" for i in range(20_000))  # over 100 KB
    assert len(query) > 100_000
    run = coach("search", query, "--json")
    assert run.exit_code == 0, run.stderr
    assert [h["content"] for h in run.json()] == [KNEE]


def test_only_the_users_own_rows(store: Store, coach: Any) -> None:
    _talk(store, "alice", [("user", "alice knee physio secret")])
    _talk(store, "bob", [("user", "bob knee physio secret")])
    with store.write() as session:
        add_fact(session, get_or_create_user(session, "bob"), "Bob's knee is fine")
    alice = coach("-u", "alice", "search", "knee physio secret", "--json").json()
    assert [h["content"] for h in alice] == ["alice knee physio secret"]
    bob = coach("-u", "bob", "search", "knee", "--json").json()
    assert sorted(h["content"] for h in bob) == ["Bob's knee is fine", "bob knee physio secret"]
    assert coach("-u", "carol", "search", "knee", "--json").json() == []


def test_reset_forgets_the_conversation_but_not_threads_or_facts(store: Store, coach: Any) -> None:
    coaching = _talk(store, "tester", [("user", "my knee hurts"), ("assistant", "Rest the knee.")])
    _talk(
        store, "tester", [("user", "Task: knee plan"), ("assistant", "A knee plan")], thread="Planner: knee"
    )
    with store.write() as session:
        user = get_or_create_user(session, "tester")
        add_fact(session, user, "Left knee injury")
        add_note(session, user, coaching, "knee note")
    before = {h["content"] for h in coach("search", "knee", "--json").json()}
    assert {"my knee hurts", "Rest the knee.", "knee note", "A knee plan", "Left knee injury"} <= before
    assert coach("reset", "--yes").exit_code == 0
    after = coach("search", "knee", "--json").json()
    assert {h["content"] for h in after} == {"Task: knee plan", "A knee plan", "Left knee injury"}
    assert all(h["conversation_id"] != coaching for h in after)


def test_a_short_reply_is_found_through_its_neighbours(store: Store, coach: Any) -> None:
    _talk(
        store,
        "tester",
        [
            ("user", "Completely unrelated chatter about cooking"),
            ("assistant", "Did you book the physiotherapy appointment for your knee?"),
            ("user", "Yes, Monday!"),
            ("assistant", "More unrelated talk about gardening"),
        ],
    )
    hits = coach("search", "knee physiotherapy appointment", "--json", "--context", "1").json()
    contents = [h["content"] for h in hits]
    assert contents[:2] == ["Did you book the physiotherapy appointment for your knee?", "Yes, Monday!"]
    reply = hits[1]
    assert [c["content"] for c in reply["context"]] == [
        "Did you book the physiotherapy appointment for your knee?",
        "More unrelated talk about gardening",
    ]
    assert set(reply["context"][0]) == {"id", "role", "content", "created_at"}
    plain = coach("search", "knee physiotherapy appointment", "--limit", "2")
    assert "Yes, Monday!" in plain.stdout and "coach: Did you book" in plain.stdout


def test_types_and_where_hits_come_from(store: Store, coach: Any) -> None:
    _talk(store, "tester", [("user", "knee in coaching")])
    _talk(store, "tester", [("assistant", "knee in a thread")], thread="Planner: knee plan")
    with store.write() as session:
        user = get_or_create_user(session, "tester")
        fact, _ = add_fact(session, user, "knee fact, first wording")
        edit_fact(session, user, fact.id, "knee fact, corrected wording")
    tasks = coach("search", "knee", "--type", "task", "--json").json()
    assert [h["content"] for h in tasks] == ["knee in a thread"]
    facts = coach("search", "knee", "--type", "fact", "--json").json()
    assert {h["content"] for h in facts} == {"knee fact, first wording", "knee fact, corrected wording"}
    assert all(h["role"] is None and h["conversation_id"] is None for h in facts)
    with store.read_session() as session:
        hits = search(session, get_or_create_user(session, "tester"), "knee", limit=20)
    where = {h.content: h.where for h in hits}
    assert where["knee in a thread"] == "task: Planner: knee plan"
    assert where["knee in coaching"] == "coaching"
    assert where["knee fact, first wording"] == "fact (replaced)"
    assert where["knee fact, corrected wording"] == "fact"
    plain = coach("search", "knee", "--limit", "20").stdout
    assert "fact (replaced)" in plain and "task: Planner: knee plan" in plain
    bad = coach("search", "knee", "--type", "bogus")
    assert bad.exit_code == 2 and "unknown --type 'bogus'" in bad.stderr


def test_plain_output_prints_text_literally(store: Store, coach: Any) -> None:
    _talk(store, "tester", [("user", "knee [bold red]not markup[/] \x1b[31m")])
    run = coach("search", "knee")
    assert run.exit_code == 0
    assert "knee [bold red]not markup[/] ␛[31m" in run.stdout
    assert "\x1b" not in run.stdout


def test_the_index_follows_edits_deletes_and_tool_turns(store: Store) -> None:
    from sqlmodel import select

    from coachcli.store.models import Message

    conversation = _talk(store, "tester", [("user", "original knee words")])
    with store.write() as session:
        append_message(session, conversation, "tool", "tool output about the knee", tool_call_id="c1")
        message = session.exec(select(Message).where(Message.role == "user")).one()
        message.content = "edited shoulder words"
        session.add(message)
    assert [h.content for h in _find(store, "tester", "shoulder")] == ["edited shoulder words"]
    assert _find(store, "tester", "knee") == []  # neither the old text nor the tool turn
    with store.write() as session:
        session.delete(session.exec(select(Message).where(Message.role == "user")).one())
    assert _find(store, "tester", "shoulder") == []
    _integrity(store)


def test_deleting_a_conversation_takes_its_messages_out_of_the_index(store: Store) -> None:
    from sqlmodel import select

    from coachcli.store.models import Conversation

    thread = _talk(store, "tester", [("assistant", "knee thread words")], thread="Planner: knee")
    with store.write() as session:
        session.delete(session.exec(select(Conversation).where(Conversation.id == thread)).one())
    assert _find(store, "tester", "knee") == []
    _integrity(store)


def _integrity(store: Store) -> None:
    """SQLite: FTS5 checks its index against the content (stale entries would fail here)."""
    if not store.is_sqlite:
        return
    from sqlalchemy import text

    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO search_messages(search_messages) VALUES ('integrity-check')"))
        conn.execute(text("INSERT INTO search_notes_fts(search_notes_fts) VALUES ('integrity-check')"))


def test_search_never_imports_litellm(store: Store, tmp_path: Path) -> None:
    import subprocess
    import sys

    _talk(store, "tester", [("user", KNEE)])
    code = (
        "import sys\nfrom coachcli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'litellm' not in sys.modules and 'alembic' not in sys.modules, 'heavy import'\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, "search", "knee", "--json"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert KNEE in run.stdout


def test_upgrading_a_filled_store_indexes_what_is_there(
    tmp_path: Path, database: str | None, coach: Any
) -> None:
    _backfill_case(Store(database or f"sqlite:///{tmp_path / 'old.db'}"), coach)


def _backfill_case(st: Store, coach: Any) -> None:
    """A store filled at 0003 (before the index existed), then upgraded: everything is found."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from coachcli.store.migrate import MIGRATIONS_DIR, ensure_schema

    ensure_schema(st)

    def migrate(step: Any, target: str) -> None:
        with st.engine.connect() as conn, conn.begin():
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = conn
            step(config, target)

    migrate(command.downgrade, "0003_goals_progress")
    # Rows written the way that schema stored them (today's models know later columns).
    now = "2026-01-05 10:00:00"
    rows = [
        "INSERT INTO users (id, handle, created_at) VALUES ('u1', 'tester', :now), ('u2', 'other', :now)",
        "INSERT INTO conversations (id, user_id, type, mode, created_at, updated_at) "
        "VALUES ('c1', 'u1', 'coaching', 'auto', :now, :now), ('c2', 'u2', 'coaching', 'auto', :now, :now)",
        "INSERT INTO messages (conversation_id, position, role, content, status, created_at) VALUES "
        f"('c1', 1, 'user', '{KNEE}', 'complete', :now), "
        "('c1', 2, 'tool', 'knee tool output', 'complete', :now), "
        "('c2', 1, 'user', 'other knee', 'complete', :now)",
        "INSERT INTO user_facts (id, user_id, text, normalized, source, created_at, updated_at) "
        "VALUES ('f1', 'u1', 'Knee surgery in 2019', 'knee surgery in 2019', 'manual', :now, :now)",
    ]
    with st.engine.begin() as conn:
        for statement in rows:
            conn.execute(text(statement), {"now": now})
    migrate(command.upgrade, "head")
    url = st.url
    st.dispose()
    hits = coach("--db", url, "search", "knee", "--json").json()
    assert sorted(h["content"] for h in hits) == [KNEE, "Knee surgery in 2019"]
    _integrity(Store(url))


def test_the_coach_searches_history_with_a_tool(store: Store, coach: Any, model_env: Any) -> None:
    """search_history runs the same search for the current user; the REPL-style notice says so."""
    from scripted_server import text, tool_call

    _talk(store, "tester", [("user", KNEE), ("assistant", "Good luck with it.")])
    _talk(store, "someone", [("user", "someone else's knee physio")])
    model_env.queue(tool_call("search_history", {"query": "knee physio", "limit": 3}), text("On Monday."))
    run = coach("chat", "When did I start physio again?")
    assert run.exit_code == 0, run.stderr
    assert "On Monday." in run.stdout
    assert "searched your history for: knee physio" in run.stderr
    follow_up = model_env.requests[1]["messages"]
    result = next(m for m in follow_up if m["role"] == "tool")
    assert KNEE in result["content"] and "coaching" in result["content"]
    assert "someone else" not in result["content"]
    system = model_env.requests[0]["messages"][0]["content"]
    assert "search_history" in system and "not in view" in system
    again = coach("search", "Good luck", "--json").json()
    assert again[0]["content"] == "Good luck with it."
    assert all(h["role"] in ("user", "assistant") for h in again)  # tool results are not indexed
    assert not any("results for" in h["content"] for h in again)


def test_kept_counts_equal_counted_ones_per_user(store: Store) -> None:
    """Each user's word counts (search_terms, kept by the index's triggers) follow appends,
    edits, deletes and a deleted thread, and equal a count of that user's messages."""
    from sqlmodel import col, select

    from coachcli.coaching.search_porter import stem
    from coachcli.coaching.search_text import query_terms, words
    from coachcli.store import search_sql
    from coachcli.store.models import Conversation, Message

    _talk(store, "tester", [("user", KNEE), ("user", "knee again"), ("assistant", "started running")])
    _talk(store, "other", [("user", "knee knee running"), ("user", "running start")])
    thread = _talk(store, "tester", [("user", "running in a thread"), ("tool", "knee tool")], thread="t")
    with store.write() as session:
        edited = session.exec(select(Message).where(Message.content == "knee again")).one()
        edited.content = "shoulder now"
        session.add(edited)
        session.delete(session.exec(select(Message).where(Message.content == "started running")).one())
        append_message(session, edited.conversation_id, "assistant", "Monday running, knee fine")
    query = "knee start running monday shoulder"
    terms = [search_sql.Word(t.word, False, t.stem) for t in query_terms(query)]
    with store.write() as session:
        session.delete(session.exec(select(Conversation).where(Conversation.id == thread)).one())
    expected = {"tester": (3, [2, 1, 1, 2, 1]), "other": (2, [1, 1, 2, 0, 0])}
    with store.read_session() as session:
        for handle, counts in expected.items():
            user = get_or_create_user(session, handle)
            kept = search_sql.message_counts(session, user.id, terms)
            assert (kept.total, kept.docs) == counts
            # ... which is what counting the user's messages gives
            rows = session.exec(
                select(Message.content)
                .join(Conversation)
                .where(
                    Conversation.user_id == user.id,
                    col(Message.role).in_(("user", "assistant")),
                )
            ).all()
            stems = [{stem(w) for w in words(row)} for row in rows]
            assert counts == (len(rows), [sum(t.stem in s for s in stems) for t in terms])
    _integrity(store)


def test_a_users_ranking_uses_that_users_counts(store: Store) -> None:
    """In a shared store a word common for someone else but rare for this user still weighs
    much for this user: their one 'piano' message ranks above their 'garden' ones."""
    for n in range(30):
        _talk(store, "other", [("user", f"piano practice today, round {n}")], thread=f"p{n}")
    for n in range(3):
        _talk(store, "tester", [("user", "garden practice today")], thread=f"g{n}")
    _talk(store, "tester", [("user", "piano practice today")], thread="piano")
    hits = _find(store, "tester", "piano garden")
    assert [h.content for h in hits] == ["piano practice today"] + ["garden practice today"] * 3
    assert hits[0].score > hits[1].score


def test_accents(store: Store) -> None:
    """Typed with its accents a word is found on both engines; without them on SQLite only
    (FTS5 folds diacritics; PostgreSQL's english configuration keeps them)."""
    _talk(store, "tester", [("user", "Café crème with Zoë")], thread="one")
    _talk(store, "tester", [("user", "plain cafe talk")], thread="two")
    assert {h.content for h in _find(store, "tester", "Zoë café")} == {
        "Café crème with Zoë",
        "plain cafe talk",
    }
    folded = {h.content for h in _find(store, "tester", "zoe")}
    assert folded == (set() if store.dialect == "postgresql" else {"Café crème with Zoë"})


def test_candidates_come_from_the_rarest_words_that_occur(store: Store, monkeypatch: Any) -> None:
    """With a small candidate budget, a common word still finds messages when the rarer query
    words occur nowhere."""
    import coachcli.coaching.search as search_module

    monkeypatch.setattr(search_module, "CANDIDATE_BUDGET", 2)
    _talk(store, "tester", [("user", f"running day {i}") for i in range(5)], thread="runs")
    _talk(store, "tester", [("user", "a rare word: zucchini, and running")], thread="rare")
    assert len(_find(store, "tester", "xyzzy running", limit=10)) == 6
    assert _find(store, "tester", "zucchini running")[0].content == "a rare word: zucchini, and running"


def test_when_every_word_is_common_messages_with_two_of_them_come_first(
    store: Store, monkeypatch: Any
) -> None:
    """Over the candidate budget even with its rarest word, a search ranks the messages that
    hold two of the words, then tops up from the rarest word alone."""
    import coachcli.coaching.search as search_module

    monkeypatch.setattr(search_module, "CANDIDATE_BUDGET", 1)
    for n, content in enumerate(["knee pain today", "physio session", "physio for the knee", "knee brace"]):
        _talk(store, "tester", [("user", content)], thread=f"t{n}")
    hits = _find(store, "tester", "knee physio")
    assert [h.content for h in hits] == ["physio for the knee", "physio session"]


def test_the_owner_filter_is_left_out_only_while_the_store_is_one_users(store: Store) -> None:
    """In a personal store every indexed message is the user's, so SQLite's query needs no owner
    token (whose row count was most of a search's time). The moment anyone else has a message
    the filter is back (seen from either side of the key), and it goes when theirs are deleted."""
    from sqlmodel import select

    from coachcli.store import search_sql
    from coachcli.store.models import Conversation

    def sole(handle: str) -> bool:
        with store.read_session() as session:
            user = get_or_create_user(session, handle)
            words = [search_sql.Word("knee", False, "knee")]
            return search_sql.message_counts(session, user.id, words).sole_owner

    _talk(store, "alice", [("user", "alice knee")])
    assert sole("alice")
    bobs = _talk(store, "bob", [("user", "bob knee")], thread="bob's")
    assert not sole("alice") and not sole("bob")  # one of them sorts before the other
    assert [h.content for h in _find(store, "alice", "knee")] == ["alice knee"]
    assert [h.content for h in _find(store, "bob", "knee")] == ["bob knee"]
    with store.write() as session:
        session.delete(session.exec(select(Conversation).where(Conversation.id == bobs)).one())
    assert sole("alice")
    assert [h.content for h in _find(store, "alice", "knee")] == ["alice knee"]
    assert _find(store, "bob", "knee") == []


def test_every_index_trigger_survives_to_the_head_schema(store: Store) -> None:
    """A later migration that copies a table (SQLite batch mode) drops its triggers silently,
    and the index would stop following that table: the head schema must still have them all.
    (PostgreSQL: the generated columns and their GIN indexes.)"""
    from sqlalchemy import text

    if not store.is_sqlite:
        with store.engine.connect() as conn:
            indexes = set(conn.execute(text("SELECT indexname FROM pg_indexes")).scalars())
            triggers = set(conn.execute(text("SELECT tgname FROM pg_trigger")).scalars())
        tables = ("messages", "user_facts", "memories", "progress")
        assert {f"ix_{table}_search_vector" for table in tables} <= indexes
        assert {"search_messages_terms", "search_conversations_bd", "search_users_ad"} <= triggers
        return

    expected = {
        f"search_{table}_{op}"
        for table in ("user_facts", "memories", "progress")
        for op in ("ai", "au", "ad")
    }
    expected |= {f"search_{table}_{op}" for table in ("messages", "notes") for op in ("ai", "au", "ad")}
    expected |= {"search_conversations_bd", "search_users_ad"}
    with store.engine.connect() as conn:
        found = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert expected <= found
