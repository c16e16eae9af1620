"""The coaching services on a real database: coaching conversation, reset, task threads, facts,
agents and the dispatch lifecycle (no model involved)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from coachcli.coaching import agents as agents_svc
from coachcli.coaching import conversations as conv_svc
from coachcli.coaching import facts as facts_svc
from coachcli.coaching.dispatch import lifecycle as disp_svc
from coachcli.coaching.memories import add_note, set_summary
from coachcli.coaching.messages import append_message, list_messages
from coachcli.coaching.users import get_or_create_user
from coachcli.errors import ConflictError, NotFoundError, UsageError
from coachcli.llm.types import Completion
from coachcli.store.engine import Store
from coachcli.store.models import Conversation, Dispatch, Memory, Message, User, UserFact

RACERS = 6


def _user(store: Store, handle: str = "alice") -> User:
    with store.write() as session:
        return get_or_create_user(session, handle)


def _coaching(store: Store, user: User) -> Conversation:
    with store.write() as session:
        return conv_svc.get_or_create_coaching(session, user)


# --- get_or_create_coaching ---------------------------------------------------------------------------


def test_get_or_create_coaching_is_idempotent(store: Store) -> None:
    """Every command calls it; a second call must return the same row, not a new conversation."""
    user = _user(store)
    with store.write() as session:
        first = conv_svc.get_or_create_coaching(session, user)
        again = conv_svc.get_or_create_coaching(session, user)
    assert first.id == again.id
    assert (first.type, first.mode, first.parent_id) == ("coaching", "auto", None)
    assert _coaching(store, user).id == first.id
    other = _coaching(store, _user(store, "bob"))
    assert other.id != first.id


def test_get_or_create_coaching_recovers_from_a_lost_race(store: Store, monkeypatch) -> None:
    """When another process inserts first, the unique index refuses ours and we return theirs."""
    user = _user(store)
    winner = _coaching(store, user)
    real_find = conv_svc.find_coaching
    calls = []

    def stale_find(session, u):  # the first look happened before the other process committed
        calls.append(u.id)
        return None if len(calls) == 1 else real_find(session, u)

    monkeypatch.setattr(conv_svc, "find_coaching", stale_find)
    with store.write() as session:
        got = conv_svc.get_or_create_coaching(session, user)
        session.add(Message(conversation_id=got.id, position=1, role="user", content="still usable"))
    assert len(calls) == 2
    assert got.id == winner.id
    with store.read_session() as session:
        count = session.execute(select(func.count()).select_from(Conversation)).scalar_one()
        assert count == 1
        assert [m.content for m in list_messages(session, winner.id)] == ["still usable"]


def _race_worker(url: str, barrier, results) -> None:
    """One racing process: its own Store on the shared file, released together with the others."""
    from coachcli.coaching.conversations import get_or_create_coaching
    from coachcli.coaching.users import get_or_create_user
    from coachcli.store.engine import Store
    from coachcli.store.migrate import ensure_schema

    try:
        store = Store(url)
        ensure_schema(store)
        barrier.wait(timeout=120)
        with store.write() as session:
            user = get_or_create_user(session, "racer")
            conversation = get_or_create_coaching(session, user)
        results.put(("ok", user.id, conversation.id))
        store.dispose()
    except BaseException as exc:
        results.put(("error", type(exc).__name__, str(exc)))


@pytest.mark.parametrize("premigrated", [True, False], ids=["migrated", "fresh-file"])
def test_get_or_create_coaching_raced_from_processes(store: Store, tmp_path, premigrated: bool) -> None:
    """Several `coach` processes started at once must end with one user and one coaching thread."""
    url = store.url
    if not premigrated:
        if not store.is_sqlite:
            pytest.skip("a fresh database is only meaningful for a new SQLite file")
        store.dispose()
        url = f"sqlite:///{tmp_path / 'race' / 'coach.db'}"  # nobody has created or migrated it
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(url, barrier, results)) for _ in range(RACERS)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert [o for o in outcomes if o[0] != "ok"] == []
    assert len({o[1] for o in outcomes}) == 1
    assert len({o[2] for o in outcomes}) == 1
    check = Store(url)
    try:
        with check.read_session() as session:
            assert session.execute(select(func.count()).select_from(User)).scalar_one() == 1
            coaching = session.execute(
                select(Conversation.id).where(Conversation.type == "coaching")
            ).scalars()
            assert list(coaching) == [outcomes[0][2]]
    finally:
        check.dispose()


# --- reset ----------------------------------------------------------------------------------------------


def _populated(store: Store, handle: str = "alice") -> dict:
    """A coaching conversation with messages, a title, notes, a summary, facts and a task thread."""
    with store.write() as session:
        user = get_or_create_user(session, handle)
        coaching = conv_svc.get_or_create_coaching(session, user)
        for i in range(3):
            append_message(session, coaching.id, "user" if i % 2 == 0 else "assistant", f"m{i}")
        coaching.title = "Running again"
        coaching.updated_at = datetime.now(UTC) - timedelta(days=1)
        session.add(coaching)
        add_note(session, user, coaching.id, "Prefers short sessions")
        set_summary(session, user, coaching.id, "They talked about running.", covers_through=2)
        thread = conv_svc.create_conversation(
            session, user, type="task", parent_id=coaching.id, mode="task", title="Planner: plan"
        )
        append_message(session, thread.id, "user", "Task: plan")
        add_note(session, user, thread.id, "a note on the task thread")
        facts_svc.add_fact(session, user, "Runs on Mondays")
        facts_svc.add_fact(session, user, "Has a bad left knee")
        return {"user": user, "coaching": coaching, "thread": thread}


def test_reset_clears_only_the_coaching_conversation(store: Store) -> None:
    """Reset forgets the conversation and its memories but never facts, threads or other users."""
    alice = _populated(store, "alice")
    bob = _populated(store, "bob")
    before = alice["coaching"].updated_at
    with store.write() as session:
        result = conv_svc.reset(session, alice["user"], alice["coaching"].id)
    assert result.conversation_id == alice["coaching"].id
    assert (result.messages_cleared, result.memories_deleted, result.facts_kept) == (3, 2, 2)
    with store.read_session() as session:
        coaching = session.get(Conversation, alice["coaching"].id)
        assert coaching is not None
        assert coaching.title is None
        assert coaching.updated_at > before
        assert list_messages(session, coaching.id) == []
        assert session.execute(select(Memory).where(Memory.conversation_id == coaching.id)).first() is None
        # Kept: the task thread with its messages and notes, the facts, and everything of bob's.
        assert [m.content for m in list_messages(session, alice["thread"].id)] == ["Task: plan"]
        notes = session.execute(select(Memory.content).where(Memory.conversation_id == alice["thread"].id))
        assert list(notes.scalars()) == ["a note on the task thread"]
        assert len(facts_svc.list_facts(session, alice["user"])) == 2
        assert len(list_messages(session, bob["coaching"].id)) == 3
        bob_memories = select(func.count()).select_from(Memory).where(Memory.user_id == bob["user"].id)
        assert session.execute(bob_memories).scalar_one() == 3
    with store.write() as session:  # a second reset has nothing left to clear
        again = conv_svc.reset(session, alice["user"], alice["coaching"].id)
    assert (again.messages_cleared, again.memories_deleted, again.facts_kept) == (0, 0, 2)


def test_reset_refuses_other_users_and_task_threads(store: Store) -> None:
    """Reset must not be able to wipe someone else's conversation, or a saved task thread."""
    alice = _populated(store, "alice")
    bob = _populated(store, "bob")
    with store.write() as session:
        with pytest.raises(NotFoundError):
            conv_svc.reset(session, alice["user"], bob["coaching"].id)
        with pytest.raises(NotFoundError):
            conv_svc.reset(session, alice["user"], "00000000-0000-0000-0000-000000000000")
        with pytest.raises(UsageError):
            conv_svc.reset(session, alice["user"], alice["thread"].id)
    with store.read_session() as session:
        assert len(list_messages(session, bob["coaching"].id)) == 3
        assert len(list_messages(session, alice["thread"].id)) == 1
        assert len(list_messages(session, alice["coaching"].id)) == 3


