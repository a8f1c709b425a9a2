"""``Rollups``: the rollups of one engine -- create, drop, list, subscribe, persist.

The engine owns one :class:`Rollups` (``Engine._rollups``) and forwards
``create_rollup``, ``drop_rollup``, ``rollups``, ``subscribe`` and the ``"rollups"``
part of ``stats()`` to it. For a durable engine the definitions live in
``rollups.json`` (:mod:`tsengine.rollup.catalog`); the engine creates this object after
replaying its log, so every rollup restarts from the recovered tables
(:meth:`tsengine.rollup.live.LiveRollup.catch_up`).

Locks: the engine's write lock, then a rollup's own lock, then this object's. Creating
and dropping take the engine's write lock first, so no write runs half-seen.
"""

from __future__ import annotations

import threading
import warnings

from tsengine.errors import Error, SchemaError, TableNotFoundError
from tsengine.rollup.catalog import Catalog
from tsengine.rollup.live import LiveRollup, RollupWarning
from tsengine.rollup.sketch import DEFAULT_ALPHA
from tsengine.rollup.spec import RollupSpec, make_rollup_spec, spec_from_dict
from tsengine.rollup.subscribe import DEFAULT_MAXSIZE, Subscription


class Rollups:
    """Every rollup of an engine.

    Parameters
    ----------
    engine : tsengine.Engine
        The engine, with its tables already recovered.
    """

    def __init__(self, engine) -> None:
        self._engine = engine
        self._lock = threading.RLock()
        self._live: dict[str, LiveRollup] = {}
        self._catalog = Catalog(engine.path) if engine.path is not None else None
        self._entries: dict[str, dict] = {}
        if self._catalog is not None:
            self._entries = self._catalog.load()
            for name, entry in list(self._entries.items()):
                self._reopen(name, entry)

    # -- definitions -----------------------------------------------------------

    def create(
        self,
        name: str,
        source: str,
        every,
        aggs: dict[str, list[str]],
        *,
        by: list[str] | None = None,
        lateness="0s",
        retention=None,
        late: str = "drop",
        offset=None,
        alpha: float = DEFAULT_ALPHA,
    ) -> RollupSpec:
        """Create and start a rollup; see ``Engine.create_rollup``."""
        engine = self._engine
        with engine._ddl_lock, self._lock:
            engine._check_open()
            if name in self._live:
                raise SchemaError(f"rollup {name!r} already exists")
            src = engine.definition(source)
            spec = make_rollup_spec(
                src,
                name,
                every,
                aggs,
                by=by,
                lateness=lateness,
                retention=retention,
                late=late,
                offset=offset,
                alpha=alpha,
            )
            self._tables(spec)
            live = self._start(spec, remembered=None)
            self._entries[name] = {"spec": spec.to_dict(), "frontier": None}
            self._save()
            return live.spec

    def drop(self, name: str) -> None:
        """Stop maintaining rollup ``name`` and end its subscriptions.

        Its table (and side table) stay readable as plain tables: the engine has no
        table removal yet.
        """
        engine = self._engine
        with engine._ddl_lock, self._lock:
            live = self._get(name)
            engine.remove_listener(live.spec.source, live.on_write)
            live.stop()
            live.hub.close()
            del self._live[name]
            self._entries.pop(name, None)
            self._save()

    def names(self) -> list[str]:
        """Names of the rollups, sorted."""
        with self._lock:
            return sorted(self._live)

    def spec(self, name: str) -> RollupSpec:
        """Definition of rollup ``name``."""
        return self._get(name).spec

    def subscribe(
        self, name: str, timeout: float | None = None, maxsize: int = DEFAULT_MAXSIZE
    ) -> Subscription:
        """Subscription to the windows ``name`` closes from now on."""
        engine = self._engine
        live = self._get(name)
        sub = Subscription(
            name,
            timeout=timeout,
            maxsize=maxsize,
            alive=lambda: not engine._closed,
            sync=live.sync,
        )
        live.sync()  # windows of writes that returned before are not "from now on"
        return live.hub.add(sub)

    def users_of(self, table: str) -> list[str]:
        """Rollups that read ``table`` or write it (their own or late-points table)."""
        with self._lock:
            specs = [live.spec for live in self._live.values()]
        return sorted(
            s.name for s in specs if table in (s.source, s.name, s.side_table)
        )

    def sync(self, table: str | None = None) -> None:
        """Bring the rollups writing to ``table`` (all if None) up to date with
        every committed source write (see :mod:`tsengine.rollup.live`); a rollup
        of a rollup table first brings that one up to date."""
        with self._lock:
            live = list(self._live.values())
        done: set[str] = set()

        def visit(target: str | None) -> None:
            for r in live:
                spec = r.spec
                mine = target in (None, spec.name, spec.side_table)
                if spec.name in done or not mine:
                    continue
                done.add(spec.name)
                visit(spec.source)
                r.sync()

        visit(table)

    def stats(self) -> dict[str, dict]:
        """``{name: figures}`` of every rollup."""
        with self._lock:
            live = dict(self._live)
        return {name: r.stats() for name, r in sorted(live.items())}

    def close(self) -> None:
        """Write what every rollup still holds, stop its worker and end its
        subscriptions now (for ``Engine.close``; without that call a waiting
        subscriber notices the closed engine within 50 ms)."""
        with self._lock:
            live = list(self._live.values())
        for rollup in live:
            rollup.stop()
            rollup.hub.close(discard=False)

    # -- internals -------------------------------------------------------------

    def _get(self, name: str) -> LiveRollup:
        with self._lock:
            live = self._live.get(name)
        if live is None:
            raise TableNotFoundError(
                f"rollup {name!r} does not exist; rollups are {self.names()!r}"
            )
        return live

    def _tables(self, spec: RollupSpec) -> None:
        """Create the rollup table (and side table); an identical one is adopted."""
        engine = self._engine
        src = engine.definition(spec.source)
        target = spec.table_def(src)
        engine.create_table(
            spec.name,
            tags=target.tags,
            fields=target.fields,
            ring_capacity=target.ring_capacity,
            retention=target.retention,
            exist_ok=True,
        )
        if spec.late == "side" and spec.side_table not in engine.tables():
            engine.create_table(spec.side_table, tags=src.tags, fields=src.fields)

    def _start(self, spec: RollupSpec, remembered: int | None) -> LiveRollup:
        """Rebuild open windows from the source, then follow its writes."""
        live = LiveRollup(self._engine, spec, self._remember)
        live.catch_up(remembered)
        self._engine.add_listener(spec.source, live.on_write)
        self._live[spec.name] = live
        return live

    def _reopen(self, name: str, entry: dict) -> None:
        """Restart a rollup found in the catalog of a durable engine."""
        engine = self._engine
        source = entry["spec"].get("source")
        try:
            spec = spec_from_dict(engine.definition(source), entry["spec"])
            self._tables(spec)
            self._start(spec, remembered=entry.get("frontier"))
        except Error as exc:
            # The engine must open even when one rollup cannot restart
            warnings.warn(
                f"rollup {name!r} was not restarted: {exc}", RollupWarning, stacklevel=3
            )

    def _remember(self, name: str, frontier: int) -> None:
        with self._lock:
            if name in self._entries:
                self._entries[name]["frontier"] = int(frontier)
                self._save()

    def _save(self) -> None:
        if self._catalog is not None:
            self._catalog.save(self._entries)
