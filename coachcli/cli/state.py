"""Per-invocation state: global options, resolved settings, and the opened store."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from coachcli import config
from coachcli.errors import UsageError
from coachcli.store.engine import Store


@dataclass
class AppState:
    home: str | None = None
    db: str | None = None
    user: str | None = None
    _settings: config.Settings | None = None
    _store: Store | None = None
    _extra: dict[str, str | None] = field(default_factory=dict)

    def settings(self, *, model: str | None = None, api_base: str | None = None) -> config.Settings:
        key = {"model": model, "api_base": api_base}
        if self._settings is None or key != self._extra:
            self._settings = config.resolve(
                home=self.home, db=self.db, user=self.user, model=model, api_base=api_base
            )
            self._extra = key
        return self._settings

    def store(self) -> Store:
        """Open the database once, migrating it only when its schema revision is behind."""
        if self._store is None:
            from coachcli.store.migrate import ensure_schema

            settings = self.settings()
            explicit_db = bool(self.db) or bool(_env("COACH_DATABASE_URL"))
            store = Store(settings.database_url, create_folder=not explicit_db)
            ensure_schema(store)
            self._store = store
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None


def _env(name: str) -> str | None:
    import os

    return os.environ.get(name) or None


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        raise UsageError("internal: command run without the root callback")
    return root.obj