# --- conversations and task threads -------------------------------------------------------------------


def test_create_conversation_records_type_and_parent(store: Store) -> None:
    """Task threads are conversations with a type and a parent, stored so they can be told apart."""
    user = _user(store)
    bob = _user(store, "bob")
    with store.write() as session:
        coaching = conv_svc.get_or_create_coaching(session, user)
        thread = conv_svc.create_conversation(session, user, type="task", parent_id=coaching.id, mode="task")
        assert (thread.type, thread.parent_id, thread.mode) == ("task", coaching.id, "task")
        with pytest.raises(UsageError):
            conv_svc.create_conversation(session, user, type="journal")
        with pytest.raises(UsageError):
            conv_svc.create_conversation(session, user, type="task", mode="free")
        with pytest.raises(NotFoundError):  # a parent must be the user's own conversation
            conv_svc.create_conversation(session, bob, type="task", parent_id=coaching.id)
    with store.read_session() as session:
        rows = session.scalars(select(Conversation).where(Conversation.user_id == user.id)).all()
        assert {(r.id, r.type, r.parent_id) for r in rows} == {
            (coaching.id, "coaching", None),
            (thread.id, "task", coaching.id),
        }
        assert session.scalars(select(Conversation).where(Conversation.user_id == bob.id)).all() == []


