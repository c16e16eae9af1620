"""The coach's tools: schemas sent to the model, and what each call does to the store."""

from __future__ import annotations

from typing import Any

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "remember_fact",
            "description": "Save a durable fact about the person (survives reset). "
            "Use replaces_fact_id when it restates or corrects a known fact.",
            "parameters": {
                "type": "object",
                "properties": {
                    "fact": {"type": "string", "description": "One short sentence."},
                    "replaces_fact_id": {
                        "type": "string",
                        "description": "Id (or prefix) of the fact this one corrects, if any.",
                    },
                },
                "required": ["fact"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "save_memory",
            "description": "Save a note about this coaching conversation (cleared by reset).",
            "parameters": {
                "type": "object",
                "properties": {"note": {"type": "string"}},
                "required": ["note"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "propose_dispatch",
            "description": "Propose handing a task to a specialist agent; a person approves it first.",
            "parameters": {
                "type": "object",
                "properties": {
                    "agent": {"type": "string", "description": "Specialist name."},
                    "task": {"type": "string", "description": "The complete task for the specialist."},
                },
                "required": ["agent", "task"],
            },
        },
    },
]
