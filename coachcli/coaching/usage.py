"""The usage ledger: one row per model call (what it cost, never what it said), summed for
`coach usage` and the monthly budget.

Every place that calls a model records its call with `record_call`, in the transaction that saves
the call's result, so a result is never stored without its cost (nor a cost twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Date, bindparam, text
from sqlalchemy.engine import CursorResult
from sqlmodel import Session

from coachcli.store.types import UTCDateTime

if TYPE_CHECKING:
    from coachcli.llm.types import Completion

GROUPINGS = ("day", "week", "model", "agent", "kind")
BUDGET_WARN_SHARE = 0.8
REVIEW_AGENT = "reviewer"  # coaching/review.py's REVIEWER; named here so dispatch runs need not import it


def dispatch_kind(agent: str) -> str:
    """A dispatch to the built-in reviewer is a review; every other one a dispatch."""
    return "review" if agent == REVIEW_AGENT else "dispatch"


def record_call(
    session: Session,
    user_id: str,
    kind: str,
    completion: Completion,
    *,
    conversation_id: str | None = None,
    dispatch_id: str | None = None,
    agent: str | None = None,
) -> None:
    """Add one call to the caller's transaction. Unknown token counts are 0; an unknown price
    stays unknown (None), so a total is never shown as cheaper than it was."""
    from coachcli.store.models import ModelCall

    session.add(
        ModelCall(
            user_id=user_id,
            kind=kind,
            model=completion.model or "unknown",
            agent=agent,
            conversation_id=conversation_id,
            dispatch_id=dispatch_id,
            input_tokens=completion.input_tokens or 0,
            output_tokens=completion.output_tokens or 0,
            cost_usd=completion.cost_usd,
        )
    )


@dataclass
class UsageRow:
    key: str | None
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when the price of any call in the group is unknown

    def plus(self, other: UsageRow) -> UsageRow:
        cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return UsageRow(
            self.key,
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            cost,
        )


# Raw SQL, not the table models: importing those costs `coach usage` a tenth of a second, as much
# as the query itself (coach tasks list and goals list read the same way). Keys are whitelisted.
_DAY = {
    "sqlite": "substr(m.created_at, 1, 10)",  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff', UTC
    "postgresql": "to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}
_COLUMN = {"model": "m.model", "agent": "m.agent", "kind": "m.kind"}
_USERS_CALLS = "FROM model_calls m JOIN users u ON u.id = m.user_id WHERE u.handle = :handle"
_REPORT = f"""
SELECT {{key}} AS grp, count(*), coalesce(sum(m.input_tokens), 0), coalesce(sum(m.output_tokens), 0),
       sum(m.cost_usd), count(*) - count(m.cost_usd)
{_USERS_CALLS}{{bounds}}
GROUP BY 1
ORDER BY CASE WHEN {{key}} IS NULL THEN 0 ELSE 1 END, 1
"""


def _key(session: Session, by: str) -> str:
    if by in ("day", "week"):
        return _DAY.get(session.get_bind().dialect.name, _DAY["postgresql"])
    return _COLUMN[by]


def _bounds(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    sql, params = "", []
    if since is not None:
        sql += " AND m.created_at >= :since"
        params.append(bindparam("since", since, type_=UTCDateTime()))
    if until is not None:
        sql += " AND m.created_at < :until"
        params.append(bindparam("until", until, type_=UTCDateTime()))
    return sql, params


def iso_week(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def usage_report(
    session: Session,
    handle: str,
    *,
    by: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[UsageRow]:
    """The user's calls in [since, until), one grouped query, by key (calls without an agent
    first); weeks are folded from days here, the same on every database."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}")
    bounds, params = _bounds(since, until)
    query = text(_REPORT.format(key=_key(session, by), bounds=bounds)).bindparams(*params)
    rows: list[UsageRow] = []
    for k, requests, tokens_in, tokens_out, cost, unpriced in session.execute(query, {"handle": handle}):
        price = None if unpriced else float(cost or 0)
        rows.append(UsageRow(k, int(requests), int(tokens_in), int(tokens_out), price))
    if by == "week":
        weeks: dict[str, list[UsageRow]] = {}
        for row in rows:
            weeks.setdefault(iso_week(str(row.key)), []).append(row)
        rows = [total(days, key=week) for week, days in weeks.items()]
    return rows


def total(rows: Iterable[UsageRow], *, key: str = "total") -> UsageRow:
    """The sum of `rows` under `key` (its cost unknown if any row's is)."""
    result = UsageRow(key, 0, 0, 0, 0.0)
    for row in rows:
        result = result.plus(row)
    return result


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass
class MonthSpend:
    cost_usd: float  # what is known
    unpriced: int  # calls whose price is unknown (not in cost_usd)
    budget_usd: float

    @property
    def share(self) -> float:
        return self.cost_usd / self.budget_usd


def month_spend(session: Session, handle: str, budget_usd: float, *, now: datetime) -> MonthSpend:
    """This UTC month's known cost against the budget: one indexed sum."""
    bounds, params = _bounds(month_start(now), None)
    query = text(
        f"SELECT coalesce(sum(m.cost_usd), 0), count(*) - count(m.cost_usd) {_USERS_CALLS}{bounds}"
    ).bindparams(*params)
    cost, unpriced = session.execute(query, {"handle": handle}).one()
    return MonthSpend(float(cost), int(unpriced), budget_usd)


def budget_warning(session: Session, handle: str, budget_usd: float, *, now: datetime) -> MonthSpend | None:
    """The month's spend when it passed 80% of the budget and nobody was warned today; marks the
    day in the same transaction (one conditional UPDATE: racing processes warn once). The caller
    commits."""
    spend = month_spend(session, handle, budget_usd, now=now)
    if spend.cost_usd < BUDGET_WARN_SHARE * budget_usd:
        return None
    today = now.astimezone(UTC).date()
    marked = session.execute(
        text(
            "UPDATE users SET budget_warned_on = :today WHERE handle = :handle "
            "AND (budget_warned_on IS NULL OR budget_warned_on <> :today)"
        ).bindparams(bindparam("today", today, type_=Date())),
        {"handle": handle},
    )
    return spend if cast(CursorResult[Any], marked).rowcount else None


def parse_day_or_span(text: str, *, now: datetime, end: bool = False) -> datetime:
    """`YYYY-MM-DD` (a UTC day; as an end, the whole day is included, up to 9999-12-31) or a span
    back from now (`7d`, `4w`). Raises UsageError (exit 2) for anything else."""
    import re

    from coachcli.config import parse_duration
    from coachcli.errors import UsageError

    cleaned = text.strip()
    bad = UsageError(f"{cleaned!r} is not a date: use YYYY-MM-DD (e.g. 2026-11-01) or a span like 7d or 4w.")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        try:
            day = date.fromisoformat(cleaned)
        except ValueError:
            raise bad from None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if not end:
            return start
        if day == date.max:  # the last day a date can name: its end is the end of time
            return datetime.max.replace(tzinfo=UTC)
        return start + timedelta(days=1)
    try:
        return now - parse_duration(cleaned)
    except UsageError:
        raise bad from None