def test_list_task_threads_scope_order_and_agent(store: Store) -> None:
    """`tasks list` shows this parent's threads of this user only, newest first, with the agent."""
    user = _user(store)
    bob = _user(store, "bob")
    base = datetime(2024, 3, 1, tzinfo=UTC)
    with store.write() as session:
        coaching = conv_svc.get_or_create_coaching(session, user)
        threads = []
        for i in range(3):
            t = conv_svc.create_conversation(
                session, user, type="task", parent_id=coaching.id, mode="task", title=f"t{i}"
            )
            t.created_at = base + timedelta(hours=i)
            session.add(t)
            threads.append(t)
        session.add(
            Dispatch(
                user_id=user.id,
                conversation_id=coaching.id,
                agent="researcher",
                task="find",
                status="succeeded",
                proposed_by="operator",
                task_thread_id=threads[1].id,
            )
        )
        # Not listed: a thread under another parent, and another user's row under this parent.
        conv_svc.create_conversation(session, user, type="task", parent_id=threads[0].id, title="nested")
        session.add(Conversation(user_id=bob.id, type="task", parent_id=coaching.id, title="bob's"))
    with store.read_session() as session:
        rows = conv_svc.list_task_threads(session, user, coaching.id)
        assert [r.title for r in rows] == ["t2", "t1", "t0"]
        assert [r.agent for r in rows] == [None, "researcher", None]
        assert rows[0].created_at == base + timedelta(hours=2)
        assert [r.title for r in conv_svc.list_task_threads(session, user.handle, coaching.id, limit=1)] == [
            "t2"
        ]
        assert [r.title for r in conv_svc.list_task_threads(session, "bob", coaching.id)] == ["bob's"]
        # Without a parent: the user's own coaching conversation (bob has none: nothing listed);
        # a handle instead of the user is the same query (what `coach tasks list` runs).
        assert conv_svc.list_task_threads(session, user.handle) == rows
        assert conv_svc.list_task_threads(session, user.handle, coaching.id) == rows
        assert conv_svc.list_task_threads(session, "bob") == []
        assert conv_svc.list_task_threads(session, "nobody") == []


# --- facts ----------------------------------------------------------------------------------------------


