"""A cheap, litellm-free guess at a missing provider key, so the REPL can say so before loading it.

litellm's own check (LLMClient.check_credentials) stays authoritative at call time.
"""

from __future__ import annotations

import os

# provider prefix -> the variables litellm reads for it (first one is the usual one)
_KEYS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"),
    "xai": ("XAI_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
}
_BARE_PREFIXES = {"gpt-": "openai", "o1": "openai", "o3": "openai", "o4": "openai", "claude": "anthropic"}


def provider_of(model: str) -> str | None:
    if "/" in model:
        return model.split("/", 1)[0].lower()
    for prefix, provider in _BARE_PREFIXES.items():
        if model.lower().startswith(prefix):
            return provider
    return None


def likely_missing_key(model: str, api_base: str | None) -> list[str]:
    """The variables to set when none of them is; empty when a key is there or none is needed."""
    if api_base:
        return []
    names = _KEYS.get(provider_of(model) or "", ())
    if names and not any(os.environ.get(name) for name in names):
        return list(names)
    return []
