"""moto's DynamoDB-protocol server for the tests, with requests handled one at a time.

Why not plain `moto_server`: it serves requests on threads, and when a TransactWriteItems call is
cancelled moto rolls back by restoring the tables as they were when that call began, wiping out
writes that other threads made meanwhile (200 concurrent transactions, half cancelled by their
condition: the successful half's counter increments came out 173, not 200). DynamoDB's
transactions are serializable; serializing the requests gives the tests that same guarantee.
Connections are still accepted on threads, so a slow client never blocks the others.

Also, moto backs up every table a transaction touches with a deep copy before it starts, so one
transaction costs time in proportion to the whole table (10,000 sessions: seconds per call). Here a
transaction instead records the items it is about to change and, when it is cancelled, puts those
back: the same all-or-nothing effect, at a cost in proportion to the transaction.

Bench-only bulk import (`POST /bench/import`): the body is JSON lines, each
`{"table": NAME, "item": {...}}` with the item in DynamoDB JSON; each item is put straight into
moto's backend, as a PutItem would store it, without the request parsing and validation that make
BatchWriteItem cost ~1 ms an item. Answers `{"imported": N}`. For loading large benchmark tenants
(`cargo run -p bench -- list-cost`); the service never calls it, and it bypasses the strict proxy's
models (which forwards it untouched). Tables are found by name in any account and region.

Usage: python infra/scripts/moto_server.py [-H 127.0.0.1] [-p 5000]
"""

import argparse
import json
import threading

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_moto_transact_write_items = DynamoDBBackend.transact_write_items


def _key_of(backend, op_type, op):
    """The key an action of a transaction targets, or None when moto will refuse the action."""
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    if op_type != "Put":
        return op.get("Key")
    attrs = op.get("Item", {})
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if not all(name in attrs for name in names):
        return None
    return {name: attrs[name] for name in names}


def transact_write_items(self, transact_items):
    """moto's TransactWriteItems, rolled back from an undo log instead of whole-table copies."""
    undo = []
    for action in transact_items:
        op_type, op = next(iter(action.items()))
        key = _key_of(self, op_type, op)
        if key is None:
            continue
        try:
            current = self.get_item(op["TableName"], key)
        except Exception:  # a malformed key: moto refuses the call before it writes anything
            continue
        undo.append((op["TableName"], key, current.to_json()["Attributes"] if current else None))
    # moto deep-copies each table as its backup; with this the "copy" is the table itself, and
    # moto's own rollback (putting the backup back) changes nothing.
    Table.__deepcopy__ = lambda table, memo: table
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        for table_name, key, old in reversed(undo):
            if old is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, old)
        raise
    finally:
        del Table.__deepcopy__


DynamoDBBackend.transact_write_items = transact_write_items


def table_backend(name):
    """The backend (of whichever account and region) that holds table `name`."""
    for account in list(dynamodb_backends.keys()):
        for region in list(dynamodb_backends[account].keys()):
            backend = dynamodb_backends[account][region]
            if name in backend.tables:
                return backend
    raise KeyError(f"no table {name}")


def bulk_import(environ, start_response):
    """POST /bench/import: JSON lines of {"table", "item"}, put straight into the backend."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    backends = {}
    imported = 0
    try:
        for line in body.splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            table = entry["table"]
            if table not in backends:
                backends[table] = table_backend(table)
            backends[table].put_item(table, entry["item"])
            imported += 1
        status, answer = "200 OK", {"imported": imported}
    except Exception as error:  # a bad line: say which, keep what was imported
        status, answer = "400 Bad Request", {"imported": imported, "error": f"{type(error).__name__}: {error}"}
    payload = json.dumps(answer).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


class OneRequestAtATime:
    """A WSGI wrapper that lets one request at a time into moto."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/bench/import" and environ.get("REQUEST_METHOD") == "POST":
            with self.lock:
                return bulk_import(environ, start_response)
        with self.lock:
            body = self.app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    app = OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