def test_facts_dedupe_restatements(store: Store) -> None:
    """Facts are durable memory: the same fact said twice must stay one fact."""
    user = _user(store)
    with store.write() as session:
        first, created = facts_svc.add_fact(session, user, "Prefers morning workouts")
        assert created
        for restated in ("prefers morning workouts.", "  PREFERS   morning  workouts! "):
            fact, created = facts_svc.add_fact(session, user, restated)
            assert not created
            assert fact.id == first.id
        similar, created = facts_svc.add_fact(session, user, "Prefers early morning workouts")
        assert created and similar.id != first.id  # "early" changes the claim: a new fact
        other, created = facts_svc.add_fact(session, user, "Has a bad left knee", source="coach")
        assert created and other.source == "coach"
    with store.read_session() as session:
        facts = facts_svc.list_facts(session, user)
    assert [f.text for f in facts] == [
        "Prefers morning workouts",
        "Prefers early morning workouts",
        "Has a bad left knee",
    ]


def test_fact_replaces_keeps_history(store: Store) -> None:
    """A correction is a new fact, the old one kept as history; one that matches another fact
    leaves a single current copy (more in tests/test_facts.py)."""
    user = _user(store)
    with store.write() as session:
        morning, _ = facts_svc.add_fact(session, user, "Prefers morning workouts")
        knee, _ = facts_svc.add_fact(session, user, "Has a bad left knee")
        fixed, created = facts_svc.add_fact(
            session, user, "Prefers evening workouts", replaces=morning.id[:8]
        )
        assert created and fixed.id != morning.id
        merged, created = facts_svc.add_fact(session, user, "has a bad left knee.", replaces=fixed.id)
        assert not created and merged.id == knee.id
    with store.read_session() as session:
        facts = [(f.id, f.text) for f in facts_svc.list_facts(session, user)]
        history = facts_svc.list_facts(session, user, include_replaced=True)
    assert facts == [(knee.id, "Has a bad left knee")]
    assert {f.id for f in history} == {morning.id, knee.id, fixed.id}


def test_fact_remove_by_prefix_and_errors(store: Store) -> None:
    """Removal takes a unique prefix; an ambiguous or foreign one must not delete anything."""
    user = _user(store)
    bob = _user(store, "bob")
    with store.write() as session:
        for i, fid in enumerate(
            ("abc10000-0000-4000-8000-000000000000", "abc20000-0000-4000-8000-000000000000")
        ):
            session.add(UserFact(id=fid, user_id=user.id, text=f"fact {i}", normalized=f"fact {i}"))
        bobs, _ = facts_svc.add_fact(session, bob, "Bob's fact")
        session.flush()
        with pytest.raises(UsageError, match="several"):
            facts_svc.remove_fact(session, user, "abc")
        with pytest.raises(NotFoundError):
            facts_svc.remove_fact(session, user, bobs.id[:8])
        with pytest.raises(UsageError):
            facts_svc.remove_fact(session, user, "not-hex!")
        removed = facts_svc.remove_fact(session, user, "ABC1")
        assert removed.id.startswith("abc1")
        for empty in ("", "   ", "\n\t"):
            with pytest.raises(UsageError, match="empty"):
                facts_svc.add_fact(session, user, empty)
        with pytest.raises(UsageError):
            facts_svc.add_fact(session, user, "x" * (facts_svc.MAX_FACT_LENGTH + 1))
    with store.read_session() as session:
        assert [f.text for f in facts_svc.list_facts(session, user)] == ["fact 1"]
        assert [f.text for f in facts_svc.list_facts(session, bob)] == ["Bob's fact"]


# --- agents ---------------------------------------------------------------------------------------------


