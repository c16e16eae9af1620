"""What happens to a dispatch, top to bottom.

    proposed ──approve──▶ approved ──claim──▶ running ──▶ succeeded
        │                    ▲                   │   └──▶ failed ──retry──┐
        └──reject──▶ rejected│                   └──────▶ interrupted ────┤
                             └────────────────────────────────────────────┘

- `lifecycle.py`: the states and transitions (each one conditional UPDATE, so exactly one process
  wins it), creating, finding and listing dispatches, and `DispatchOutcome`, what a run reports.
- `run.py`: picking a specialist, running it, recording the result. Approval, retry and an
  operator's `coach dispatch` claim the dispatch in the same transaction as their own transition,
  so `approved` is never left behind; after the claim every failure ends in `failed` (or
  `interrupted` on Ctrl-C), retryable, with the error. The run's own dispatch comes back either
  way: as the return value, or on `DispatchFailed.outcome`.
- `liveness.py`: who runs a dispatch and whether that process is still alive, so a run whose
  process died shows as `interrupted` instead of `running` for ever.
"""
