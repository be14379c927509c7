"""A per-process cache of what rarely changes: the plan's tables (the plan, its units and groups, items and
assignments) and the people's (people and their chat accounts).

Every message reads them (who is talking, the items of a check-in, a unit's name), and every process serving
the same database must see a change at once: a plan imported by `duban plan import`, a person bound in another
process. So:

- Every transaction that writes one of these tables bumps the counters of the one `revision` row (both
  counters: a cached person carries his unit), through session events that see ORM flushes and ORM-enabled
  insert/update/delete statements alike (`install`, once per process). Any process's write is thereby visible in
  the database in the same commit as the change.
- A session that wants cached answers gets the cache attached (`QueryCache.attach`) after reading the counters
  in its first statement (the engine reads them together with the conversation: no extra statement), and
  `sync` drops whatever was cached under other counters.
- In such a session, an ORM select (including `Session.get` and lazy loads) whose every table is one of these is
  answered from the cache when it was answered before under the same counters: the cached rows are merged into
  the session without SQL (`merge_frozen_result(load=False)`, the pattern of SQLAlchemy's own caching example),
  so handlers keep working with ordinary session-bound ORM objects. Cached rows are detached copies, never an
  instance some session may change.
- A session that has written to these tables (its own changes must be visible to it), a locking read, or a
  refresh of expired attributes always goes to the database.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.engine import FrozenResult, Result
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm.loading import merge_frozen_result
from sqlalchemy.sql.util import find_tables

from db.models import Revision

CACHED_TABLES = frozenset(
    {"plan", "organisation", "org_alias", "org_group", "org_group_member", "item", "assignment", "person", "identity"}
)
_CACHE = "duban_cache"
_KEEP = "duban_keep"  # the instances a cached session holds on to (its identity map is weak)
_WROTE = "duban_wrote"  # the session wrote to a cached table in this transaction (and bumped the revision)
MAX_ENTRIES = 4096  # distinct statements × parameters; beyond it, the cache starts over (a bound, not a tuning)


class QueryCache:
    """The cached results of one process, valid under one pair of revision counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: tuple[int, int] | None = None
        self._results: dict[Hashable, FrozenResult[Any]] = {}
        self._tables: dict[Hashable, bool] = {}  # statement structure → every table cached
        self.hits = 0
        self.misses = 0

    @property
    def revision(self) -> tuple[int, int] | None:
        return self._revision

    def sync(self, plan: int, people: int) -> None:
        """The database's counters, read in the caller's transaction: what was cached under others is dropped."""
        revision = (plan, people)
        if revision != self._revision:
            with self._lock:
                self._results = {}
                self._revision = revision

    def attach(self, session: Session) -> None:
        """Answer `session`'s reads of cached tables from the cache (call `sync` in its transaction first)."""
        session.info[_CACHE] = self
        # The identity map holds instances weakly: a handler that gets the same assignment twice would query
        # (and merge) it twice. A message's session is short, so it keeps what it loaded until it closes.
        session.info[_KEEP] = []

    def __len__(self) -> int:
        return len(self._results)

    # ---- serving ----------------------------------------------------------------------------------------------

    def serve(self, state: ORMExecuteState) -> Result[Any] | None:
        session = state.session
        if session.info.get(_WROTE) or state.is_column_load or self._revision is None:
            return None
        statement = state.statement
        if getattr(statement, "_for_update_arg", None) is not None:
            return None
        key = _key(statement, state.parameters)
        if key is None or not self._cacheable(key[0], statement):
            return None
        revision = self._revision
        frozen = self._results.get(key)
        if frozen is not None:
            self.hits += 1
            return merge_frozen_result(session, statement, frozen, load=False)()
        self.misses += 1
        live = state.invoke_statement().freeze()
        copy = _detached_copy(statement, live)
        if copy is not None:
            with self._lock:
                if self._revision == revision and not session.info.get(_WROTE):
                    if len(self._results) >= MAX_ENTRIES:
                        self._results = {}
                    self._results[key] = copy
        return live()

    def _cacheable(self, shape: Hashable, statement: Any) -> bool:
        known = self._tables.get(shape)
        if known is None:
            tables = find_tables(statement, check_columns=True, include_aliases=True, include_joins=True)
            names = {getattr(t, "name", None) for t in tables}
            known = bool(names) and names <= CACHED_TABLES
            self._tables[shape] = known
        return known


def _freeze(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _key(statement: Any, parameters: Any) -> tuple[Hashable, Hashable] | None:
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return None
    values = tuple(_freeze(b.effective_value) for b in cache_key.bindparams)
    params = _freeze(parameters) if parameters else ()
    return cache_key.key, (values, params)


def _detached_copy(statement: Any, live: FrozenResult[Any]) -> FrozenResult[Any] | None:
    """The rows of `live` with every ORM instance copied into a private session and detached; None when an
    instance cannot be copied without SQL (it has changes of its own)."""
    scratch = Session()
    try:
        copied = merge_frozen_result(scratch, statement, live, load=False)().freeze()
    except Exception:  # an instance with pending changes: not a state to share
        return None
    finally:
        scratch.expunge_all()
        scratch.close()
    return copied


# ---- keeping the revision -------------------------------------------------------------------------------------


def _table_names(objects: Iterable[object]) -> bool:
    for obj in objects:
        table = getattr(type(obj), "__table__", None)
        if table is not None and table.name in CACHED_TABLES:
            return True
    return False


def _bump(session: Session) -> None:
    """Count one change of the cached tables, once per transaction; from then on the session reads the database."""
    if session.info.get(_WROTE):
        return
    session.info[_WROTE] = True
    session.connection().execute(update(Revision).values(plan=Revision.plan + 1, people=Revision.people + 1))


def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    if session.info.get(_WROTE):
        return
    dirty = [o for o in session.dirty if session.is_modified(o, include_collections=False)]
    if _table_names(session.new) or _table_names(session.deleted) or _table_names(dirty):
        _bump(session)


def _do_orm_execute(state: ORMExecuteState) -> Result[Any] | None:
    if state.is_select:
        cache: QueryCache | None = state.session.info.get(_CACHE)
        return cache.serve(state) if cache is not None else None
    if state.is_insert or state.is_update or state.is_delete:
        tables = find_tables(state.statement, include_crud=True)  # type: ignore[arg-type]
        if any(getattr(t, "name", None) in CACHED_TABLES for t in tables):
            _bump(state.session)
    return None


def _transaction_ended(session: Session, _transaction: object) -> None:
    session.info.pop(_WROTE, None)


def _keep(session: Session, instance: object) -> None:
    kept: list[object] | None = session.info.get(_KEEP)
    if kept is not None:
        kept.append(instance)


_installed = False


def install() -> None:
    """Register the session events (once per process; every Session of the process keeps the revision)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "do_orm_execute", _do_orm_execute)
    event.listen(Session, "after_commit", lambda s: s.info.pop(_WROTE, None))
    event.listen(Session, "after_soft_rollback", _transaction_ended)
    for name in ("loaded_as_persistent", "detached_to_persistent", "pending_to_persistent"):
        event.listen(Session, name, _keep)
    _installed = True
