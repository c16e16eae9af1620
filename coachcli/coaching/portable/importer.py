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
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from coachcli.coaching.portable import reader, validation
from coachcli.coaching.portable.matching import Matcher, MessageIndex, digest
from coachcli.coaching.portable.plan import ImportFileError, Item, Plan, Row
from coachcli.coaching.portable.tables import (
    AGENTS,
    CONVERSATIONS,
    DISPATCHES,
    FACTS,
    GOALS,
    MEMORIES,
    MESSAGES,
    PROGRESS,
    table,
)
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

BATCH = 1000  # messages per INSERT: big enough to be fast, small enough to stay light


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


@dataclass
class _Thread:
    """One conversation receiving messages: where the next one goes and what is there already."""

    id: str
    existed: bool
    next_position: int = 1
    last_time: datetime | None = None
    last_source: int | None = None  # the file conversation that appended last; None: stored rows
    needs_order: bool = False
    stored: MessageIndex | None = None  # set when the conversation had messages before
    earliest: datetime | None = None
    latest: datetime | None = None
    batch: list[Row] = field(default_factory=list)


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
        self.threads: dict[str, _Thread] = {}
        self.created: set[str] = set()  # conversations this import created
        self.coaching_id: str | None = None
        self.summaries: list[tuple[str, Row, int, int]] = []  # (conversation, row, file index, covers)
        self.covered: dict[tuple[int, int], tuple[str, Any]] = {}  # (conversation, n) -> where it is

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
            raise ImportFileError(f"{problems.summary()}; nothing was imported.")

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
                created_at=row["created_at"] or self.now,
                updated_at=row["updated_at"] or row["created_at"] or self.now,
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
                created = row["created_at"] or self.now
                self.session.execute(
                    insert(FACTS).values(
                        id=ident,
                        user_id=self.user.id,
                        text=row["text"],
                        normalized=normalized,
                        source=row["source"],
                        created_at=created,
                        updated_at=row["updated_at"] or created,
                        superseded_at=row["superseded_at"],
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
                created = row["created_at"] or self.now
                values = {**row, "id": goal_id, "user_id": self.user.id, "created_at": created}
                values["updated_at"] = row["updated_at"] or created
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
                        self.covered[(index, covers)] = ("", None)
                else:
                    self._insert_memory(conversation, row, None)

    def _insert_memory(self, conversation: str, row: Row, covers_through: int | None) -> None:
        created = row["created_at"] or self.now
        self.session.execute(
            insert(MEMORIES).values(
                id=self._free(Memory, row["id"]),
                user_id=self.user.id,
                conversation_id=conversation,
                kind=row["kind"],
                content=row["content"],
                covers_through=covers_through,
                created_at=created,
                updated_at=row["updated_at"] or created,
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
            created = row["created_at"] or self.now
            values = {**row, "id": self._free(Dispatch, row["id"]), "user_id": self.user.id}
            values.update(
                conversation_id=coaching,
                task_thread_id=self._conversation_ref(row["task_thread_id"]),
                created_at=created,
                updated_at=row["updated_at"] or created,
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
                    raise ImportFileError(
                        f"{path}: the file changed while it was being imported; nothing was imported."
                    )
                self._message(index, number, row)
        if next(stream, None) is not None:
            raise ImportFileError("the file changed while it was being imported; nothing was imported.")
        for thread in self.threads.values():
            self._flush(thread)

    def _thread(self, conversation: str) -> _Thread:
        thread = self.threads.get(conversation)
        if thread is not None:
            return thread
        from coachcli.coaching.messages import lock_conversation

        lock_conversation(self.session, conversation)
        last = self.session.execute(
            select(MESSAGES.c.position, MESSAGES.c.created_at)
            .where(MESSAGES.c.conversation_id == conversation)
            .order_by(MESSAGES.c.position.desc())
            .limit(1)
        ).first()
        thread = _Thread(conversation, existed=last is not None)
        if last is not None:
            thread.next_position = last.position + 1
            thread.last_time = last.created_at
            thread.stored = self._stored_messages(conversation)
        self.threads[conversation] = thread
        return thread

    def _stored_messages(self, conversation: str) -> MessageIndex:
        index = MessageIndex(ids=self.plan.messages_with_ids, timeless=self.plan.messages_without_time)
        query = (
            select(MESSAGES.c.id, MESSAGES.c.role, MESSAGES.c.content, MESSAGES.c.created_at)
            .where(MESSAGES.c.conversation_id == conversation)
            .execution_options(yield_per=BATCH)
        )
        for ident, role, content, created_at in self.session.execute(query):
            index.add(ident, role, content, created_at)
        return index

    def _message(self, index: int, number: int, row: Row) -> None:
        thread = self._thread(self.conversation_ids[index])
        at = row["created_at"]
        if thread.stored is not None:
            ident = int(row["id"]) if row["id"] and row["id"].isdigit() else None
            if thread.stored.take(ident, row["role"], row["content"], at):
                self.counts.skipped += 1
                if (index, number) in self.covered:
                    self.covered[(index, number)] = ("time", (thread.id, at))
                return
        at = at or self.now
        if thread.last_time is not None and at < thread.last_time and thread.last_source != index:
            thread.needs_order = True  # interleaves with what is there: renumber by time at the end
        thread.last_time, thread.last_source = at, index
        thread.earliest = min(thread.earliest or at, at)
        thread.latest = max(thread.latest or at, at)
        if (index, number) in self.covered:
            self.covered[(index, number)] = ("position", (thread.id, thread.next_position))
        values = {k: v for k, v in row.items() if k != "id"}
        values.update(conversation_id=thread.id, position=thread.next_position, created_at=at)
        thread.next_position += 1
        thread.batch.append(values)
        if len(thread.batch) >= BATCH:
            self._flush(thread)

    def _flush(self, thread: _Thread) -> None:
        """Insert the batch: rows without tool calls leave the column out, so it is SQL NULL as
        append_message leaves it (a JSON column would store an explicit None as JSON 'null')."""
        plain = [
            {k: v for k, v in row.items() if k != "tool_calls"}
            for row in thread.batch
            if not row["tool_calls"]
        ]
        calls = [row for row in thread.batch if row["tool_calls"]]
        for rows in (plain, calls):
            if rows:
                self.session.execute(insert(MESSAGES), rows)
        self.counts.messages += len(thread.batch)
        thread.batch = []

    # -- order, summaries, times --------------------------------------------------------------

    def _finish(self) -> None:
        where: dict[tuple[int, int], int | None] = {}
        for key, (how, value) in self.covered.items():  # message ids, before positions change
            if how == "time":  # a message that was already there: the last one stored by then
                conversation, at = value
                where[key] = (
                    self.session.execute(
                        select(MESSAGES.c.id)
                        .where(MESSAGES.c.conversation_id == conversation, MESSAGES.c.created_at <= at)
                        .order_by(MESSAGES.c.created_at.desc(), MESSAGES.c.position.desc())
                        .limit(1)
                    ).scalar()
                    if at is not None
                    else None
                )
            elif how == "position":
                conversation, position = value
                where[key] = self.session.execute(
                    select(MESSAGES.c.id).where(
                        MESSAGES.c.conversation_id == conversation, MESSAGES.c.position == position
                    )
                ).scalar()
        stored_summaries = self._summary_anchors()
        for thread in self.threads.values():
            if thread.needs_order:
                _renumber(self.session, thread.id)
        self._restore_summaries(stored_summaries)
        for conversation, row, index, covers in self.summaries:
            self._insert_memory(
                conversation, row, self._position(where.get((index, covers))) if covers else 0
            )
        for thread in self.threads.values():
            self._touch(thread)

    def _summary_anchors(self) -> dict[str, int | None]:
        """For stored summaries of conversations about to be renumbered: the message they end at."""
        anchors: dict[str, int | None] = {}
        for thread in self.threads.values():
            if not thread.needs_order:
                continue
            covers = self.session.execute(
                select(MEMORIES.c.covers_through).where(
                    MEMORIES.c.conversation_id == thread.id, MEMORIES.c.kind == "summary"
                )
            ).scalar()
            if covers:
                anchors[thread.id] = self.session.execute(
                    select(MESSAGES.c.id).where(
                        MESSAGES.c.conversation_id == thread.id, MESSAGES.c.position == covers
                    )
                ).scalar()
        return anchors

    def _restore_summaries(self, anchors: dict[str, int | None]) -> None:
        for conversation, message_id in anchors.items():
            self.session.execute(
                update(MEMORIES)
                .where(MEMORIES.c.conversation_id == conversation, MEMORIES.c.kind == "summary")
                .values(covers_through=self._position(message_id))
            )

    def _position(self, message_id: int | None) -> int | None:
        if message_id is None:
            return None
        return self.session.execute(select(MESSAGES.c.position).where(MESSAGES.c.id == message_id)).scalar()

    def _touch(self, thread: _Thread) -> None:
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


def _renumber(session: Session, conversation: str) -> None:
    """Positions 1..n in time order (ties keep their order), without ever breaking uniqueness."""
    offset = session.execute(
        select(func.max(MESSAGES.c.position) + 1).where(MESSAGES.c.conversation_id == conversation)
    ).scalar()
    params = {"conversation": conversation, "offset": offset}
    session.execute(
        text(
            "UPDATE messages SET position = ranked.n + :offset FROM ("
            " SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, position) AS n"
            " FROM messages WHERE conversation_id = :conversation) AS ranked"
            " WHERE messages.id = ranked.id"
        ),
        params,
    )
    session.execute(
        text("UPDATE messages SET position = position - :offset WHERE conversation_id = :conversation"),
        params,
    )
