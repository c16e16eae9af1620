"""The dispatch lifecycle as data: proposed → approved|rejected → running → succeeded|failed|interrupted.

Every transition is one conditional UPDATE, so two processes can never both win it. Failed and
interrupted dispatches go back to approved on retry: no state but succeeded and rejected is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from coachcli.coaching.conversations import create_conversation, get_or_create_coaching
from coachcli.coaching.dispatch import liveness
from coachcli.coaching.ids import by_prefix
from coachcli.coaching.memories import add_note
from coachcli.coaching.messages import append_message, append_reply
from coachcli.coaching.text import require_text
from coachcli.errors import ConflictError, UsageError
from coachcli.llm.types import Completion
from coachcli.redact import redact
from coachcli.store.models import DISPATCH_STATUSES, Dispatch, User
from coachcli.store.types import utcnow

MAX_TASK_LENGTH = 4000
MAX_ERROR_LENGTH = 2000
RETRYABLE = ("failed", "interrupted", "approved")  # approved: left by a process that died before its claim


def clean_task(task: str) -> str:
    return require_text(
        task, what="task", limit=MAX_TASK_LENGTH, empty_hint="say what the specialist should do."
    )


def create_dispatch(
    session: Session,
    user: User,
    *,
    agent: str,
    task: str,
    proposed_by: str,
    status: str,
    tool_call_id: str | None = None,
) -> Dispatch:
    coaching = get_or_create_coaching(session, user)
    dispatch = Dispatch(
        user_id=user.id,
        conversation_id=coaching.id,
        agent=agent,
        task=clean_task(task),
        status=status,
        proposed_by=proposed_by,
        tool_call_id=tool_call_id,
    )
    session.add(dispatch)
    session.flush()
    return dispatch


def find_dispatch(session: Session, user: User, id_or_prefix: str) -> Dispatch:
    return by_prefix(session, Dispatch, id_or_prefix, what="dispatch", where=[Dispatch.user_id == user.id])


def _transition(session: Session, dispatch_id: str, allowed: tuple[str, ...], **values: object) -> bool:
    """Move the dispatch only if it is still in an allowed state; True when this call won."""
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Dispatch)
            .where(col(Dispatch.id) == dispatch_id, col(Dispatch.status).in_(allowed))
            .values(updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        ),
    )
    for obj in list(session.identity_map.values()):  # loaded copies are stale now
        if isinstance(obj, Dispatch) and obj.id == dispatch_id:
            session.expire(obj)
    return bool(result.rowcount)


def refusal(session: Session, dispatch_id: str, action: str) -> ConflictError:
    current = session.get(Dispatch, dispatch_id, populate_existing=True)
    state = current.status if current else "gone"
    return ConflictError(f"cannot {action} dispatch {dispatch_id[:8]}: it is already {state}.")


def approve(session: Session, dispatch: Dispatch, task: str | None = None) -> Dispatch:
    """proposed → approved, with the person's edited task if they changed it."""
    values: dict[str, object] = {"status": "approved"}
    if task is not None and task.strip() != dispatch.task:
        values["task"] = clean_task(task)
    if not _transition(session, dispatch.id, ("proposed",), **values):
        raise refusal(session, dispatch.id, "approve")
    session.refresh(dispatch)
    return dispatch


def reject(session: Session, dispatch: Dispatch, reason: str | None = None) -> Dispatch:
    values = {"status": "rejected", "reason": (reason or "").strip() or None, "finished_at": utcnow()}
    if not _transition(session, dispatch.id, ("proposed",), **values):
        raise refusal(session, dispatch.id, "reject")
    session.refresh(dispatch)
    return dispatch


def retry(session: Session, dispatch: Dispatch) -> Dispatch:
    """A failed or interrupted dispatch goes back to approved, to be run again."""
    mark_interrupted(session, [dispatch])
    values = {"status": "approved", "error": None, "finished_at": None}
    if not _transition(session, dispatch.id, RETRYABLE, **values):
        current = session.get(Dispatch, dispatch.id, populate_existing=True)
        state = current.status if current else "gone"
        raise ConflictError(
            f"cannot retry dispatch {dispatch.id[:8]}: it is {state}; only failed or interrupted ones retry."
        )
    session.refresh(dispatch)
    return dispatch


def claim(session: Session, dispatch: Dispatch) -> bool:
    """approved → running, recording this process as the runner. Exactly one claimer wins."""
    host, pid, start = liveness.identity()
    now = utcnow()
    won = _transition(
        session,
        dispatch.id,
        ("approved",),
        status="running",
        runner_host=host,
        runner_pid=pid,
        runner_start=start,
        heartbeat_at=now,
        started_at=now,
        attempts=dispatch.attempts + 1,
    )
    if won:
        session.refresh(dispatch)
    return won


