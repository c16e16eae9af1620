"""Import litellm lazily, offline and quietly: the only place the package imports it."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
from types import ModuleType

_lock = threading.Lock()
_module: ModuleType | None = None


def load() -> ModuleType:
    """Import litellm once: local cost map (no network fetch), no prints on stdout."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_LOG", "ERROR")
            # No redirect_stdout here: it is process-wide and would swallow the REPL's output
            # while a background thread imports. With the local cost map litellm prints nothing.
            # The cyclic collector pauses meanwhile: the import builds hundreds of thousands of
            # long-lived objects and makes next to no garbage, yet the full collections it sets
            # off cost about a quarter of its CPU time.
            collecting = gc.isenabled()
            gc.disable()
            try:
                import litellm
            finally:
                if collecting:
                    gc.enable()

            litellm.suppress_debug_info = True
            litellm.set_verbose = False
            litellm.telemetry = False
            litellm.drop_params = True
            logging.getLogger("LiteLLM").setLevel(logging.ERROR)
            _module = litellm
    return _module


def preload_in_background() -> threading.Thread:
    """Start importing litellm now so the first model call does not wait for it."""
    thread = threading.Thread(target=_quiet_load, name="litellm-preload", daemon=True)
    thread.start()
    return thread


def _quiet_load() -> None:
    with contextlib.suppress(Exception):
        load()
