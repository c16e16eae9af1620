"""propose_dispatch: hand a task to a specialist; a person approves it before it runs."""

from __future__ import annotations

from coachcli.coaching.agents import get_agent, list_agents
from coachcli.coaching.tools.base import Tool, ToolContext, arguments, string
from coachcli.errors import CoachError


def run(ctx: ToolContext) -> str:
    # The dispatch modules load when the coach proposes one, not with every turn's tools.
    from coachcli.coaching.dispatch import lifecycle
    from coachcli.coaching.dispatch.run import approve_and_run

    session = ctx.session
    try:
        spec = get_agent(session, ctx.text_arg("agent"))
    except CoachError:
        known = ", ".join(a.name for a in list_agents(session))
        return f"Error: no specialist named {ctx.args.get('agent')!r}; known: {known}."
    dispatch = lifecycle.create_dispatch(
        session,
        ctx.user,
        agent=spec.name,
        task=ctx.text_arg("task"),
        proposed_by="coach",
        status="proposed",
        tool_call_id=ctx.call.id,
    )
    session.commit()  # the proposal is kept before a person is asked about it
    decision = ctx.events.proposal(dispatch, spec.display_name)
    short = dispatch.id[:8]
    if decision.action == "reject":
        lifecycle.reject(session, dispatch, decision.reason)
        reason = f" Reason: {decision.reason}" if decision.reason else ""
        return f"The person declined the proposal to have the {spec.display_name} do it.{reason}"
    if decision.action != "approve":
        return (
            f"Proposal {short} saved for the person to decide later "
            f"(`coach dispatches approve {short}`). Tell them it is waiting for approval."
        )
    done = ctx.events.dispatch_started(dispatch)
    try:
        outcome = approve_and_run(session, ctx.user, dispatch, ctx.client_for, task=decision.task)
    except CoachError as exc:
        return f"The {spec.display_name} failed: {exc.message} (retry with `coach dispatches retry {short}`)."
    finally:
        done()
    ctx.events.dispatch_finished(outcome)
    preview = (outcome.result or "")[:1500]
    return (
        f"Approved and done. Task thread {(outcome.task_thread_id or '')[:8]} holds the result. "
        f"Result:\n{preview}"
    )


TOOL = Tool(
    name="propose_dispatch",
    description="Propose handing a task to a specialist agent; a person approves it first.",
    parameters=arguments(
        "agent",
        "task",
        agent=string("Specialist name."),
        task=string("The complete task for the specialist."),
    ),
    run=run,
)
