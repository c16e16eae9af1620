"""The floor for one-shot chat: a bare script making the same streamed litellm call as `coach chat "hi"`.

Same model, endpoint, key and LITELLM_LOCAL_MODEL_COST_MAP from the environment as the CLI gets;
streamed with usage, no retries, each piece written as it arrives. Nothing else: no store, no CLI.

With --with-cli-stack it first imports what any Typer + SQLModel + Rich CLI imports (the startup
floor of the other figures): the least a CLI on this stack can add to the bare call.
"""

from __future__ import annotations

import os
import sys

if "--with-cli-stack" in sys.argv:
    sys.argv.remove("--with-cli-stack")
    import rich.console  # noqa: F401
    import sqlmodel  # noqa: F401
    import typer  # noqa: F401

import litellm

stream = litellm.completion(
    model=os.environ["COACH_MODEL"],
    api_base=os.environ["COACH_API_BASE"],
    messages=[{"role": "user", "content": sys.argv[1] if len(sys.argv) > 1 else "hi"}],
    stream=True,
    stream_options={"include_usage": True},
    timeout=120.0,
    num_retries=0,
    max_retries=0,
)
for chunk in stream:
    choices = getattr(chunk, "choices", None) or []
    piece = getattr(choices[0].delta, "content", None) if choices else None
    if piece:
        sys.stdout.write(piece)
        sys.stdout.flush()
sys.stdout.write("\n")