def test_builtin_agents(store: Store) -> None:
    """The specialists ship with the package and need real prompts to be worth dispatching to."""
    with store.read_session() as session:
        specs = agents_svc.list_agents(session)
        names = [(s.name, s.display_name, s.builtin) for s in specs]
        assert names == [
            ("planner", "Planner", True),
            ("researcher", "Researcher", True),
            ("writer", "Writer", True),
            ("reviewer", "Reviewer", True),  # runs `coach review`
        ]
        for spec in specs:
            assert len(spec.system_prompt) > 200
            assert spec.description.strip()
        assert agents_svc.get_agent(session, " Planner ").name == "planner"
        with pytest.raises(NotFoundError, match="planner"):  # the error lists the known agents
            agents_svc.get_agent(session, "nutritionist")


def test_user_agents_add_and_remove(store: Store) -> None:
    """Users can add specialists, but never shadow or delete the built-in ones."""
    with store.write() as session:
        spec = agents_svc.add_agent(
            session,
            name="nutritionist",
            display_name="Nutritionist",
            description="Plans meals",
            system_prompt="You plan meals.",
        )
        assert (spec.name, spec.builtin, spec.model) == ("nutritionist", False, None)
        with pytest.raises(ConflictError):
            agents_svc.add_agent(
                session, name="nutritionist", display_name="N", description="d", system_prompt="p"
            )
        for builtin in ("planner", "writer"):
            with pytest.raises(ConflictError):
                agents_svc.add_agent(
                    session, name=builtin, display_name="X", description="d", system_prompt="p"
                )
            with pytest.raises(ConflictError):
                agents_svc.remove_agent(session, builtin)
        for bad in ("Bad Name", "x", "1abc", "a" * 41, "ab_c", "", "../x"):
            with pytest.raises(UsageError):
                agents_svc.add_agent(session, name=bad, display_name="X", description="d", system_prompt="p")
        with pytest.raises(UsageError):
            agents_svc.add_agent(
                session, name="coach-b", display_name="B", description="d", system_prompt=" "
            )
    with store.read_session() as session:
        assert [s.name for s in agents_svc.list_agents(session)][-1] == "nutritionist"
        assert agents_svc.get_agent(session, "nutritionist").system_prompt == "You plan meals."
    with store.write() as session:
        agents_svc.remove_agent(session, "nutritionist")
        with pytest.raises(NotFoundError):
            agents_svc.remove_agent(session, "nutritionist")
    with store.read_session() as session:
        assert [s.name for s in agents_svc.list_agents(session)] == list(agents_svc.BUILTIN_AGENTS)


# --- dispatch lifecycle ---------------------------------------------------------------------------------


def _dispatch(store: Store, user: User, *, status: str = "proposed", task: str = "Plan a 5k") -> str:
    with store.write() as session:
        return disp_svc.create_dispatch(
            session, user, agent="planner", task=task, proposed_by="coach", status=status
        ).id


def _load(store: Store, dispatch_id: str) -> Dispatch:
    with store.read_session() as session:
        found = session.get(Dispatch, dispatch_id)
        assert found is not None
        return found


def test_approve_and_reject_only_from_proposed(store: Store) -> None:
    """Approval is data: each decision happens once, and a decided dispatch cannot be re-decided."""
    user = _user(store)
    one = _dispatch(store, user)
    assert _load(store, one).conversation_id == _coaching(store, user).id
    with store.write() as session:
        assert disp_svc.approve(session, disp_svc.find_dispatch(session, user, one[:6])).status == "approved"
    with store.write() as session:
        with pytest.raises(ConflictError, match="approved"):
            disp_svc.approve(session, disp_svc.find_dispatch(session, user, one))
        with pytest.raises(ConflictError):
            disp_svc.reject(session, disp_svc.find_dispatch(session, user, one))
    two = _dispatch(store, user)
    with store.write() as session:
        rejected = disp_svc.reject(session, disp_svc.find_dispatch(session, user, two), reason="  not now ")
    assert (rejected.status, rejected.reason) == ("rejected", "not now")
    assert rejected.finished_at is not None
    with store.write() as session, pytest.raises(ConflictError, match="rejected"):
        disp_svc.approve(session, disp_svc.find_dispatch(session, user, two))
    with store.write() as session, pytest.raises(NotFoundError):  # another user's dispatch
        disp_svc.find_dispatch(session, _user(store, "bob"), one)
    with store.write() as session, pytest.raises(UsageError):
        disp_svc.create_dispatch(
            session, user, agent="planner", task="  ", proposed_by="coach", status="proposed"
        )
    assert _load(store, one).status == "approved"


