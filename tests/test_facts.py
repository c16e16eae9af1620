"""Facts: a restatement merges (and says into which fact), anything else is a new fact, and a
correction keeps the old fact as history (issue 10 #1, issue 11 §3). Runs on both engines."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from coachcli.coaching import facts as facts_svc
from coachcli.coaching.users import get_or_create_user
from coachcli.errors import ConflictError, NotFoundError, UsageError
from coachcli.store.engine import Store
from coachcli.store.models import User, UserFact

BASE = "Allergic to peanuts"


def _user(store: Store, handle: str = "alice") -> User:
    with store.write() as session:
        return get_or_create_user(session, handle)


def _current(store: Store, user: User) -> list[str]:
    with store.read_session() as session:
        return [f.text for f in facts_svc.list_facts(session, user)]


# --- the merge rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("known", "restated"),
    [
        (BASE, "allergic to peanuts"),
        (BASE, "Allergic to peanuts."),
        (BASE, "  ALLERGIC   to\tpeanuts! "),
        (BASE, "I am allergic to peanuts"),
        (BASE, "I'm allergic to peanuts"),
        (BASE, "I\u2019m allergic to the peanuts"),
        ("Prefers morning workouts", "I prefer morning workouts."),
        ("Does not eat meat", "I don't eat meat"),
        ("Has a dog named Rex", "I have a dog named Rex"),
        ("My knee hurts when running", "Knee hurts when running"),
    ],
)
def test_a_true_restatement_merges_and_names_the_fact(store: Store, known: str, restated: str) -> None:
    user = _user(store)
    with store.write() as session:
        first = facts_svc.save_fact(session, user, known)
        change = facts_svc.save_fact(session, user, restated)
    assert (first.action, change.action) == ("added", "merged")
    assert change.fact.id == first.fact.id and not change.created
    assert change.fact.text == known  # the stored wording is not silently rewritten
    assert change.describe().startswith(f"Merged into fact {first.fact.id[:8]}")
    assert _current(store, user) == [known]


@pytest.mark.parametrize(
    ("known", "other"),
    [
        # another person
        (BASE, "Brother is allergic to peanuts"),
        (BASE, "My wife is allergic to peanuts"),
        (BASE, "My son's friend is allergic to peanuts"),
        (BASE, "She is allergic to peanuts"),
        (BASE, "We are allergic to peanuts"),
        # negations
        (BASE, "Not allergic to peanuts"),
        ("I eat meat", "I don't eat meat"),
        ("Eats meat", "Does not eat meat"),
        ("Drinks coffee", "Never drinks coffee"),
        ("Drinks coffee", "No longer drinks coffee"),
        # changed objects
        (BASE, "Allergic to walnuts"),
        ("Moved to Paris", "Moved from Paris"),
        # changed numbers
        ("Runs 5 km on Mondays", "Runs 10 km on Mondays"),
        ("Weighs 80.5 kg", "Weighs 80 kg"),
        ("Budget is $100 a month", "Budget is $1000 a month"),
        # changed times and tenses
        ("Runs on Mondays", "Runs on Sundays"),
        ("Wakes up at 6:30", "Wakes up at 7:30"),
        ("Prefers morning workouts", "Prefers early morning workouts"),
        ("Is a smoker", "Was a smoker"),
        # one person or several
        ("Parents are vegetarian", "Parent is vegetarian"),
        ("Runs with her sister", "Runs with her sisters"),
    ],
)
def test_a_near_miss_is_a_new_fact_in_either_order(store: Store, known: str, other: str) -> None:
    """Merging these would drop a fact about the person: each must be kept as its own fact."""
    for handle, pair in (("alice", (known, other)), ("bob", (other, known))):
        user = _user(store, handle)
        with store.write() as session:
            changes = [facts_svc.save_fact(session, user, text) for text in pair]
        assert [c.action for c in changes] == ["added", "added"], pair
        assert _current(store, user) == list(pair)


def test_empty_or_too_long_facts_are_refused(store: Store) -> None:
    user = _user(store)
    with store.write() as session:
        for empty in ("", "   ", "\n\t"):
            with pytest.raises(UsageError, match="empty"):
                facts_svc.save_fact(session, user, empty)
        with pytest.raises(UsageError, match="at most"):
            facts_svc.save_fact(session, user, "x" * (facts_svc.MAX_FACT_LENGTH + 1))
        with pytest.raises(UsageError, match="source"):
            facts_svc.save_fact(session, user, "fine", source="robot")
    assert _current(store, user) == []


# --- corrections keep their history ----------------------------------------------------------------


def test_a_correction_keeps_the_old_fact_as_history(store: Store) -> None:
    user = _user(store)
    with store.write() as session:
        old = facts_svc.save_fact(session, user, "Prefers morning workouts").fact
        change = facts_svc.edit_fact(session, user, old.id[:8], "Prefers evening workouts")
    assert change.action == "replaced" and change.created
    assert change.replaced is not None and change.replaced.id == old.id
    assert old.id[:8] in change.describe() and change.fact.id[:8] in change.describe()
    with store.read_session() as session:
        everything = facts_svc.list_facts(session, user, include_replaced=True)
        current = facts_svc.list_facts(session, user)
    by_id = {f.id: f for f in everything}
    assert [f.text for f in current] == ["Prefers evening workouts"]
    kept = by_id[old.id]
    assert kept.text == "Prefers morning workouts"  # not overwritten
    assert kept.superseded_by == change.fact.id
    assert kept.superseded_at is not None and kept.superseded_at.tzinfo is not None


def test_history_allows_going_back_to_an_old_wording(store: Store) -> None:
    """No duplicates among current facts only: A -> B -> A again is fine, and all three stay."""
    user = _user(store)
    with store.write() as session:
        first = facts_svc.save_fact(session, user, "Runs on Mondays").fact
        second = facts_svc.edit_fact(session, user, first.id, "Runs on Tuesdays").fact
        third = facts_svc.edit_fact(session, user, second.id, "runs on mondays").fact
    assert len({first.id, second.id, third.id}) == 3
    assert _current(store, user) == ["runs on mondays"]
    with store.read_session() as session:
        assert len(facts_svc.list_facts(session, user, include_replaced=True)) == 3


def test_a_correction_onto_another_known_fact_keeps_one_current_copy(store: Store) -> None:
    user = _user(store)
    with store.write() as session:
        morning = facts_svc.save_fact(session, user, "Prefers morning workouts").fact
        knee = facts_svc.save_fact(session, user, "Has a bad left knee").fact
        change = facts_svc.edit_fact(session, user, morning.id, "has a bad left knee.")
    assert change.action == "replaced" and not change.created
    assert change.fact.id == knee.id
    assert _current(store, user) == ["Has a bad left knee"]
    with store.read_session() as session:
        assert session.get(UserFact, morning.id).superseded_by == knee.id  # type: ignore[union-attr]


def test_edit_refusals(store: Store) -> None:
    """Unchanged text changes nothing; a replaced fact, a foreign or unknown id cannot be edited."""
    user = _user(store)
    bob = _user(store, "bob")
    with store.write() as session:
        fact = facts_svc.save_fact(session, user, "Runs on Mondays").fact
        bobs = facts_svc.save_fact(session, bob, "Bob runs").fact
        assert facts_svc.edit_fact(session, user, fact.id, "Runs on Mondays").action == "unchanged"
        newer = facts_svc.edit_fact(session, user, fact.id, "Runs on Fridays").fact
        with pytest.raises(ConflictError, match=newer.id[:8]):
            facts_svc.edit_fact(session, user, fact.id, "Runs on Sundays")
        with pytest.raises(NotFoundError):
            facts_svc.edit_fact(session, user, bobs.id, "Alice's now")
        with pytest.raises(UsageError):
            facts_svc.edit_fact(session, user, "zz-not-hex", "x")
    assert _current(store, user) == ["Runs on Fridays"]
    assert _current(store, bob) == ["Bob runs"]


def test_removing_a_successor_leaves_the_history_replaced(store: Store) -> None:
    """`facts rm` removes one row; the fact it had replaced stays history, not current again."""
    user = _user(store)
    with store.write() as session:
        old = facts_svc.save_fact(session, user, "Sleeps 6 hours").fact
        new = facts_svc.edit_fact(session, user, old.id, "Sleeps 8 hours").fact
        facts_svc.remove_fact(session, user, new.id[:8])
    assert _current(store, user) == []
    with store.read_session() as session:
        [kept] = facts_svc.list_facts(session, user, include_replaced=True)
    assert kept.id == old.id and kept.superseded_at is not None and kept.superseded_by is None


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_add_merge_edit_list(coach: Any) -> None:
    added = coach("facts", "add", BASE)
    assert added.exit_code == 0, added.stderr
    fact_id = coach("facts", "list", "--json").json()[0]["id"]
    assert added.stdout.strip() == f"Added fact {fact_id[:8]}: {BASE}"

    brother = coach("facts", "add", "Brother is allergic to peanuts")
    assert brother.stdout.startswith("Added fact"), brother.stdout
    merged = coach("facts", "add", "I'm allergic to peanuts!")
    assert merged.exit_code == 0
    assert merged.stdout.startswith(f"Merged into fact {fact_id[:8]}") and BASE in merged.stdout

    edited = coach("facts", "edit", fact_id[:8], "Allergic to peanuts and sesame", "--json")
    assert edited.exit_code == 0, edited.stderr
    doc = edited.json()
    assert doc["replaces"] == fact_id and doc["text"] == "Allergic to peanuts and sesame"

    current = coach("facts", "list", "--json").json()
    assert [f["text"] for f in current] == [
        "Brother is allergic to peanuts",
        "Allergic to peanuts and sesame",
    ]
    assert all(set(f) == {"id", "text", "source", "created_at"} for f in current)

    history = coach("facts", "list", "--all", "--json").json()
    assert len(history) == 3
    assert all(
        set(f) == {"id", "text", "source", "created_at", "superseded_at", "superseded_by"} for f in history
    )
    [replaced] = [f for f in history if f["id"] == fact_id]
    assert replaced["superseded_by"] == doc["id"] and replaced["superseded_at"]

    plain = coach("facts", "list").stdout
    assert fact_id[:8] not in plain and "Allergic to peanuts and sesame" in plain
    plain_all = coach("facts", "list", "--all").stdout
    [line] = [ln for ln in plain_all.splitlines() if ln.startswith(fact_id[:8])]
    assert f"replaced by {doc['id'][:8]}" in line


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("facts", "edit", "abcdef12", "x"), 1),  # no such fact
        (("facts", "edit", "not-an-id!", "x"), 2),
        (("facts", "edit", "{id}", "   "), 2),
        (("facts", "edit", "{id}"), 2),  # missing text
    ],
)
def test_cli_edit_errors_are_one_line(coach: Any, args: tuple[str, ...], code: int) -> None:
    fact_id = coach("facts", "add", "Runs on Mondays", "--json").json()["id"]
    run = coach(*(a.format(id=fact_id[:8]) for a in args))
    assert run.exit_code == code, run.stderr
    assert run.stderr.startswith("Error: ") and run.stderr.count("\n") == 1
    assert coach("facts", "list", "--json").json()[0]["text"] == "Runs on Mondays"


def test_reset_counts_current_facts_only(coach: Any) -> None:
    fact_id = coach("facts", "add", "Runs on Mondays", "--json").json()["id"]
    assert coach("facts", "edit", fact_id, "Runs on Fridays").exit_code == 0
    assert coach("reset", "--yes", "--json").json()["facts_kept"] == 1


# --- the migration ---------------------------------------------------------------------------------


def _alembic(store: Store, action: str, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    from coachcli.store.migrate import MIGRATIONS_DIR

    with store.engine.connect() as conn:
        if store.is_sqlite:  # as store/migrate.py does: batch copies must not cascade
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
        with conn.begin():
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = conn
            getattr(command, action)(config, target)


def test_migration_carries_facts_over_and_back(store: Store, tmp_path: Any) -> None:
    """0001 -> 0002 keeps every fact as current; 0002 -> 0001 drops only the history."""
    if store.is_sqlite:  # start from an empty database on either engine
        store = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    else:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    _alembic(store, "upgrade", "0001_initial")
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO users (id, handle, created_at) VALUES ('u1', 'alice', CURRENT_TIMESTAMP)")
        )
        for i, fact in enumerate(("Runs on Mondays", "Has a bad knee")):
            conn.execute(
                text(
                    "INSERT INTO user_facts (id, user_id, text, normalized, source, created_at, updated_at) "
                    "VALUES (:id, 'u1', :text, :norm, 'manual', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": f"f{i}", "text": fact, "norm": fact.lower()},
            )
    _alembic(store, "upgrade", "0002_fact_history")
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, text, superseded_at, superseded_by FROM user_facts ORDER BY id")
        ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("f0", "Runs on Mondays", None, None),
        ("f1", "Has a bad knee", None, None),
    ]
    with store.engine.begin() as conn:  # a correction as the new schema records it
        conn.execute(text("UPDATE user_facts SET superseded_at = CURRENT_TIMESTAMP WHERE id = 'f0'"))
        conn.execute(
            text(
                "INSERT INTO user_facts (id, user_id, text, normalized, source, created_at, updated_at) "
                "VALUES ('f2', 'u1', 'Runs on mondays', 'runs on mondays', 'manual', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(text("UPDATE user_facts SET superseded_by = 'f2' WHERE id = 'f0'"))
    _alembic(store, "downgrade", "0001_initial")
    with store.engine.connect() as conn:
        kept = conn.execute(text("SELECT id FROM user_facts ORDER BY id")).scalars().all()
    assert kept == ["f1", "f2"]
    store.dispose()


def test_a_concurrent_duplicate_insert_becomes_a_merge(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer added the same fact between our read and our insert: the database's unique
    index over current facts refuses the copy and the save reports a merge, not an error."""
    user = _user(store)
    with store.write() as session:
        first = facts_svc.save_fact(session, user, "Runs on Mondays").fact
    real = facts_svc.find_restated
    calls: list[int] = []

    def stale_then_real(facts: list[UserFact], text: str) -> UserFact | None:
        calls.append(1)
        return None if len(calls) == 1 else real(facts, text)  # the first read misses the other write

    monkeypatch.setattr(facts_svc, "find_restated", stale_then_real)
    with store.write() as session:
        change = facts_svc.save_fact(session, user, "runs on mondays")
        assert change.action == "merged" and change.fact.id == first.id
    assert _current(store, user) == ["Runs on Mondays"]
