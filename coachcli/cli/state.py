"""Per-invocation state: global options, resolved settings, and the opened store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from coachcli import config
from coachcli.errors import UsageError

if TYPE_CHECKING:  # SQLAlchemy and SQLModel load when a command opens the store, not for --help
    from coachcli.store.engine import Store


@dataclass
class AppState:
    home: str | None = None
    db: str | None = None
    user: str | None = None
    _settings: config.Settings | None = None
    _store: Store | None = None
    _migrated: bool = False
    _model_flags: dict[str, str | None] = field(default_factory=dict)

    def settings(
        self, *, model: str | None = None, api_base: str | None = None, strict: bool = True
    ) -> config.Settings:
        """Resolve once; a command's --model/--api-base (given on the first call) take part.

        strict=False (only `coach config`) never fails on a bad value: it lists it in
        `Settings.problems` instead, so a broken config.toml can be shown and repaired.
        """
        if not strict:
            return config.resolve(home=self.home, db=self.db, user=self.user, strict=False)
        flags = {k: v for k, v in {"model": model, "api_base": api_base}.items() if v is not None}
        if self._settings is None or (flags and flags != self._model_flags):
            self._model_flags.update(flags)
            self._settings = config.resolve(
                home=self.home,
                db=self.db,
                user=self.user,
                model=self._model_flags.get("model"),
                api_base=self._model_flags.get("api_base"),
            )
        return self._settings

    def store(self, *, migrate: bool = True) -> Store:
        """Open the database once, migrating it only when its schema revision is behind."""
        if self._store is None:
            from coachcli.store.engine import Store

            settings = self.settings()
            explicit_db = settings.sources.get("database_url") != "default"
            self._store = Store(settings.database_url, create_folder=not explicit_db)
            self._migrated = False
        if migrate and not self._migrated:
            from coachcli.store.migrate import ensure_schema

            ensure_schema(self._store)
            self._migrated = True
        return self._store

    def store_for_reading(self) -> Store | None:
        """For listings: None while the database has no schema yet (it holds nothing to list),
        so a first `coach tasks list` neither migrates nor loads Alembic."""
        from coachcli.store.migrate import current_revision

        store = self.store(migrate=False)
        if not self._migrated:
            if current_revision(store) is None:
                return None
            return self.store()  # one more cheap check, and a migration only if behind
        return store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        raise UsageError("internal: command run without the root callback")
    return root.obj
