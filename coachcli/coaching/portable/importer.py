"""The second pass: write a checked file into one user's store, in the caller's one transaction.

Rules (DESIGN.md): a record already there is skipped (by id when the id is the user's own, else
by content and time; by content alone when the file gives no time), so importing twice adds
nothing. An id that belongs to someone else is never reused: the record gets a fresh id and every
reference to it follows (parent_id, task_thread_id, goal_id, superseded_by). Coaching messages
merge into the user's one coaching conversation in time order. Messages are streamed from the
file again and inserted in batches, never held all at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from coachcli.coaching.portable import reader, validation
from coachcli.coaching.portable.matching import Matcher, digest
from coachcli.coaching.portable.plan import NOTHING, ImportFileError, Item, Plan, Row
from coachcli.coaching.portable.tables import (
    AGENTS,
    CONVERSATIONS,
    DISPATCHES,
    FACTS,
    GOALS,
    MEMORIES,
    PROGRESS,
    table,
)
from coachcli.coaching.portable.threads import Thread, last_message_by, message_at, position_of
from coachcli.store.models import (
    Agent,
    Conversation,
    Dispatch,
    Goal,
    Memory,
    Progress,
    User,
    UserFact,
)
from coachcli.store.types import new_id, utcnow


@dataclass
class ImportCounts:
    """What was added, by kind, and how many records were already there."""

    facts: int = 0
    conversations: int = 0
    messages: int = 0
    memories: int = 0
    dispatches: int = 0
    goals: int = 0
    progress: int = 0
    agents: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def import_plan(session: Session, user: User, plan: Plan, source: IO[bytes]) -> ImportCounts:
    """Write everything in `plan` (and the messages read again from `source`) for `user`."""
    return _Importer(session, user, plan).run(source)


class _Importer:
    def __init__(self, session: Session, user: User, plan: Plan) -> None:
        self.session = session
        self.user = user
        self.plan = plan
        self.counts = ImportCounts()
        self.now = utcnow()
        self.conversation_ids: dict[int, str] = {}  # file index -> stored conversation id
        self.file_conversations: dict[str, str] = {}  # file id -> stored id
        self.threads: dict[str, Thread] = {}
        self.created: set[str] = set()  # conversations this import created
        self.coaching_id: str | None = None
        self.summaries: list[tuple[str, Row, int, int]] = []  # (conversation, row, file index, covers)
        self.covered: dict[tuple[int, int], int | None] = {}  # (conversation, n) -> message id

    def run(self, source: IO[bytes]) -> ImportCounts:
        self._check_references()
        self._agents()
        self._conversations()
        self._facts()
        self._goals()
        self._memories()
        self._dispatches()
        self._messages(source)
        self._finish()
        return self.counts

    # -- references that leave the file must land on the user's own rows ---------------------

    def _check_references(self) -> None:
        plan = self.plan
        in_file = {i.row["id"] for i in plan.conversations.values() if i.row["id"]}
        wanted = [(item.path, "parent_id", item.row["parent_id"]) for item in plan.conversations.values()] + [
            (item.path, "task_thread_id", item.row["task_thread_id"]) for item in plan.dispatches
        ]
        outside = {ref for _, _, ref in wanted if ref and ref not in in_file}
        mine = self._own_ids(Conversation, outside)
        problems = validation.Problems()
        for path, key, ref in wanted:
            if ref and ref not in in_file and ref not in mine:
                problems.add(path, f"{key} {ref} is not a conversation in this file or one of yours")
        facts_in_file = {i.row["id"] for i in plan.facts if i.row["id"]}
        outside = {i.row["superseded_by"] for i in plan.facts} - facts_in_file - {None}
        mine = self._own_ids(UserFact, outside)
        for item in plan.facts:
            ref = item.row["superseded_by"]
            if ref and ref not in facts_in_file and ref not in mine:
                problems.add(item.path, f"superseded_by {ref} is not a fact in this file or one of yours")
        if problems:
            raise ImportFileError(f"{problems.summary()}; {NOTHING}")

    def _own_ids(self, model: Any, ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        wanted = list(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(model.id).where(model.id.in_(chunk), model.user_id == self.user.id)
            found.update(self.session.execute(query).scalars())
        return found

    def _free(self, model: Any, ident: str | None) -> str:
        """The file's id when nobody uses it, else a fresh one."""
        if ident is None:
            return new_id()
        taken = self.session.execute(select(model.id).where(model.id == ident)).first()
        return new_id() if taken is not None else ident

    # -- small records ---------------------------------------------------------------------

    def _agents(self) -> None:
        from coachcli.coaching.agents import BUILTIN_AGENTS

        for item in self.plan.agents:
            row = item.row
            if row["name"] in BUILTIN_AGENTS or self.session.get(Agent, row["name"]) is not None:
                self.counts.skipped += 1  # agents are shared: an existing one is never replaced
                continue
            self.session.execute(
                insert(AGENTS).values(**{**row, "created_at": row["created_at"] or self.now})
            )
            self.counts.agents += 1

    def _coaching(self) -> str:
        """The user's coaching conversation, created (with the file's id when free) if none."""
        if self.coaching_id is not None:
            return self.coaching_id
        from coachcli.coaching.conversations import find_coaching

        existing = find_coaching(self.session, self.user)
        if existing is not None:
            self.coaching_id = existing.id
            return existing.id
        first = next((i.row for i in self.plan.conversations.values() if i.row["type"] == "coaching"), None)
        row = first or {"id": None, "title": None, "mode": "auto", "created_at": None, "updated_at": None}
        try:
            with self.session.begin_nested():
                self.coaching_id = self._insert_conversation(row, "coaching", None)
        except IntegrityError:  # another process created it meanwhile
            existing = find_coaching(self.session, self.user)
            assert existing is not None
            self.coaching_id = existing.id
        return self.coaching_id

    def _insert_conversation(self, row: Row, kind: str, parent_id: str | None) -> str:
        ident = self._free(Conversation, row["id"])
        self.session.execute(
            insert(CONVERSATIONS).values(
                id=ident,
                user_id=self.user.id,
                type=kind,
                parent_id=parent_id,
                mode=row["mode"],
                title=row["title"],
                **self._times(row),
            )
        )
        self.created.add(ident)
        self.counts.conversations += 1
        return ident

    def _conversations(self) -> None:
        plan = self.plan
        needs_coaching = bool(plan.dispatches) or any(
            i.row["type"] == "coaching" or i.row["parent_id"] is None for i in plan.conversations.values()
        )
        if needs_coaching:
            coaching = self._coaching()
            fresh = coaching in self.created  # made from the file's first coaching conversation
            for index, item in plan.conversations.items():
                if item.row["type"] == "coaching":
                    self._map(index, item, coaching)
                    if not fresh:
                        self.counts.skipped += 1  # merged into the one that was there
                    fresh = False
        threads = Matcher()
        query = select(CONVERSATIONS.c.id, CONVERSATIONS.c.title, CONVERSATIONS.c.created_at).where(
            CONVERSATIONS.c.user_id == self.user.id, CONVERSATIONS.c.type == "task"
        )
        for ident, title, created_at in self.session.execute(query):
            threads.add(ident, (title,), created_at)
        for index, item in plan.conversations.items():
            row = item.row
            if row["type"] != "task":
                continue
            found = threads.take(row["id"], (row["title"],), row["created_at"])
            if found is not None:
                self.counts.skipped += 1
                self._map(index, item, str(found))
                continue
            parent = row["parent_id"]
            parent_id = self.file_conversations.get(parent, parent) if parent else self._coaching()
            self._map(index, item, self._insert_conversation(row, "task", parent_id))

    def _map(self, index: int, item: Item, stored: str) -> None:
        self.conversation_ids[index] = stored
        if item.row["id"]:
            self.file_conversations[item.row["id"]] = stored

    def _conversation_ref(self, ref: str | None) -> str | None:
        return self.file_conversations.get(ref, ref) if ref else None

    def _facts(self) -> None:
        from coachcli.coaching.facts import normalize

        known = Matcher()
        query = select(FACTS.c.id, FACTS.c.normalized, FACTS.c.superseded_at, FACTS.c.created_at)
        for ident, normalized, superseded_at, created_at in self.session.execute(
            query.where(FACTS.c.user_id == self.user.id)
        ):
            current = superseded_at is None
            known.add(ident, (normalized, current), None if current else created_at)
        stored: dict[str, str] = {}
        links: list[tuple[str, str]] = []
        for item in self.plan.facts:
            row = item.row
            normalized = normalize(row["text"])
            current = row["superseded_at"] is None
            at = None if current else row["created_at"]
            found = known.take(row["id"], (normalized, current), at)
            if found is not None:
                self.counts.skipped += 1
                ident = str(found)
            else:
                ident = self._free(UserFact, row["id"])
                self.session.execute(
                    insert(FACTS).values(
                        id=ident,
                        user_id=self.user.id,
                        text=row["text"],
                        normalized=normalized,
                        source=row["source"],
                        superseded_at=row["superseded_at"],
                        **self._times(row),
                    )
                )
                known.add(ident, (normalized, current), at)  # a later restatement in the file is this one
                self.counts.facts += 1
                if row["superseded_by"]:
                    links.append((ident, row["superseded_by"]))
            if row["id"]:
                stored[row["id"]] = ident
        for ident, successor in links:
            target = stored.get(successor, successor)
            self.session.execute(update(FACTS).where(FACTS.c.id == ident).values(superseded_by=target))

    def _goals(self) -> None:
        from coachcli.coaching.goals import active_with_title

        goals = self._matcher(Goal, lambda r: ((r.title,), r.created_at))
        notes = self._matcher(Progress, lambda r: ((r.goal_id, r.text), r.created_at))
        for index, item in enumerate(self.plan.goals):
            row = item.row
            found = goals.take(row["id"], (row["title"],), row["created_at"])
            if found is None and row["status"] == "active":  # one active goal per title (goals.py)
                same = active_with_title(self.session, self.user, row["title"])
                found = same.id if same is not None else None
            if found is not None:
                self.counts.skipped += 1
                goal_id = str(found)
            else:
                goal_id = self._free(Goal, row["id"])
                values = {**row, "id": goal_id, "user_id": self.user.id, **self._times(row)}
                self.session.execute(insert(GOALS).values(**values))
                self.counts.goals += 1
            self._progress(notes, self.plan.goal_progress.get(index, []), goal_id)
        self._progress(notes, self.plan.progress, None)

    def _progress(self, notes: Matcher, items: list[Item], goal_id: str | None) -> None:
        for item in items:
            row = item.row
            if notes.take(row["id"], (goal_id, row["text"]), row["created_at"]) is not None:
                self.counts.skipped += 1
                continue
            values = {**row, "id": self._free(Progress, row["id"]), "user_id": self.user.id}
            values.update(goal_id=goal_id, created_at=row["created_at"] or self.now)
            self.session.execute(insert(PROGRESS).values(**values))
            self.counts.progress += 1

    def _times(self, row: Row) -> dict[str, datetime]:
        """A row's created_at and updated_at as stored: a missing creation time is the import's,
        a missing update time the creation time."""
        created = row["created_at"] or self.now
        return {"created_at": created, "updated_at": row["updated_at"] or created}

    def _matcher(self, model: Any, key: Any) -> Matcher:
        """The user's stored rows of one kind, keyed for matching."""
        matcher = Matcher()
        for row in self.session.execute(select(table(model)).where(table(model).c.user_id == self.user.id)):
            content, at = key(row)
            matcher.add(row.id, content, at)
        return matcher

    def _memories(self) -> None:
        notes = self._matcher(
            Memory, lambda r: ((r.conversation_id, r.kind, digest(r.content)), r.created_at)
        )
        with_summary = set(
            self.session.execute(
                select(MEMORIES.c.conversation_id).where(
                    MEMORIES.c.user_id == self.user.id, MEMORIES.c.kind == "summary"
                )
            ).scalars()
        )
        for index, items in self.plan.memories.items():
            conversation = self.conversation_ids[index]
            for item in items:
                row = item.row
                key = (conversation, row["kind"], digest(row["content"]))
                if notes.take(row["id"], key, row["created_at"]) is not None:
                    self.counts.skipped += 1
                elif row["kind"] == "summary" and conversation in with_summary:
                    self.counts.skipped += 1  # one running summary per conversation: keep the one there
                elif row["kind"] == "summary":
                    with_summary.add(conversation)
                    covers = min(row["covers_through"] or 0, self.plan.message_counts.get(index, 0))
                    self.summaries.append((conversation, row, index, covers))
                    if covers:
                        self.covered[(index, covers)] = None
                else:
                    self._insert_memory(conversation, row, None)

    def _insert_memory(self, conversation: str, row: Row, covers_through: int | None) -> None:
        self.session.execute(
            insert(MEMORIES).values(
                id=self._free(Memory, row["id"]),
                user_id=self.user.id,
                conversation_id=conversation,
                kind=row["kind"],
                content=row["content"],
                covers_through=covers_through,
                **self._times(row),
            )
        )
        self.counts.memories += 1

    def _dispatches(self) -> None:
        if not self.plan.dispatches:
            return
        known = self._matcher(Dispatch, lambda r: ((r.agent, r.task), r.created_at))
        coaching = self._coaching()
        for item in self.plan.dispatches:
            row = item.row
            if known.take(row["id"], (row["agent"], row["task"]), row["created_at"]) is not None:
                self.counts.skipped += 1
                continue
            values = {**row, "id": self._free(Dispatch, row["id"]), "user_id": self.user.id}
            values.update(
                conversation_id=coaching,
                task_thread_id=self._conversation_ref(row["task_thread_id"]),
                **self._times(row),
            )
            if row["status"] == "running":  # nothing runs it in this store
                values.update(status="interrupted", error=row["error"] or "imported while it was running")
            self.session.execute(insert(DISPATCHES).values(**values))
            self.counts.dispatches += 1

    # -- messages: streamed again from the file, inserted in batches -----------------------

    def _messages(self, source: IO[bytes]) -> None:
        """Messages come in file order, conversation after conversation: the counts of the first
        pass say which conversation each belongs to."""
        if not self.plan.message_total:
            return
        problems = validation.Problems()
        stream = reader.messages(source)
        for index, count in sorted(self.plan.message_counts.items()):
            for number in range(1, count + 1):
                value = next(stream, None)
                path = f"conversations[{index}].messages[{number - 1}]"
                row = validation.message(value, path, problems) if value is not None else None
                if row is None:
                    raise ImportFileError(f"{path}: the file changed while it was being imported; {NOTHING}")
                self._message(index, number, row)
        if next(stream, None) is not None:
            raise ImportFileError(f"the file changed while it was being imported; {NOTHING}")
        for thread in self.threads.values():
            self.counts.messages += thread.flush(self.session)

    def _thread(self, conversation: str) -> Thread:
        if conversation not in self.threads:
            plan = self.plan
            self.threads[conversation] = Thread.open(
                self.session, conversation, ids=plan.messages_with_ids, timeless=plan.messages_without_time
            )
        return self.threads[conversation]

    def _message(self, index: int, number: int, row: Row) -> None:
        thread = self._thread(self.conversation_ids[index])
        summary_end = (index, number) in self.covered
        if thread.holds(row):
            self.counts.skipped += 1
            if summary_end and row["created_at"] is not None:
                self.covered[(index, number)] = last_message_by(self.session, thread.id, row["created_at"])
            return
        position = thread.add(row, index, row["created_at"] or self.now)
        if thread.full:
            self.counts.messages += thread.flush(self.session)
        if summary_end:
            self.counts.messages += thread.flush(self.session)  # to find its id below
            self.covered[(index, number)] = message_at(self.session, thread.id, position)

    # -- order, summaries, times --------------------------------------------------------------

    def _finish(self) -> None:
        for thread in self.threads.values():
            thread.put_in_time_order(self.session)
        for conversation, row, index, covers in self.summaries:
            end = position_of(self.session, self.covered.get((index, covers))) if covers else 0
            self._insert_memory(conversation, row, end)
        for thread in self.threads.values():
            self._touch(thread)

    def _touch(self, thread: Thread) -> None:
        """A conversation's times cover its messages: created no later than the first, updated at the last."""
        if thread.latest is None or thread.earliest is None:
            return
        conversation = self.session.get(Conversation, thread.id)
        assert conversation is not None
        if conversation.updated_at < thread.latest:
            conversation.updated_at = thread.latest
        file_times = any(
            self.conversation_ids.get(i) == thread.id and item.row["created_at"]
            for i, item in self.plan.conversations.items()
        )
        if thread.id in self.created and not file_times and thread.earliest < conversation.created_at:
            conversation.created_at = thread.earliest
        self.session.add(conversation)
        self.session.flush()