def test_claim_is_won_exactly_once(store: Store) -> None:
    """Two runners must never both run one dispatch: the conditional UPDATE picks one winner."""
    user = _user(store)
    dispatch_id = _dispatch(store, user, status="approved")
    stale = [_load(store, dispatch_id) for _ in range(8)]  # every claimer saw it 'approved'
    barrier = threading.Barrier(len(stale))
    wins: list[bool] = []

    def claimer(copy: Dispatch) -> None:
        barrier.wait(timeout=30)
        with store.write() as session:
            session.add(copy)  # attach the stale copy as it is: no reload of its status
            wins.append(disp_svc.claim(session, copy))

    threads = [threading.Thread(target=claimer, args=(copy,)) for copy in stale]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(wins) == [False] * 7 + [True]
    running = _load(store, dispatch_id)
    assert running.status == "running"
    assert running.attempts == 1
    assert running.runner_pid is not None and running.started_at is not None


def test_succeed_writes_the_task_thread_in_one_transaction(store: Store) -> None:
    """The finished dispatch and its task thread exist together or not at all."""
    user = _user(store)
    task = "Draft a four-week plan to get back into running, three sessions a week, knee-friendly please"
    dispatch_id = _dispatch(store, user, status="approved", task=task)
    completion = Completion(
        content="## Week 1\nWalk-run.", model="openai/m", input_tokens=11, output_tokens=22
    )

    def succeed(session) -> str:
        dispatch = disp_svc.find_dispatch(session, user, dispatch_id)
        return disp_svc.succeed(session, user, dispatch, agent_display_name="Planner", completion=completion)

    with store.write() as session:  # not running yet: refused, and nothing is left behind
        with pytest.raises(ConflictError):
            succeed(session)
        session.rollback()
    with store.read_session() as session:
        assert session.execute(select(Conversation).where(Conversation.type == "task")).first() is None

    with store.write() as session:
        assert disp_svc.claim(session, disp_svc.find_dispatch(session, user, dispatch_id))
    with store.write() as session:  # the caller's rollback undoes the whole success
        succeed(session)
        session.rollback()
    assert _load(store, dispatch_id).status == "running"
    with store.read_session() as session:
        assert session.execute(select(Conversation).where(Conversation.type == "task")).first() is None

    with store.write() as session:
        thread_id = succeed(session)
    coaching = _coaching(store, user)
    with store.read_session() as session:
        thread = session.get(Conversation, thread_id)
        assert thread is not None
        assert (thread.type, thread.mode, thread.parent_id) == ("task", "task", coaching.id)
        assert len(task) > 80
        assert thread.title == f"Planner: {task[:80]}"
        messages = [(m.role, m.content) for m in list_messages(session, thread_id)]
        assert messages == [("user", f"Task: {task}"), ("assistant", "## Week 1\nWalk-run.")]
        done = session.get(Dispatch, dispatch_id)
        assert done is not None
        assert (done.status, done.task_thread_id, done.result) == ("succeeded", thread_id, completion.content)
        assert (done.input_tokens, done.output_tokens) == (11, 22)
        notes = list(session.execute(select(Memory).where(Memory.conversation_id == coaching.id)).scalars())
        assert len(notes) == 1 and thread_id[:8] in notes[0].content
        rows = conv_svc.list_task_threads(session, user, coaching.id)
        assert [(r.id, r.agent) for r in rows] == [(thread_id, "planner")]
    with store.write() as session, pytest.raises(ConflictError):  # a second success is refused
        succeed(session)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_dead_runner_becomes_interrupted_and_retries(store: Store) -> None:
    """A crashed `coach dispatch` must not leave a dispatch 'running' forever; retry revives it."""
    user = _user(store)
    dead = _dispatch(store, user, status="approved")
    alive = _dispatch(store, user, status="approved", task="Another task")
    with store.write() as session:
        for dispatch_id in (dead, alive):
            assert disp_svc.claim(session, disp_svc.find_dispatch(session, user, dispatch_id))
        session.execute(update(Dispatch).where(Dispatch.id == dead).values(runner_pid=_dead_pid()))
    with store.write() as session:
        both = [disp_svc.find_dispatch(session, user, d) for d in (dead, alive)]
        assert disp_svc.mark_interrupted(session, both) == 1
    assert _load(store, dead).status == "interrupted"
    assert _load(store, dead).error
    assert _load(store, alive).status == "running"  # this process is its runner, and alive
    with store.write() as session:
        with pytest.raises(ConflictError):
            disp_svc.retry(session, disp_svc.find_dispatch(session, user, alive))
        retried = disp_svc.retry(session, disp_svc.find_dispatch(session, user, dead))
    assert (retried.status, retried.error, retried.finished_at) == ("approved", None, None)
    with store.write() as session:
        assert disp_svc.claim(session, disp_svc.find_dispatch(session, user, dead))
    assert _load(store, dead).attempts == 2