def succeed(
    session: Session,
    user: User,
    dispatch: Dispatch,
    *,
    agent_display_name: str,
    completion: Completion,
    usage: Completion | None = None,
) -> str:
    """In the caller's ONE transaction: mark succeeded and write the whole task thread."""
    thread = create_conversation(
        session,
        user,
        type="task",
        parent_id=dispatch.conversation_id,
        mode="task",
        title=f"{agent_display_name}: {dispatch.task.partition(chr(10))[0][:80]}",  # the task's first line
    )
    append_message(session, thread.id, "user", f"Task: {dispatch.task}")
    append_reply(session, thread.id, completion)
    totals = usage or completion
    done = _transition(
        session,
        dispatch.id,
        ("running", "interrupted"),
        status="succeeded",
        result=completion.content,
        error=None,
        task_thread_id=thread.id,
        model=completion.model,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        cost_usd=totals.cost_usd,
        finished_at=utcnow(),
    )
    if not done:
        raise refusal(session, dispatch.id, "complete")
    summary = " ".join(completion.content.split())[:300]
    add_note(
        session,
        user,
        dispatch.conversation_id,
        f"Finished task thread {thread.id[:8]} ({agent_display_name}): {dispatch.task[:120]}. "
        f"Outcome: {summary}",
    )
    return thread.id


def assign(session: Session, dispatch: Dispatch, agent: str) -> None:
    """The specialist chosen for a running dispatch (an operator's task picked by the model)."""
    if not _transition(session, dispatch.id, ("running",), agent=agent):
        raise refusal(session, dispatch.id, "assign")
    session.refresh(dispatch)


def fail(session: Session, dispatch: Dispatch, error: str) -> None:
    """running (or approved) → failed, keeping the error; retry runs it again."""
    values = {"status": "failed", "error": _stored_error(error), "finished_at": utcnow()}
    _transition(session, dispatch.id, ("running", "approved"), **values)


def interrupt(session: Session, dispatch: Dispatch, error: str) -> None:
    """The person stopped the run (Ctrl-C): it can be retried."""
    values = {"status": "interrupted", "error": _stored_error(error), "finished_at": utcnow()}
    _transition(session, dispatch.id, ("running",), **values)


def _stored_error(error: str) -> str:
    """Errors are shown by `dispatches list` to anyone sharing the store: no credentials in them."""
    return redact(error)[:MAX_ERROR_LENGTH]


def mark_interrupted(session: Session, dispatches: list[Dispatch]) -> int:
    """Running dispatches whose runner died become interrupted (process check, else heartbeat)."""
    count = 0
    for dispatch in dispatches:
        if dispatch.status != "running":
            continue
        alive = liveness.runner_alive(
            dispatch.runner_host, dispatch.runner_pid, dispatch.runner_start, dispatch.heartbeat_at
        )
        if alive:
            continue
        won = _transition(
            session,
            dispatch.id,
            ("running",),
            status="interrupted",
            error="the process running it stopped before it finished",
            finished_at=utcnow(),
        )
        if won:
            session.refresh(dispatch)
            count += 1
    return count


def list_dispatches(session: Session, user: User, *, status: str | None = None) -> list[Dispatch]:
    """Newest first; dead runners are detected and shown as interrupted."""
    if status is not None and status not in DISPATCH_STATUSES:
        raise UsageError(f"unknown status {status!r}: use one of {', '.join(DISPATCH_STATUSES)}.")
    running = list(
        session.exec(select(Dispatch).where(Dispatch.user_id == user.id, Dispatch.status == "running"))
    )
    mark_interrupted(session, running)
    query = select(Dispatch).where(Dispatch.user_id == user.id)
    if status is not None:
        query = query.where(Dispatch.status == status)
    return list(session.exec(query.order_by(col(Dispatch.created_at).desc(), col(Dispatch.id))))


@dataclass
class DispatchOutcome:
    """A dispatch as a run leaves it: succeeded with its task thread, or failed with its error."""

    dispatch_id: str
    status: str
    agent: str
    task: str
    task_thread_id: str | None
    result: str | None
    error: str | None = None

    @classmethod
    def of(cls, dispatch: Dispatch) -> DispatchOutcome:
        return cls(
            dispatch_id=dispatch.id,
            status=dispatch.status,
            agent=dispatch.agent,
            task=dispatch.task,
            task_thread_id=dispatch.task_thread_id,
            result=dispatch.result,
            error=dispatch.error,
        )
