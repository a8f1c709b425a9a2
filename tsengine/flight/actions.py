"""DoAction: the server's administrative verbs; a JSON body in, a JSON result out.

=============  ===========================================  ===========================
action         body                                         result
=============  ===========================================  ===========================
health         (none)                                       status, version, uptime
stats          (none)                                       engine and server counters
flush          (none)                                       durable_seq after flushing
create_table   {"name", "tags", "fields", "ring_capacity",  the table definition
               "duplicates", "retention", "exist_ok"}
create_rollup  {"name", "source", "every", "aggs", ...}     the rollup as described by
                                                            the engine
drop           {"name"}                                     {"dropped": name, "kind"}
=============  ===========================================  ===========================
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tsengine.flight.commands import decode
from tsengine.flight.errors import RequestError, UnsupportedError
from tsengine.flight.queries import durable_seq, rollup_names

Handler = Callable[[Any, dict], dict]


def _health(server, body: dict) -> dict:
    import tsengine

    return {
        "status": "ok",
        "version": tsengine.__version__,
        "uptime_s": round(time.monotonic() - server.started, 3),
        "tables": len(server.engine.tables()),
    }


def _stats(server, body: dict) -> dict:
    return {"engine": server.engine.stats(), "server": server.counters()}


def _flush(server, body: dict) -> dict:
    server.engine.flush()
    return {"flushed": True, "durable_seq": durable_seq(server.engine)}


def _create_table(server, body: dict) -> dict:
    args = dict(body)
    name = args.pop("name", None)
    if not isinstance(name, str):
        raise RequestError(f"create_table needs a string 'name', got {name!r}")
    known = {"tags", "fields", "ring_capacity", "duplicates", "retention", "exist_ok"}
    unknown = sorted(set(args) - known)
    if unknown:
        raise RequestError(
            f"create_table got unknown option(s) {unknown!r}; accepted: {sorted(known)}"
        )
    tags = args.pop("tags", [])
    fields = args.pop("fields", {})
    if not isinstance(tags, list):
        raise RequestError(f"create_table tags={tags!r} must be a list of names")
    if not isinstance(fields, dict):
        raise RequestError(
            f"create_table fields={fields!r} must be an object of name to type"
        )
    definition = server.engine.create_table(name, tags, fields, **args)
    return definition.to_dict()


def _create_rollup(server, body: dict) -> dict:
    create = getattr(server.engine, "create_rollup", None)
    if create is None:
        raise UnsupportedError("this engine has no create_rollup() yet")
    args = dict(body)
    name = args.pop("name", None)
    if not isinstance(name, str):
        raise RequestError(f"create_rollup needs a string 'name', got {name!r}")
    result = create(name, **args)
    if hasattr(result, "to_dict"):
        result = result.to_dict()
    return result if isinstance(result, dict) else {"name": name}


def _drop(server, body: dict) -> dict:
    name = body.get("name")
    if not isinstance(name, str):
        raise RequestError(f"drop needs a string 'name', got {name!r}")
    engine = server.engine
    if name in rollup_names(engine):
        # the engine stops maintaining the rollup; its table stays readable
        engine.drop_rollup(name)
        return {"dropped": name, "kind": "rollup"}
    drop = getattr(engine, "drop_table", None)
    if drop is None:
        raise UnsupportedError(
            f"cannot drop table {name!r}: this engine has no drop_table() yet"
        )
    drop(name)
    return {"dropped": name, "kind": "table"}


#: Action name -> (description for ListActions, handler, takes a body).
ACTIONS: dict[str, tuple[str, Handler, bool]] = {
    "health": ("Liveness: status, version, uptime in seconds.", _health, False),
    "stats": ("Engine points/bytes per table and server counters.", _stats, False),
    "flush": (
        "Make everything written so far durable; returns durable_seq.",
        _flush,
        False,
    ),
    "create_table": (
        'Create a table. Body: {"name", "tags", "fields", "ring_capacity", '
        '"duplicates", "retention", "exist_ok"}.',
        _create_table,
        True,
    ),
    "create_rollup": (
        'Create a continuous rollup. Body: {"name", "source", "every", "aggs", '
        '"by", "lateness", ...} as engine.create_rollup.',
        _create_rollup,
        True,
    ),
    "drop": ('Drop a table or rollup. Body: {"name"}.', _drop, True),
}


def run_action(server, action_type: str, body: bytes) -> bytes:
    """Run one action; returns its JSON result as bytes.

    Raises
    ------
    RequestError
        Unknown action or malformed body.
    """
    entry = ACTIONS.get(action_type)
    if entry is None:
        raise RequestError(
            f"unknown action {action_type[:80]!r}; actions are {sorted(ACTIONS)!r}"
        )
    _, handler, takes_body = entry
    args = decode(body, f"{action_type} body") if takes_body else {}
    result = handler(server, args)
    return json.dumps(result, default=str).encode()