def test_listing_detects_a_dead_runner(store: Store) -> None:
    """`dispatches list` is where users look: a dead runner shows there as interrupted."""
    user = _user(store)
    dead = _dispatch(store, user, status="approved")
    with store.write() as session:
        assert disp_svc.claim(session, disp_svc.find_dispatch(session, user, dead))
        session.execute(update(Dispatch).where(Dispatch.id == dead).values(runner_pid=_dead_pid()))
    with store.write() as session:
        assert [(d.id, d.status) for d in disp_svc.list_dispatches(session, user)] == [(dead, "interrupted")]
    assert _load(store, dead).status == "interrupted"


def test_failure_records_the_error_and_only_failed_or_interrupted_retry(store: Store) -> None:
    """A failed run keeps its error and no thread; retry is refused from every other state."""
    user = _user(store)
    failing = _dispatch(store, user, status="approved")
    with store.write() as session:
        dispatch = disp_svc.find_dispatch(session, user, failing)
        assert disp_svc.claim(session, dispatch)
        disp_svc.fail(session, dispatch, "rate limited")
    failed = _load(store, failing)
    assert (failed.status, failed.error, failed.task_thread_id) == ("failed", "rate limited", None)
    proposed = _dispatch(store, user)
    with store.write() as session:
        with pytest.raises(ConflictError, match="proposed"):
            disp_svc.retry(session, disp_svc.find_dispatch(session, user, proposed))
        assert disp_svc.retry(session, disp_svc.find_dispatch(session, user, failing)).status == "approved"
        # Approved but never claimed (its process died first) is no dead end: retry takes it again.
        assert disp_svc.retry(session, disp_svc.find_dispatch(session, user, failing)).status == "approved"
    with store.write() as session:
        assert session.execute(select(Conversation).where(Conversation.type == "task")).first() is None
        assert {d.id for d in disp_svc.list_dispatches(session, user)} == {failing, proposed}
        assert [d.id for d in disp_svc.list_dispatches(session, user, status="approved")] == [failing]
        with pytest.raises(UsageError):
            disp_svc.list_dispatches(session, user, status="done")


def test_near_but_different_facts_are_both_kept(store: Store) -> None:
    """A changed word is a different fact: "peanuts" must never overwrite "walnuts" by similarity."""
    user = _user(store)
    with store.write() as session:
        for text in ("Allergic to walnuts", "Allergic to peanuts", "Runs on Sundays", "Runs on Mondays"):
            _fact, created = facts_svc.add_fact(session, user, text)
            assert created, text
    with store.read_session() as session:
        assert len(facts_svc.list_facts(session, user)) == 4
