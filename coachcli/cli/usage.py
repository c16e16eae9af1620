"""`coach usage`: tokens and cost of every model call, grouped by day, week, model, agent or kind;
and the monthly budget's warning line for `coach chat`."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from coachcli.cli.common import JsonOpt
from coachcli.cli.output import emit_json, note, out, print_columns
from coachcli.cli.state import state

if TYPE_CHECKING:
    from coachcli.cli.state import AppState
    from coachcli.coaching.usage import MonthSpend, UsageRow

UNKNOWN = "–"  # a price nobody knows is shown as unknown, never as 0
NO_AGENT = "(coach)"  # calls of the coach itself: chat, check-ins, summaries, picks


class By(StrEnum):
    day = "day"
    week = "week"
    model = "model"
    agent = "agent"
    kind = "kind"


def usd(value: float | None) -> str:
    """US dollars to 4 significant digits ($0.01235, $1.234, $1235), or `–` when unknown."""
    if value is None:
        return UNKNOWN
    if value == 0:
        return "$0"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    return f"${value:,.{decimals}f}"


def usage_cmd(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="From this UTC day (YYYY-MM-DD) or span back (7d, 4w).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Up to and including this UTC day, or a span back.")
    ] = None,
    by: Annotated[By, typer.Option("--by", help="Group by day, week, model, agent or kind.")] = By.day,
    json_out: JsonOpt = False,
) -> None:
    """Tokens and cost of your model calls (chat, summaries, dispatches, check-ins, reviews)."""
    from coachcli.coaching.usage import parse_day_or_span, usage_report
    from coachcli.store.types import utcnow

    app = state(ctx)
    now = utcnow()
    start = parse_day_or_span(since, now=now) if since else None
    end = parse_day_or_span(until, now=now, end=True) if until else None
    settings = app.settings()
    store = app.store_for_reading()
    rows: list[UsageRow] = []
    spend: MonthSpend | None = None
    if store is not None:
        with store.read_session() as session:
            rows = usage_report(session, settings.user, by=by.value, since=start, until=end)
            if settings.monthly_budget_usd and not json_out:
                from coachcli.coaching.usage import month_spend

                spend = month_spend(session, settings.user, settings.monthly_budget_usd, now=now)
    if json_out:
        emit_json([_row_json(row) for row in rows])
        return
    if not rows:
        out().print("No model calls recorded yet: they appear here after `coach chat` or `coach dispatch`.")
    else:
        _print_table(rows, by)
    if spend is not None:
        out().print(budget_line(spend))


def _row_json(row: UsageRow) -> dict[str, object]:
    return {
        "key": row.key,
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost_usd": row.cost_usd,
    }


def _print_table(rows: list[UsageRow], by: By) -> None:
    """Aligned columns with a totals row, numbers to the right. print_columns, not Rich's Table:
    a year by day is ~400 rows, and Rich lays out each cell at about a millisecond a row."""
    from coachcli.coaching.usage import total

    headers = (by.value.upper(), "REQUESTS", "INPUT TOKENS", "OUTPUT TOKENS", "COST")
    cells = [_cells(row.key if row.key is not None else NO_AGENT, row) for row in rows]
    cells.append(_cells("total", total(rows)))
    print_columns(headers, cells, right=range(1, len(headers)))


def _cells(key: str, row: UsageRow) -> list[str]:
    return [key, f"{row.requests:,}", f"{row.input_tokens:,}", f"{row.output_tokens:,}", usd(row.cost_usd)]


def budget_line(spend: MonthSpend) -> str:
    calls = "call" if spend.unpriced == 1 else "calls"
    unpriced = f" (+{spend.unpriced} {calls} of unknown price)" if spend.unpriced else ""
    return (
        f"This month: {usd(spend.cost_usd)} of the ${spend.budget_usd:g} monthly budget "
        f"({spend.share:.0%}){unpriced}."
    )


def warn_over_budget(app: AppState) -> None:
    """One dim line a day once this month's cost passes 80% of `monthly_budget_usd` (for chat)."""
    settings = app.settings()
    if not settings.monthly_budget_usd:
        return
    from coachcli.coaching.usage import budget_warning
    from coachcli.store.types import utcnow

    with app.store().session() as session:
        spend = budget_warning(session, settings.user, settings.monthly_budget_usd, now=utcnow())
        session.commit()
    if spend is not None:
        note(f"Budget: {budget_line(spend)} See `coach usage --by kind`.")


def register(app: typer.Typer) -> None:
    app.command("usage")(usage_cmd)
