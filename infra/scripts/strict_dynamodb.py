#!/usr/bin/env python3
"""A strict DynamoDB proxy: sits between the AWS SDK and moto and puts back DynamoDB's hard edges.

Why it exists
-------------
The tests run the service against moto (infra/scripts/moto_server.py). moto is kinder than AWS:
it serves one request at a time, so transactions never conflict; its global secondary indexes are
strongly consistent; it never throttles; and it lets through some requests that break DynamoDB's
hard limits. Code that passes against plain moto can still fail on AWS. This proxy keeps requests
concurrent and models AWS's semantics, so the bugs AWS would show appear in the tests. Standard
library only (tested with Python 3.11): it needs no install.

What it models (each switchable per table-name prefix, see POST /strict/config)
----------------------------------------------------------------------------
1. Transaction conflicts. A TransactWriteItems holds its items (table + primary key) for its
   execution time on AWS, modelled as a random 0..txnHoldMs from its receipt; it is forwarded to
   moto when that time is up. A TransactWriteItems touching an item another transaction holds is
   cancelled with TransactionConflict; a single write (PutItem, UpdateItem, DeleteItem) on such an
   item gets TransactionConflictException; a BatchWriteItem request on such an item comes back in
   UnprocessedItems (an approximation); a TransactGetItems reading such an item is cancelled too.
   Single writes are modelled as instantaneous: refused while a transaction holds their item,
   holding nothing themselves; two single writes never conflict. Why the hold and not the time
   until moto answers: moto serves one request at a time, so a transaction queued behind a hundred
   others would hold its items for all their time, a contention no DynamoDB table shows.
2. Eventually consistent GSIs. ConsistentRead on a GSI is always a ValidationException. With
   `gsiLagMs` > 0 each write becomes visible to the table's GSIs only after a random 0..gsiLagMs:
   the proxy reads each written item before and after the write (consistent GetItem, or one
   BatchGetItem for a transaction's or batch's items), keeps a short history per item, and
   rewrites GSI Query/Scan pages to show each item as its newest image already visible: hiding
   new items and items that moved into the query's range, serving stale attributes, showing
   deleted items and items that moved out. It evaluates the key condition itself; a COUNT or
   projected read is widened for this and narrowed back. Rewrites stay within the page moto
   returned: items are re-added only between ExclusiveStartKey and LastEvaluatedKey; a Query page
   keeps at most Limit entries and, when cut, continues after the last one kept. With a
   FilterExpression, or on a Scan that is not one whole unsegmented page, items are only hidden or
   replaced, never re-added (the proxy does not evaluate filters or segments; a replaced image is
   not re-checked against the filter). While a lagged table's GSI is read, writes to that table
   wait (moto serves one request at a time anyway).
3. Throughput per partition key: token buckets of `wcuPerKey` write units/s and `rcuPerKey` read
   units/s per (table, partition-key value), holding one second's units. Over the rate:
   ProvisionedThroughputExceededException (a transaction: TransactionCanceledException with
   ThrottlingError; a batch: the over-rate requests come back unprocessed). The largest units
   charged to one key in any sliding second are reported whether or not throttling is on.
4. Hard limits: 100 actions / 4 MB per transaction, one action per item per transaction, 400 KB
   per item, 25 requests per BatchWriteItem, 100 keys per BatchGetItem, 1 MB per Query/Scan page
   (the page is cut and LastEvaluatedKey set from the last kept item).
5. A trace (`--trace FILE`): one JSON line per distinct (principal, IAM action, table, index) seen,
   for checking IAM policies against what the code really calls.
6. Latency (opt-in, `latencyMs`, 0 by default): each DynamoDB request waits this long in its own
   thread before the proxy handles it, a network round trip that concurrent requests spend
   together, as they would against AWS. For counting the round trips an operation takes in
   sequence (the benches), not a model of DynamoDB's own latency.

What it cannot model
--------------------
Partition splits, adaptive capacity and burst credits (each key has its own fixed bucket); table-
and account-level throughput; exact capacity-unit rounding (sizes are estimated from the request
and response JSON with AWS's published size rules; an UpdateItem is charged for its key and values,
not the item it produces; a COUNT query or a projected read is charged for what comes back, not
what DynamoDB reads; Scans are not charged); idempotency tokens (ClientRequestToken is ignored);
global tables, streams, TTL timing; lag on local secondary indexes or eventually consistent reads
of the base table; writes that reach moto without passing through the proxy. The 1 MB page cut
uses returned item sizes, so a FilterExpression's discarded items do not count against it.

Interface
---------
python infra/scripts/strict_dynamodb.py --listen 127.0.0.1:PORT --upstream http://127.0.0.1:MOTOPORT
    [--seed 1] [--trace FILE] [--gsi-lag-ms 0] [--conflicts on|off] [--throttle on|off]
    [--limits on|off] [--txn-hold-ms 0] [--wcu-per-key 1000] [--rcu-per-key 3000] [--latency-ms 0]
prints `strict-dynamodb listening on http://HOST:PORT -> UPSTREAM` when ready (PORT 0 picks a free
port and prints it). Requests without an `X-Amz-Target: DynamoDB_20120810.*` header (moto's
/moto-api/reset, API Gateway Management API calls to /@connections/...) are forwarded untouched.
Control endpoints, never forwarded:
    GET  /strict/stats         counters (see Stats.snapshot)
    POST /strict/stats/reset   zeroes them
    POST /strict/config        {"tablePrefix": "tabc", "gsiLagMs": 800, "conflicts": true,
                               "throttle": true, "limits": true, "txnHoldMs": 5,
                               "wcuPerKey": 1000, "rcuPerKey": 3000, "latencyMs": 0}: settings for tables whose
                               name starts with tablePrefix (longest prefix wins; "" sets the
                               defaults). Keys left out follow the defaults. Answers {"ok": true}.
    GET  /strict/config        the defaults and every prefix's overrides
"""

import argparse
import base64
import collections
import contextlib
import dataclasses
import decimal
import http.client
import http.server
import json
import math
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import zlib

TARGET_PREFIX = "DynamoDB_20120810."
ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"

KB = 1024
MAX_ITEM_BYTES = 400 * KB
MAX_TRANSACTION_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * KB * KB
MAX_BATCH_WRITE_REQUESTS = 25
MAX_BATCH_GET_KEYS = 100
MAX_PAGE_BYTES = KB * KB

CONFLICT_MESSAGE = "Transaction is ongoing for the item"
THROUGHPUT_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if you "
    "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "bp-partition-key-design.html"
)
ITEM_SIZE_MESSAGE = "Item size has exceeded the maximum allowed size"
DUPLICATE_ITEM_MESSAGE = "Transaction request cannot include multiple operations on one item"

# IAM action of each TransactWriteItems action type.
TRANSACT_IAM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Headers that belong to one connection, not to the request or answer relayed.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "expect", "content-length",
}
# Headers copied from a client's request onto the proxy's own calls to moto (region, account).
AUTH_HEADERS = {"authorization", "x-amz-date", "x-amz-security-token"}


# ------------------------------------------------------------------------------------------------
# Settings per table-name prefix


@dataclasses.dataclass(frozen=True)
class Settings:
    """The models' settings for one table."""

    gsi_lag_ms: float = 0.0
    conflicts: bool = True
    throttle: bool = True
    limits: bool = True
    txn_hold_ms: float = 0.0
    wcu_per_key: float = 1000.0
    rcu_per_key: float = 3000.0
    latency_ms: float = 0.0


# JSON name (POST /strict/config) -> Settings field.
CONFIG_FIELDS = {
    "gsiLagMs": "gsi_lag_ms",
    "conflicts": "conflicts",
    "throttle": "throttle",
    "limits": "limits",
    "txnHoldMs": "txn_hold_ms",
    "wcuPerKey": "wcu_per_key",
    "rcuPerKey": "rcu_per_key",
    "latencyMs": "latency_ms",
}
BOOLEAN_FIELDS = {"conflicts", "throttle", "limits"}


def coerce_setting(field, value):
    """A setting's value from JSON or the command line, or ValueError."""
    if field in BOOLEAN_FIELDS:
        if isinstance(value, str) and value.lower() in ("on", "true", "off", "false"):
            return value.lower() in ("on", "true")
        if isinstance(value, bool):
            return value
        raise ValueError(f"{field} takes true/false or on/off, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{field} takes a number >= 0, not {value!r}")
    return float(value)


class ModelConfig:
    """Settings per table-name prefix: the longest matching prefix wins; "" holds the defaults.

    A prefix's entry holds only the keys it was given; the others follow the defaults."""

    def __init__(self, defaults):
        self._lock = threading.Lock()
        self._overrides = {"": dataclasses.asdict(defaults)}

    def update(self, body):
        prefix = body.get("tablePrefix") if isinstance(body, dict) else None
        if not isinstance(prefix, str):
            raise ValueError("tablePrefix (a string) is required")
        changes = {}
        for key, value in body.items():
            if key == "tablePrefix":
                continue
            if key not in CONFIG_FIELDS:
                raise ValueError(f"unknown setting {key!r}; known: {sorted(CONFIG_FIELDS)}")
            field = CONFIG_FIELDS[key]
            changes[field] = coerce_setting(field, value)
        with self._lock:
            self._overrides.setdefault(prefix, {}).update(changes)

    def for_table(self, table):
        table = table or ""
        with self._lock:
            prefix = max((p for p in self._overrides if table.startswith(p)), key=len)
            fields = dict(self._overrides[""])
            fields.update(self._overrides[prefix])
        return Settings(**fields)

    def describe(self):
        names = {field: key for key, field in CONFIG_FIELDS.items()}
        with self._lock:
            return {
                prefix: {names[field]: value for field, value in fields.items()}
                for prefix, fields in self._overrides.items()
            }


# ------------------------------------------------------------------------------------------------
# DynamoDB errors the proxy answers itself


class DynamoError(Exception):
    """A DynamoDB error answer (status 400) in the JSON form the AWS SDKs parse."""

    def __init__(self, kind, message, reasons=None):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.reasons = reasons

    def body(self):
        if self.reasons is None:
            return {"__type": ERROR_PREFIX + self.kind, "message": self.message}
        # moto's (and DynamoDB's) shape for TransactionCanceledException.
        return {
            "__type": ERROR_PREFIX + self.kind,
            "CancellationReasons": self.reasons,
            "Message": self.message,
        }


def validation_error(message):
    return DynamoError("ValidationException", message)


def throughput_exceeded():
    return DynamoError("ProvisionedThroughputExceededException", THROUGHPUT_MESSAGE)


REASON_MESSAGES = {"TransactionConflict": CONFLICT_MESSAGE, "ThrottlingError": THROUGHPUT_MESSAGE}


def transaction_cancelled(codes):
    """TransactionCanceledException with one reason per action: a code, or None for "None"."""
    reasons = [
        {"Code": code, "Message": REASON_MESSAGES[code]} if code else {"Code": "None"}
        for code in codes
    ]
    summary = ", ".join(code or "None" for code in codes)
    message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{summary}]"
    return DynamoError("TransactionCanceledException", message, reasons)


# ------------------------------------------------------------------------------------------------
# Items, keys and sizes (DynamoDB JSON: {"name": {"S": "..."}})


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def item_id(table, key):
    """An item's identity: its table and canonical primary key."""
    return table + "\n" + canonical(key)


def scalar(value):
    """The raw value of a scalar attribute value ({"S": "x"} -> "x")."""
    return next(iter(value.values())) if isinstance(value, dict) and value else None


def number_size(text):
    """AWS's size of a number: one byte per two significant digits, plus one."""
    digits = re.sub(r"[eE].*$", "", str(text)).lstrip("+-").replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def attribute_size(value):
    """Estimated bytes of one attribute value, by DynamoDB's published item-size rules."""
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return number_size(raw)
    if kind == "B":
        return len(base64.b64decode(raw))
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    if kind == "NS":
        return sum(number_size(n) for n in raw)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + attribute_size(v) for k, v in raw.items())
    return 1  # BOOL, NULL


def item_size(item):
    """Estimated bytes of an item: attribute names plus values."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in (item or {}).items())


def write_size(kind, request):
    """Estimated bytes one write stores: the item of a Put; key and new values of an Update."""
    if kind in ("Put", "PutItem", "PutRequest"):
        return item_size(request.get("Item"))
    size = item_size(request.get("Key"))
    if kind in ("Update", "UpdateItem"):
        values = request.get("ExpressionAttributeValues") or {}
        size += sum(attribute_size(v) for v in values.values())
        for name, update in (request.get("AttributeUpdates") or {}).items():
            size += len(name.encode()) + (attribute_size(update["Value"]) if "Value" in update else 0)
    return size


def write_units(kind, request, transactional=False):
    """Write units of one write: 1 per started KB (1 for a delete or check), twice in transactions."""
    if kind in ("Delete", "DeleteItem", "DeleteRequest", "ConditionCheck"):
        units = 1
    else:
        units = max(1, math.ceil(write_size(kind, request) / KB))
    return units * (2 if transactional else 1)


def read_units(size, consistent, transactional=False):
    """Read units of reading `size` bytes: 1 per started 4 KB (at least 1), halved when eventual."""
    units = max(1, math.ceil(size / (4 * KB)))
    if transactional:
        return units * 2
    return units if consistent else units / 2


def sort_value(value):
    """A value that orders attribute values as DynamoDB orders keys (numbers, then UTF-8 bytes)."""
    if value is None:
        return (-1, b"")
    kind, raw = next(iter(value.items()))
    if kind == "N":
        return (0, decimal.Decimal(raw))
    if kind == "S":
        return (1, raw.encode())
    if kind == "B":
        return (2, base64.b64decode(raw))
    return (3, canonical(value).encode())


# ------------------------------------------------------------------------------------------------
# Table schemas (from DescribeTable, cached)


@dataclasses.dataclass(frozen=True)
class IndexSchema:
    name: str
    hash_key: str
    range_key: object  # str or None
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key: tuple
    is_global: bool

    @property
    def key_names(self):
        return [self.hash_key] + ([self.range_key] if self.range_key else [])

    def holds(self, image):
        """Whether an item image appears in this (sparse) index."""
        return image is not None and all(name in image for name in self.key_names)


def key_schema_names(key_schema):
    hash_key = next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
    range_key = next((k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"), None)
    return hash_key, range_key


@dataclasses.dataclass(frozen=True)
class TableSchema:
    name: str
    hash_key: str
    range_key: object  # str or None
    indexes: dict

    @classmethod
    def from_description(cls, table):
        hash_key, range_key = key_schema_names(table["KeySchema"])
        indexes = {}
        for field, is_global in (("GlobalSecondaryIndexes", True), ("LocalSecondaryIndexes", False)):
            for index in table.get(field) or []:
                index_hash, index_range = key_schema_names(index["KeySchema"])
                projection = index.get("Projection") or {}
                indexes[index["IndexName"]] = IndexSchema(
                    name=index["IndexName"],
                    hash_key=index_hash,
                    range_key=index_range,
                    projection=projection.get("ProjectionType", "ALL"),
                    non_key=tuple(projection.get("NonKeyAttributes") or ()),
                    is_global=is_global,
                )
        return cls(table["TableName"], hash_key, range_key, indexes)

    @property
    def key_names(self):
        return [self.hash_key] + ([self.range_key] if self.range_key else [])

    @property
    def has_global_indexes(self):
        return any(index.is_global for index in self.indexes.values())

    def key_of(self, item):
        """The primary key of an item (or of a Key), or None when an attribute is missing."""
        if not isinstance(item, dict) or not all(name in item for name in self.key_names):
            return None
        return {name: item[name] for name in self.key_names}

    def key_of_write(self, kind, request):
        """The key a write (Put/Update/Delete/ConditionCheck, any spelling) targets."""
        if kind in ("Put", "PutItem", "PutRequest"):
            return self.key_of(request.get("Item"))
        return self.key_of(request.get("Key"))

    def project_to_index(self, image, index):
        """The part of an item image that `index` stores."""
        if index.projection == "ALL":
            return dict(image)
        keep = set(self.key_names) | set(index.key_names)
        if index.projection == "INCLUDE":
            keep |= set(index.non_key)
        return {name: value for name, value in image.items() if name in keep}


class SchemaCache:
    """DescribeTable answers, kept for a few seconds (tables are re-created between runs)."""

    TTL_SECONDS = 10.0

    def __init__(self, upstream):
        self._upstream = upstream
        self._lock = threading.Lock()
        self._schemas = {}

    def get(self, table, auth_headers):
        if not isinstance(table, str) or not table:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._schemas.get(table)
        if cached and now - cached[0] < self.TTL_SECONDS:
            return cached[1]
        status, answer = self._upstream.call("DescribeTable", {"TableName": table}, auth_headers)
        if status != 200:
            return None
        schema = TableSchema.from_description(answer["Table"])
        with self._lock:
            self._schemas[table] = (now, schema)
        return schema

    def forget(self, table=None):
        with self._lock:
            if table is None:
                self._schemas.clear()
            else:
                self._schemas.pop(table, None)


# ------------------------------------------------------------------------------------------------
# The upstream (moto)


@dataclasses.dataclass
class Response:
    status: int
    headers: list  # [(name, value)]
    body: bytes

    def json(self):
        return json.loads(self.body or b"{}")

    def with_json(self, document):
        """This answer with a rewritten JSON body (length and DynamoDB's CRC32 header updated)."""
        body = json.dumps(document).encode()
        headers = [(n, v) for n, v in self.headers if n.lower() != "x-amz-crc32"]
        headers.append(("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)))
        return Response(self.status, headers, body)


def json_response(status, document, extra_headers=()):
    headers = [("Content-Type", JSON_CONTENT_TYPE), ("x-amzn-RequestId", str(uuid.uuid4()))]
    return Response(status, headers + list(extra_headers), json.dumps(document).encode())


def error_response(error):
    return json_response(400, error.body())


class Upstream:
    """HTTP/1.1 keep-alive connections to moto, reused across requests."""

    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"--upstream must be http://host:port, not {url!r}")
        self.url = url
        self.netloc = parsed.netloc
        self._host = parsed.hostname
        self._port = parsed.port or 80
        self._lock = threading.Lock()
        self._idle = []

    def _connection(self):
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        connection = http.client.HTTPConnection(self._host, self._port, timeout=300)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, False

    def _release(self, connection):
        with self._lock:
            self._idle.append(connection)

    def send(self, method, path, headers, body):
        """Sends one request; retries once when a reused idle connection turns out closed."""
        headers = [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP]
        if not any(n.lower() == "host" for n, _ in headers):
            headers.append(("Host", self.netloc))
        headers.append(("Content-Length", str(len(body))))
        for attempt in (1, 2):
            connection, reused = self._connection()
            try:
                connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    connection.putheader(name, value)
                connection.endheaders(body)
                answer = connection.getresponse()
                data = answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if reused and attempt == 1:
                    continue
                raise
            except Exception:
                connection.close()
                raise
            if answer.will_close:
                connection.close()
            else:
                self._release(connection)
            return Response(answer.status, answer.getheaders(), data)
        raise AssertionError("unreachable")

    def call(self, operation, payload, auth_headers):
        """The proxy's own DynamoDB call (DescribeTable, GetItem): (status, JSON answer)."""
        headers = list(auth_headers) + [
            ("Content-Type", JSON_CONTENT_TYPE),
            ("X-Amz-Target", TARGET_PREFIX + operation),
        ]
        answer = self.send("POST", "/", headers, json.dumps(payload).encode())
        try:
            return answer.status, answer.json()
        except ValueError:
            return answer.status, {}


# ------------------------------------------------------------------------------------------------
# Stats


class Stats:
    """What the models did, for GET /strict/stats."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._requests = collections.Counter()
            self._counters = collections.Counter()
            self._throttled_by_key = collections.Counter()
            self._limit_violations = collections.Counter()
            self._peaks = {"write": {"key": None, "units": 0}, "read": {"key": None, "units": 0}}

    def request(self, operation):
        with self._lock:
            self._requests[operation] += 1

    def add(self, counter, n=1):
        with self._lock:
            self._counters[counter] += n

    def throttled(self, keys):
        with self._lock:
            self._counters["throttled"] += 1
            self._throttled_by_key.update(keys)

    def limit_violation(self, kind):
        with self._lock:
            self._limit_violations[kind] += 1

    def peak(self, kind, key, units):
        with self._lock:
            if units > self._peaks[kind]["units"]:
                self._peaks[kind] = {"key": key, "units": tidy_number(units)}

    def snapshot(self):
        """requests: DynamoDB calls received per operation (refused ones included);
        transactionConflicts: TransactWriteItems/TransactGetItems cancelled with TransactionConflict;
        conflictExceptions: single writes refused with TransactionConflictException, plus
        BatchWriteItem requests deferred (UnprocessedItems) for the same reason; throttled: calls
        refused or batch requests deferred for throughput, throttledByKey: the 10 keys most often;
        lagHidden: GSI entries hidden, served stale or shown after deletion; limitViolations:
        per kind (transactionActions, transactionDuplicateItem, transactionSize, itemSize,
        batchWriteRequests, batchGetKeys, pageSize, consistentReadOnIndex); max*UnitsPerSecond:
        the most units charged to one partition key within one sliding second."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "transactionConflicts": self._counters["transactionConflicts"],
                "conflictExceptions": self._counters["conflictExceptions"],
                "throttled": self._counters["throttled"],
                "throttledByKey": dict(self._throttled_by_key.most_common(10)),
                "lagHidden": self._counters["lagHidden"],
                "limitViolations": dict(self._limit_violations),
                "maxWriteUnitsPerSecond": dict(self._peaks["write"]),
                "maxReadUnitsPerSecond": dict(self._peaks["read"]),
            }


def tidy_number(x):
    return int(x) if float(x).is_integer() else round(x, 3)


# ------------------------------------------------------------------------------------------------
# Model 1: transaction conflicts


class InFlightItems:
    """The items in-flight transactions and single writes touch (item ids, see item_id)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._transactions = set()
        self._writes = collections.Counter()

    def begin_transaction(self, ids):
        """Holds `ids` for a transaction; or, when any is held already, holds none and returns those."""
        with self._lock:
            taken = {i for i in ids if i in self._transactions or self._writes[i]}
            if not taken:
                self._transactions.update(ids)
            return taken

    def end_transaction(self, ids):
        with self._lock:
            self._transactions.difference_update(ids)

    def begin_writes(self, ids):
        """Holds the `ids` no transaction holds, for single writes; returns the refused ones."""
        with self._lock:
            refused = {i for i in ids if i in self._transactions}
            self._writes.update(i for i in ids if i not in refused)
            return refused

    def end_writes(self, ids):
        with self._lock:
            for i in ids:
                self._writes[i] -= 1
                if self._writes[i] <= 0:
                    del self._writes[i]

    def being_written(self, ids):
        """The `ids` an in-flight transaction or write holds (a TransactGetItems conflicts on them)."""
        with self._lock:
            return {i for i in ids if i in self._transactions or self._writes[i]}


# ------------------------------------------------------------------------------------------------
# Model 3: throughput per partition key


def partition_key(table, value, index=None):
    """The name a partition key's bucket and stats go by: "<table>|<value>", "<table>/<index>|..."."""
    return f"{table}/{index}|{scalar(value)}" if index else f"{table}|{scalar(value)}"


class Throughput:
    """Token buckets per (kind, partition key), and each key's units in a sliding second.

    A rate of 0 means no limit."""

    def __init__(self, stats):
        self._stats = stats
        self._lock = threading.Lock()
        self._buckets = {}  # (kind, key) -> [tokens, updated]
        self._windows = {}  # (kind, key) -> [deque of (time, units), sum]

    def _bucket(self, kind, key, rate, now):
        bucket = self._buckets.setdefault((kind, key), [rate, now])
        bucket[0] = min(rate, bucket[0] + rate * (now - bucket[1]))
        bucket[1] = now
        return bucket

    def _record(self, kind, key, units, now):
        window = self._windows.setdefault((kind, key), [collections.deque(), 0.0])
        window[0].append((now, units))
        window[1] += units
        while window[0] and now - window[0][0][0] >= 1.0:
            window[1] -= window[0].popleft()[1]
        self._stats.peak(kind, key, window[1])

    def take(self, kind, demands):
        """Charges {key: (units, rate, enforced)} when every enforced key has room; else charges
        nothing and returns the keys over their rate. A full bucket admits any one request."""
        now = time.monotonic()
        with self._lock:
            over = set()
            for key, (units, rate, enforced) in demands.items():
                tokens = self._bucket(kind, key, rate, now)[0]
                if enforced and rate > 0 and tokens < units and tokens < rate:
                    over.add(key)
            if over:
                return over
            for key, (units, rate, _) in demands.items():
                self._buckets[(kind, key)][0] -= units
                self._record(kind, key, units, now)
            return over

    def has_room(self, kind, key, rate):
        """Whether a key's bucket is out of debt (reads are checked first and charged after)."""
        with self._lock:
            return rate <= 0 or self._bucket(kind, key, rate, time.monotonic())[0] > 0

    def charge(self, kind, key, units, rate):
        now = time.monotonic()
        with self._lock:
            self._bucket(kind, key, rate, now)[0] -= units
            self._record(kind, key, units, now)

    def reset_windows(self):
        with self._lock:
            self._windows.clear()


# ------------------------------------------------------------------------------------------------
# Model 2: eventually consistent GSIs


class ReadWriteLock:
    """Many shared() holders at once, or one exclusive(); a waiting exclusive() goes first."""

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self):
        with self._cond:
            while self._exclusive or self._waiting:
                self._cond.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self):
        with self._cond:
            self._waiting += 1
            while self._exclusive or self._shared:
                self._cond.wait()
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


@dataclasses.dataclass
class Pending:
    """An item whose latest write its GSIs do not show yet, and the image they show instead."""

    key: dict
    visible: object  # the image GSIs show now (None: no item)


class GsiLag:
    """Per item, the images it had and when each becomes visible to the table's GSIs.

    Writes to a lagged table hold its lock shared (from the image read before the write to the
    history entry after), GSI reads exclusively: a GSI read then sees every write moto has applied
    in the history. Writes to one item are serialised by a per-item lock so before/after images
    are right."""

    def __init__(self):
        self._lock = threading.Lock()
        self._history = {}  # item id -> (key, [(visible_at, image)])
        self._by_table = collections.defaultdict(set)
        self._table_locks = collections.defaultdict(ReadWriteLock)
        self._item_locks = {}  # item id -> [lock, users]
        self._records = 0

    def table_lock(self, table):
        with self._lock:
            return self._table_locks[table]

    @contextlib.contextmanager
    def item_locks(self, ids):
        ids = sorted(set(ids))
        with self._lock:
            locks = []
            for i in ids:
                entry = self._item_locks.setdefault(i, [threading.Lock(), 0])
                entry[1] += 1
                locks.append(entry[0])
        try:
            with contextlib.ExitStack() as stack:
                for lock in locks:
                    stack.enter_context(lock)
                yield
        finally:
            with self._lock:
                for i in ids:
                    self._item_locks[i][1] -= 1
                    if not self._item_locks[i][1]:
                        del self._item_locks[i]

    def record(self, table, ident, key, before, after, delay):
        """A write changed an item from `before` to `after`; GSIs show it `delay` seconds on."""
        now = time.monotonic()
        with self._lock:
            self._records += 1
            if self._records % 1000 == 0:
                self._forget_visible(now)
            entry = self._history.get(ident)
            if entry is None or entry[1][-1][0] <= now:
                entry = (key, [(-math.inf, before)])
                self._history[ident] = entry
                self._by_table[table].add(ident)
            visible_at = max(now + delay, entry[1][-1][0])
            entry[1].append((visible_at, after))

    def _forget_visible(self, now):
        """Drops the histories whose every write is visible (moto's state is then the truth)."""
        for table, idents in self._by_table.items():
            for ident in [i for i in idents if self._history[i][1][-1][0] <= now]:
                del self._history[ident]
                idents.discard(ident)

    def pending(self, table, now):
        """{item id: Pending} for the table's items with a write not yet visible at `now`."""
        found = {}
        with self._lock:
            for ident in list(self._by_table.get(table, ())):
                key, history = self._history[ident]
                if history[-1][0] <= now:
                    del self._history[ident]
                    self._by_table[table].discard(ident)
                    continue
                shown = max(i for i, (visible_at, _) in enumerate(history) if visible_at <= now)
                del history[:shown]
                found[ident] = Pending(key, history[0][1])
        return found

    def clear(self):
        with self._lock:
            self._history.clear()
            self._by_table.clear()


# ------------------------------------------------------------------------------------------------
# Expressions: key conditions and projections

TOKEN_RE = re.compile(r"\s*(<=|>=|<>|=|<|>|\(|\)|,|[#:]?[A-Za-z0-9_\-.]+)")


def tokenize(expression):
    tokens, pos = [], 0
    expression = expression.rstrip()
    while pos < len(expression):
        match = TOKEN_RE.match(expression, pos)
        if not match:
            raise ValueError(f"cannot read {expression[pos:]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


class KeyConditionParser:
    """Parses a KeyConditionExpression into [(attribute, op, [values])]: `=` on the partition key
    and an optional sort-key `=`, `<`, `<=`, `>`, `>=`, `BETWEEN a AND b` or `begins_with`."""

    FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

    def __init__(self, expression, names, values):
        self.tokens = tokenize(expression)
        self.pos = 0
        self.names = names or {}
        self.values = values or {}

    def parse(self):
        conditions = self.conjunction()
        if self.pos != len(self.tokens):
            raise ValueError("trailing tokens")
        return conditions

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, expected=None):
        token = self.peek()
        if token is None or (expected and token.upper() != expected.upper()):
            raise ValueError(f"expected {expected}, found {token}")
        self.pos += 1
        return token

    def conjunction(self):
        conditions = self.term()
        while (self.peek() or "").upper() == "AND":
            self.next()
            conditions += self.term()
        return conditions

    def term(self):
        if self.peek() == "(":
            self.next()
            conditions = self.conjunction()
            self.next(")")
            return conditions
        if (self.peek() or "").lower() == "begins_with":
            self.next()
            self.next("(")
            name = self.operand()
            self.next(",")
            prefix = self.operand()
            self.next(")")
            return [(name, "begins_with", [prefix])]
        left = self.operand()
        op = self.next()
        if op.upper() == "BETWEEN":
            low = self.operand()
            self.next("AND")
            return [(left, "between", [low, self.operand()])]
        if op not in self.FLIPPED:
            raise ValueError(f"unsupported operator {op}")
        right = self.operand()
        if isinstance(left, dict):  # `:v < #k`
            left, right, op = right, left, self.FLIPPED[op]
        return [(left, op, [right])]

    def operand(self):
        """An attribute name (str) or a value (dict)."""
        token = self.next()
        if token.startswith(":"):
            return self.values[token]
        if token.startswith("#"):
            return self.names[token]
        return token


def parse_key_condition(body):
    """A Query's key conditions as [(attribute, op, [values])], or None when they cannot be read."""
    try:
        if "KeyConditionExpression" in body:
            parser = KeyConditionParser(
                body["KeyConditionExpression"],
                body.get("ExpressionAttributeNames"),
                body.get("ExpressionAttributeValues"),
            )
            conditions = parser.parse()
        else:  # the legacy KeyConditions parameter
            conditions = [
                (name, LEGACY_OPERATORS[c["ComparisonOperator"]], c.get("AttributeValueList", []))
                for name, c in (body.get("KeyConditions") or {}).items()
            ]
    except (ValueError, KeyError, TypeError):
        return None
    if not conditions or not all(isinstance(name, str) for name, _, _ in conditions):
        return None
    return conditions


LEGACY_OPERATORS = {
    "EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">=",
    "BETWEEN": "between", "BEGINS_WITH": "begins_with",
}


def condition_holds(image, condition):
    """Whether an item image satisfies one key condition."""
    name, op, operands = condition
    value = image.get(name)
    if value is None or any(next(iter(o)) != next(iter(value)) for o in operands):
        return False
    if op == "begins_with":
        kind, raw = next(iter(value.items()))
        prefix = scalar(operands[0])
        if kind == "B":
            return base64.b64decode(raw).startswith(base64.b64decode(prefix))
        return kind == "S" and raw.startswith(prefix)
    have, wanted = sort_value(value), [sort_value(o) for o in operands]
    if op == "between":
        return wanted[0] <= have <= wanted[1]
    return {
        "=": have == wanted[0], "<": have < wanted[0], "<=": have <= wanted[0],
        ">": have > wanted[0], ">=": have >= wanted[0],
    }[op]


def parse_projection(expression, names):
    """A ProjectionExpression as paths: lists of attribute names (str) and list indexes (int)."""
    names = names or {}
    paths = []
    for part in expression.split(","):
        path = []
        for name, index in re.findall(r"([^.\[\]\s]+)|\[\s*(\d+)\s*\]", part):
            if index:
                path.append(int(index))
            else:
                path.append(names.get(name, name))
        if path:
            paths.append(path)
    return paths


def path_tree(paths):
    """Paths as a tree {segment: subtree, or True for "the whole value"}."""
    tree = {}
    for path in paths:
        node = tree
        for segment in path[:-1]:
            child = node.get(segment)
            if child is True:
                break
            node = node.setdefault(segment, {})
        else:
            node[path[-1]] = True
    return tree


def select_paths(item, paths):
    """The parts of an item that a projection's paths name (what DynamoDB returns for them)."""
    return select_map(item, path_tree(paths))


def select_map(attributes, tree):
    selected = {}
    for name, subtree in tree.items():
        if not isinstance(name, str) or name not in attributes:
            continue
        value = attributes[name] if subtree is True else select_value(attributes[name], subtree)
        if value is not None:
            selected[name] = value
    return selected


def select_value(value, tree):
    if "M" in value:
        inner = select_map(value["M"], tree)
        return {"M": inner} if inner else None
    if "L" in value:
        elements = value["L"]
        picked = []
        for index in sorted(i for i in tree if isinstance(i, int) and i < len(elements)):
            element = elements[index] if tree[index] is True else select_value(elements[index], tree[index])
            if element is not None:
                picked.append(element)
        return {"L": picked} if picked else None
    return None


# ------------------------------------------------------------------------------------------------
# Model 2, continued: reading a GSI through the lag


class IndexRead:
    """A Query/Scan on a lagged GSI: widened so moto returns whole index entries with their keys
    (COUNT becomes a read of the items; a projection gains the key attributes), and narrowed back
    after the rewrite."""

    KEY_ALIAS = "#strictKey"

    def __init__(self, body, key_names):
        self.body = body
        self.count_only = body.get("Select") == "COUNT"
        self.added = []
        self.paths = None
        self.request = json.loads(json.dumps(body))
        if self.count_only:
            self.request["Select"] = "ALL_PROJECTED_ATTRIBUTES"
        elif body.get("ProjectionExpression"):
            self._add_to_projection(key_names)
        elif body.get("AttributesToGet"):
            self.paths = [[name] for name in body["AttributesToGet"]]
            self.added = [k for k in key_names if k not in body["AttributesToGet"]]
            self.request["AttributesToGet"] = list(body["AttributesToGet"]) + self.added

    def _add_to_projection(self, key_names):
        names = self.request.setdefault("ExpressionAttributeNames", {})
        self.paths = parse_projection(self.body["ProjectionExpression"], names)
        top = {path[0] for path in self.paths}
        self.added = [k for k in key_names if k not in top]
        aliases = []
        for n, name in enumerate(self.added):
            alias = f"{self.KEY_ALIAS}{n}"
            names[alias] = name
            aliases.append(alias)
        if aliases:
            self.request["ProjectionExpression"] = ", ".join([self.body["ProjectionExpression"]] + aliases)

    def shape(self, entry):
        """An index entry as moto answers the widened request."""
        if self.paths is None:
            return entry
        return select_paths(entry, self.paths + [[name] for name in self.added])

    def narrow(self, page):
        """The page as the original request asks it."""
        items = page.pop("Items", [])
        page["Count"] = len(items)
        if self.count_only:
            return
        page["Items"] = [{k: v for k, v in item.items() if k not in self.added} for item in items]


def page_position(schema, index):
    """A function: an item's (or a key's) place in an index's order."""

    def position(item):
        return (
            sort_value(item.get(index.range_key)) if index.range_key else (-1, b""),
            sort_value(item.get(schema.hash_key)),
            sort_value(item.get(schema.range_key)) if schema.range_key else (-1, b""),
        )

    return position


class LagRewrite:
    """Rewrites one GSI page so that each item with a pending write shows as its visible image."""

    def __init__(self, op, body, page, schema, index, shape, conditions):
        self.op = op
        self.body = body
        self.page = page
        self.schema = schema
        self.index = index
        self.shape = shape  # index entry -> what moto would return for it
        self.conditions = conditions
        self.position = page_position(schema, index)
        self.forward = body.get("ScanIndexForward", True) is not False

    def in_page(self, image):
        """Whether an image falls between the page's ExclusiveStartKey and LastEvaluatedKey."""
        if self.op == "Scan":
            return True
        here = self.position(image)
        start, end = self.body.get("ExclusiveStartKey"), self.page.get("LastEvaluatedKey")
        before = (lambda a, b: a < b) if self.forward else (lambda a, b: a > b)
        if start and not before(self.position(start), here):
            return False
        return not (end and before(self.position(end), here))

    def matches(self, image):
        return (
            self.index.holds(image)
            and all(condition_holds(image, c) for c in self.conditions)
            and self.in_page(image)
        )

    def may_add(self):
        """Whether items moto does not return may be shown (see the module docs)."""
        if self.body.get("FilterExpression") or self.body.get("QueryFilter") or self.body.get("ScanFilter"):
            return False
        if self.op == "Scan":
            return not (
                self.body.get("ExclusiveStartKey")
                or self.page.get("LastEvaluatedKey")
                or "Segment" in self.body
            )
        return True

    def entry(self, image):
        return self.shape(self.schema.project_to_index(image, self.index))

    def apply(self, pending):
        """Rewrites the page; returns how many items were hidden, replaced or added."""
        items = self.page.get("Items", [])
        kept, seen, removed, replaced = [], set(), 0, 0
        for item in items:
            key = self.schema.key_of(item)
            ident = item_id(self.schema.name, key) if key else None
            if ident not in pending:
                kept.append(item)
                continue
            seen.add(ident)
            image = pending[ident].visible
            if not self.matches(image):
                removed += 1
                continue
            shown = self.entry(image)
            replaced += shown != item
            kept.append(shown)
        added = self._added(pending, seen) if self.may_add() else []
        if not (removed or replaced or added):
            return 0
        if self.op == "Query":
            kept = sorted(kept + added, key=self.position, reverse=not self.forward)
            kept = self._cut_at_limit(kept)
        else:
            kept += added[: max(0, self.body.get("Limit", len(kept) + len(added)) - len(kept))]
        added_ids = {id(entry) for entry in added}
        shown_added = sum(1 for entry in kept if id(entry) in added_ids)
        self.page["Items"] = kept
        self.page["Count"] = len(kept)
        scanned = self.page.get("ScannedCount", len(items)) - removed + shown_added
        self.page["ScannedCount"] = max(len(kept), scanned)
        return removed + replaced + shown_added

    def _added(self, pending, seen):
        """Entries the index still shows in this page's range but moto no longer returns."""
        images = [p.visible for ident, p in pending.items() if ident not in seen]
        images = [image for image in images if self.matches(image)]
        images.sort(key=self.position, reverse=not self.forward)
        return [self.entry(image) for image in images]

    def _cut_at_limit(self, entries):
        """At most Limit entries; when cut, the page continues after the last one kept (moto
        resumes from a position whether or not an item is still there)."""
        limit = self.body.get("Limit")
        if limit is None or len(entries) <= limit:
            return entries
        key_names = self.schema.key_names + self.index.key_names
        last = entries[limit - 1]
        if all(name in last for name in key_names):
            self.page["LastEvaluatedKey"] = {name: last[name] for name in key_names}
        return entries[:limit]


# ------------------------------------------------------------------------------------------------
# Model 5: the trace

APP_NAME_RE = re.compile(r"(?:^|\s)app/(\S+)")
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")


def principal_of(headers):
    """The caller: the SDK's `app/<name>` user-agent token, else the access key id, else unknown."""
    for header in ("x-amz-user-agent", "user-agent"):
        match = APP_NAME_RE.search(headers.get(header) or "")
        if match:
            return match.group(1)
    match = CREDENTIAL_RE.search(headers.get("authorization") or "")
    return match.group(1) if match else "unknown"


def iam_actions(op, body):
    """[(IAM action, table, index)] one DynamoDB request performs."""
    if op == "TransactWriteItems":
        actions = []
        for action in body.get("TransactItems") or []:
            for kind, request in action.items():
                table = request.get("TableName") if isinstance(request, dict) else None
                actions.append((TRANSACT_IAM_ACTIONS.get(kind, f"dynamodb:{kind}"), table, None))
        return actions
    if op == "TransactGetItems":
        gets = [a.get("Get") or {} for a in body.get("TransactItems") or []]
        return [("dynamodb:GetItem", get.get("TableName"), None) for get in gets]
    if op in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{op}", table, None) for table in body.get("RequestItems") or {}]
    index = body.get("IndexName") if op in ("Query", "Scan") else None
    return [(f"dynamodb:{op}", body.get("TableName"), index)]


class Trace:
    """Appends one JSON line per distinct (principal, action, table, index) to a file."""

    def __init__(self, path):
        self._file = open(path, "a", encoding="utf-8") if path else None
        self._seen = set()
        self._lock = threading.Lock()

    def record(self, principal, action, table, index=None):
        if self._file is None:
            return
        entry = (principal, action, table, index)
        with self._lock:
            if entry in self._seen:
                return
            self._seen.add(entry)
            line = {"principal": principal, "action": action, "table": table, "index": index}
            self._file.write(json.dumps(line) + "\n")
            self._file.flush()

    def close(self):
        if self._file:
            self._file.close()


# ------------------------------------------------------------------------------------------------
# The proxy


@dataclasses.dataclass
class Call:
    """One DynamoDB request as the client sent it."""

    op: str
    body: dict
    raw: bytes
    path: str
    headers: list  # [(name, value)]

    @property
    def auth_headers(self):
        return [(n, v) for n, v in self.headers if n.lower() in AUTH_HEADERS]

    @property
    def table(self):
        return self.body.get("TableName")


@dataclasses.dataclass(frozen=True)
class Write:
    """One item a write request changes."""

    table: str
    ident: str
    key: dict


@dataclasses.dataclass
class Action:
    """One action of a transaction, resolved against its table."""

    kind: str
    request: dict
    table: str
    schema: TableSchema
    key: dict

    @property
    def ident(self):
        return item_id(self.table, self.key)

    @property
    def partition(self):
        return partition_key(self.table, self.key[self.schema.hash_key])


class StrictProxy:
    """The models, applied to each request; transport-independent (see ProxyHandler)."""

    def __init__(self, upstream, config, rng, trace):
        self.upstream = upstream
        self.config = config
        self.stats = Stats()
        self.schemas = SchemaCache(upstream)
        self.inflight = InFlightItems()
        self.throughput = Throughput(self.stats)
        self.lag = GsiLag()
        self.trace = trace
        self._rng = rng
        self._rng_lock = threading.Lock()
        self.handlers = {
            "PutItem": self.single_write,
            "UpdateItem": self.single_write,
            "DeleteItem": self.single_write,
            "TransactWriteItems": self.transact_write,
            "TransactGetItems": self.transact_get,
            "BatchWriteItem": self.batch_write,
            "BatchGetItem": self.batch_get,
            "GetItem": self.get_item,
            "Query": self.query_or_scan,
            "Scan": self.query_or_scan,
        }

    def random(self):
        with self._rng_lock:
            return self._rng.random()

    def close(self):
        self.trace.close()

    # -- entry point ------------------------------------------------------------------------------

    def handle(self, method, path, headers, body):
        """Answers one HTTP request: a control endpoint, a DynamoDB call, or anything else."""
        if path.startswith("/strict/"):
            return self.control(method, path, body)
        target = headers.get("x-amz-target") or ""
        if method == "POST" and target.startswith(TARGET_PREFIX):
            try:
                document = json.loads(body or b"{}")
            except ValueError:
                document = None
            if isinstance(document, dict):
                call = Call(target[len(TARGET_PREFIX):], document, body, path, headers.items())
                return self.dynamodb(call, principal_of(headers))
        if "/@connections/" in path:
            self.trace.record(principal_of(headers), "execute-api:ManageConnections", None)
        response = self.upstream.send(method, path, headers.items(), body)
        if path.startswith("/moto-api/reset"):
            self.lag.clear()
            self.schemas.forget()
        return response

    def dynamodb(self, call, principal):
        self.stats.request(call.op)
        actions = iam_actions(call.op, call.body)
        for action, table, index in actions:
            self.trace.record(principal, action, table, index)
        latency_ms = max((self.config.for_table(table).latency_ms for _, table, _ in actions), default=0.0)
        if latency_ms > 0:
            time.sleep(latency_ms / 1000.0)
        handler = self.handlers.get(call.op, self.forward)
        try:
            response = handler(call)
        except DynamoError as error:
            return error_response(error)
        if call.op in ("CreateTable", "DeleteTable", "UpdateTable"):
            self.schemas.forget(call.table)
        return response

    def forward(self, call, body=None):
        """Sends the call to moto as it came, or with a rewritten JSON body."""
        raw = call.raw if body is None else json.dumps(body).encode()
        return self.upstream.send("POST", call.path, call.headers, raw)

    def control(self, method, path, body):
        path = path.split("?")[0].rstrip("/")
        if method == "GET" and path == "/strict/stats":
            return json_response(200, self.stats.snapshot())
        if method == "POST" and path == "/strict/stats/reset":
            self.stats.reset()
            self.throughput.reset_windows()
            return json_response(200, {"ok": True})
        if method == "GET" and path == "/strict/config":
            return json_response(200, self.config.describe())
        if method == "POST" and path == "/strict/config":
            try:
                self.config.update(json.loads(body or b"{}"))
            except ValueError as error:
                return json_response(400, {"ok": False, "error": str(error)})
            return json_response(200, {"ok": True})
        return json_response(404, {"ok": False, "error": f"no control endpoint {method} {path}"})

    # -- helpers shared by the handlers -----------------------------------------------------------

    def schema(self, call, table):
        return self.schemas.get(table, call.auth_headers)

    def limit(self, kind, message):
        """Counts a hard-limit violation and returns the ValidationException to raise."""
        self.stats.limit_violation(kind)
        return validation_error(message)

    def check_item_size(self, item):
        if item_size(item) > MAX_ITEM_BYTES:
            raise self.limit("itemSize", ITEM_SIZE_MESSAGE)

    def lagged(self, settings, schema):
        return settings.gsi_lag_ms > 0 and schema is not None and schema.has_global_indexes

    def read_image(self, call, write):
        """An item as moto holds it now: (True, item or None), or (False, None) when unreadable."""
        status, answer = self.upstream.call(
            "GetItem", {"TableName": write.table, "Key": write.key, "ConsistentRead": True}, call.auth_headers
        )
        return (status == 200), answer.get("Item") if status == 200 else None

    def read_images(self, call, writes):
        """{item id: read_image(...)} for many items, in one BatchGetItem per 100 keys."""
        if len(writes) == 1:
            return {writes[0].ident: self.read_image(call, writes[0])}
        unique = list({w.ident: w for w in writes}.values())
        images = {}
        for start in range(0, len(unique), MAX_BATCH_GET_KEYS):
            chunk = unique[start:start + MAX_BATCH_GET_KEYS]
            request = collections.defaultdict(lambda: {"Keys": [], "ConsistentRead": True})
            for write in chunk:
                request[write.table]["Keys"].append(write.key)
            status, answer = self.upstream.call("BatchGetItem", {"RequestItems": request}, call.auth_headers)
            if status != 200 or answer.get("UnprocessedKeys"):
                images.update({w.ident: self.read_image(call, w) for w in chunk})
                continue
            found = {}
            for table, items in (answer.get("Responses") or {}).items():
                schema = self.schema(call, table)
                for item in items:
                    found[item_id(table, schema.key_of(item))] = item
            images.update({w.ident: (True, found.get(w.ident)) for w in chunk})
        return images

    def forward_write(self, call, writes, body=None):
        """Forwards a write; on tables with GSI lag, records each item's new image for the GSIs."""
        lag_ms = {w.table: self.config.for_table(w.table).gsi_lag_ms for w in writes}
        lagged = [w for w in writes if self.lagged(self.config.for_table(w.table), self.schema(call, w.table))]
        if not lagged:
            return self.forward(call, body)
        with contextlib.ExitStack() as stack:
            for table in sorted({w.table for w in lagged}):
                stack.enter_context(self.lag.table_lock(table).shared())
            stack.enter_context(self.lag.item_locks([w.ident for w in lagged]))
            before = self.read_images(call, lagged)
            response = self.forward(call, body)
            if response.status != 200:
                return response
            after = self.read_images(call, lagged)
            for write in lagged:
                read_before, old = before[write.ident]
                read_after, new = after[write.ident]
                if read_before and read_after and old != new:
                    delay = self.random() * lag_ms[write.table] / 1000
                    self.lag.record(write.table, write.ident, write.key, old, new, delay)
            return response

    # -- single writes ----------------------------------------------------------------------------

    def single_write(self, call):
        schema = self.schema(call, call.table)
        key = schema and schema.key_of_write(call.op, call.body)
        if not key:
            return self.forward(call)
        settings = self.config.for_table(call.table)
        if settings.limits and call.op == "PutItem":
            self.check_item_size(call.body.get("Item"))
        write = Write(call.table, item_id(call.table, key), key)
        if settings.conflicts:
            if self.inflight.begin_writes([write.ident]):
                self.stats.add("conflictExceptions")
                raise DynamoError("TransactionConflictException", CONFLICT_MESSAGE)
            # Instantaneous: it holds nothing while moto serves it (see model 1).
            self.inflight.end_writes([write.ident])
        partition = partition_key(call.table, key[schema.hash_key])
        units = write_units(call.op, call.body)
        over = self.throughput.take("write", {partition: (units, settings.wcu_per_key, settings.throttle)})
        if over:
            self.stats.throttled(over)
            raise throughput_exceeded()
        return self.forward_write(call, [write])

    # -- transactions -----------------------------------------------------------------------------

    def transaction_actions(self, call):
        """The actions of a TransactWriteItems, or None where one cannot be resolved."""
        actions = []
        for entry in call.body.get("TransactItems") or []:
            if not isinstance(entry, dict) or len(entry) != 1:
                actions.append(None)
                continue
            kind, request = next(iter(entry.items()))
            table = request.get("TableName") if isinstance(request, dict) else None
            schema = self.schema(call, table)
            key = schema and schema.key_of_write(kind, request)
            actions.append(Action(kind, request, table, schema, key) if key else None)
        return actions

    def limits_apply(self, settings):
        """Whether a request on these tables ({table: Settings}) is held to the hard limits."""
        if not settings:
            return self.config.for_table("").limits
        return any(s.limits for s in settings.values())

    def check_transaction_shape(self, actions):
        """At most 100 actions (resolved or None), no two on one item."""
        if len(actions) > MAX_TRANSACTION_ACTIONS:
            raise self.limit(
                "transactionActions",
                "1 validation error detected at 'transactItems' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_TRANSACTION_ACTIONS}",
            )
        idents = [a.ident for a in actions if a]
        if len(set(idents)) != len(idents):
            raise self.limit("transactionDuplicateItem", DUPLICATE_ITEM_MESSAGE)

    def check_transaction_limits(self, actions):
        self.check_transaction_shape(actions)
        resolved = [a for a in actions if a]
        for action in resolved:
            if action.kind == "Put":
                self.check_item_size(action.request.get("Item"))
        if sum(write_size(a.kind, a.request) for a in resolved) > MAX_TRANSACTION_BYTES:
            raise self.limit("transactionSize", "Transaction size has exceeded the maximum allowed size of 4 MB")

    def transact_write(self, call):
        actions = self.transaction_actions(call)
        settings = {a.table: self.config.for_table(a.table) for a in actions if a}
        if self.limits_apply(settings):
            self.check_transaction_limits(actions)
        if not actions or None in actions:
            return self.forward(call)
        guarded = [a.ident for a in actions if settings[a.table].conflicts]
        taken = self.inflight.begin_transaction(guarded)
        if taken:
            self.stats.add("transactionConflicts")
            raise transaction_cancelled(["TransactionConflict" if a.ident in taken else None for a in actions])
        try:
            self.take_transaction_units(actions, settings)
            hold_ms = max(s.txn_hold_ms for s in settings.values())
            if hold_ms > 0:
                time.sleep(self.random() * hold_ms / 1000)
        finally:
            # Its execution time is over; moto's queue is not DynamoDB's (see model 1).
            self.inflight.end_transaction(guarded)
        return self.forward_write(call, [Write(a.table, a.ident, a.key) for a in actions])

    def take_transaction_units(self, actions, settings):
        demands = {}
        for action in actions:
            table_settings = settings[action.table]
            units = write_units(action.kind, action.request, transactional=True)
            previous = demands.get(action.partition, (0, 0, False))[0]
            demands[action.partition] = (
                previous + units, table_settings.wcu_per_key, table_settings.throttle
            )
        over = self.throughput.take("write", demands)
        if over:
            self.stats.throttled(over)
            raise transaction_cancelled(["ThrottlingError" if a.partition in over else None for a in actions])

    def transact_get(self, call):
        gets = call.body.get("TransactItems") or []
        actions = []
        for entry in gets:
            request = entry.get("Get") if isinstance(entry, dict) else None
            table = request.get("TableName") if isinstance(request, dict) else None
            schema = self.schema(call, table)
            key = schema and schema.key_of(request.get("Key"))
            actions.append(Action("Get", request, table, schema, key) if key else None)
        settings = {a.table: self.config.for_table(a.table) for a in actions if a}
        if self.limits_apply(settings):
            self.check_transaction_shape(actions)
        if not actions or None in actions:
            return self.forward(call)
        busy = self.inflight.being_written([a.ident for a in actions if settings[a.table].conflicts])
        if busy:
            self.stats.add("transactionConflicts")
            raise transaction_cancelled(["TransactionConflict" if a.ident in busy else None for a in actions])
        short = {
            a.partition for a in actions
            if settings[a.table].throttle
            and not self.throughput.has_room("read", a.partition, settings[a.table].rcu_per_key)
        }
        if short:
            self.stats.throttled(short)
            raise transaction_cancelled(["ThrottlingError" if a.partition in short else None for a in actions])
        response = self.forward(call)
        if response.status == 200:
            for action, result in zip(actions, response.json().get("Responses") or []):
                units = read_units(item_size(result.get("Item")), True, transactional=True)
                self.throughput.charge("read", action.partition, units, settings[action.table].rcu_per_key)
        return response

    # -- batches ----------------------------------------------------------------------------------

    def batch_write(self, call):
        request_items = call.body.get("RequestItems") or {}
        settings = {table: self.config.for_table(table) for table in request_items}
        if self.limits_apply(settings):
            self.check_batch_write_limits(request_items)
        entries = []  # (table, request entry, Write, partition, units)
        for table, requests in request_items.items():
            schema = self.schema(call, table)
            for entry in requests:
                if not isinstance(entry, dict) or len(entry) != 1:
                    return self.forward(call)
                kind, request = next(iter(entry.items()))
                key = schema and isinstance(request, dict) and schema.key_of_write(kind, request)
                if not key:
                    return self.forward(call)
                write = Write(table, item_id(table, key), key)
                partition = partition_key(table, key[schema.hash_key])
                entries.append((table, entry, write, partition, write_units(kind, request)))
        guarded = [e[2].ident for e in entries if settings[e[0]].conflicts]
        refused = self.inflight.begin_writes(guarded)
        # Instantaneous, as single writes are (see model 1).
        self.inflight.end_writes([i for i in guarded if i not in refused])
        return self.forward_batch_write(call, entries, settings, refused)

    def check_batch_write_limits(self, request_items):
        if sum(len(requests) for requests in request_items.values()) > MAX_BATCH_WRITE_REQUESTS:
            raise self.limit(
                "batchWriteRequests",
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
                f"Map value must satisfy constraint: [Member must have length less than or equal to "
                f"{MAX_BATCH_WRITE_REQUESTS}, Member must have length greater than or equal to 1]",
            )
        for requests in request_items.values():
            for entry in requests:
                if "PutRequest" in entry:
                    self.check_item_size(entry["PutRequest"].get("Item"))

    def forward_batch_write(self, call, entries, settings, conflicted):
        """Forwards the requests that neither conflict nor exceed their key's rate; the others
        come back in UnprocessedItems (all over the rate: ProvisionedThroughputExceededException)."""
        unprocessed, sent, throttled = collections.defaultdict(list), collections.defaultdict(list), []
        for table, entry, write, partition, units in entries:
            if write.ident in conflicted:
                self.stats.add("conflictExceptions")
                unprocessed[table].append(entry)
                continue
            s = settings[table]
            over = self.throughput.take("write", {partition: (units, s.wcu_per_key, s.throttle)})
            if over:
                self.stats.throttled(over)
                throttled.append(entry)
                unprocessed[table].append(entry)
            else:
                sent[table].append((entry, write))
        if not sent:
            if throttled and len(throttled) == len(entries):
                raise throughput_exceeded()
            return json_response(200, {"UnprocessedItems": dict(unprocessed)})
        if not unprocessed:
            return self.forward_write(call, [w for pairs in sent.values() for _, w in pairs])
        body = dict(call.body)
        body["RequestItems"] = {table: [entry for entry, _ in pairs] for table, pairs in sent.items()}
        response = self.forward_write(call, [w for pairs in sent.values() for _, w in pairs], body)
        if response.status != 200:
            return response
        answer = response.json()
        merged = answer.setdefault("UnprocessedItems", {})
        for table, requests in unprocessed.items():
            merged.setdefault(table, []).extend(requests)
        return response.with_json(answer)

    def batch_get(self, call):
        request_items = call.body.get("RequestItems") or {}
        settings = {table: self.config.for_table(table) for table in request_items}
        total = sum(len(r.get("Keys") or []) for r in request_items.values())
        if self.limits_apply(settings) and total > MAX_BATCH_GET_KEYS:
            raise self.limit("batchGetKeys", "Too many items requested for the BatchGetItem call")
        schemas = {table: self.schema(call, table) for table in request_items}
        if None in schemas.values():
            return self.forward(call)
        body, unprocessed = self.defer_short_keys(request_items, schemas, settings)
        if not body and unprocessed:
            raise throughput_exceeded()
        if unprocessed:
            response = self.forward(call, dict(call.body, RequestItems=body))
        else:
            response = self.forward(call)
        if response.status != 200:
            return response
        answer = response.json()
        self.charge_batch_get(answer, request_items, schemas, settings)
        if not unprocessed:
            return response
        merged = answer.setdefault("UnprocessedKeys", {})
        for table, request in unprocessed.items():
            merged.setdefault(table, dict(request, Keys=[])).setdefault("Keys", []).extend(request["Keys"])
        return response.with_json(answer)

    def defer_short_keys(self, request_items, schemas, settings):
        """Splits a BatchGetItem into the keys to read and those whose partition is out of units."""
        body, unprocessed = {}, {}
        for table, request in request_items.items():
            s = settings[table]
            for key in request.get("Keys") or []:
                value = key.get(schemas[table].hash_key)
                partition = partition_key(table, value)
                ready = not s.throttle or self.throughput.has_room("read", partition, s.rcu_per_key)
                if not ready:
                    self.stats.throttled([partition])
                target = body if ready else unprocessed
                target.setdefault(table, dict(request, Keys=[]))["Keys"].append(key)
        return body, unprocessed

    def charge_batch_get(self, answer, request_items, schemas, settings):
        for table, items in (answer.get("Responses") or {}).items():
            schema, s = schemas.get(table), settings.get(table)
            if schema is None or s is None:
                continue
            consistent = bool(request_items.get(table, {}).get("ConsistentRead"))
            for item in items:
                if schema.hash_key in item:
                    partition = partition_key(table, item[schema.hash_key])
                    units = read_units(item_size(item), consistent)
                    self.throughput.charge("read", partition, units, s.rcu_per_key)

    # -- reads ------------------------------------------------------------------------------------

    def get_item(self, call):
        schema = self.schema(call, call.table)
        key = schema and schema.key_of(call.body.get("Key"))
        if not key:
            return self.forward(call)
        settings = self.config.for_table(call.table)
        partition = partition_key(call.table, key[schema.hash_key])
        if settings.throttle and not self.throughput.has_room("read", partition, settings.rcu_per_key):
            self.stats.throttled([partition])
            raise throughput_exceeded()
        response = self.forward(call)
        if response.status == 200:
            size = item_size(response.json().get("Item"))
            units = read_units(size, bool(call.body.get("ConsistentRead")))
            self.throughput.charge("read", partition, units, settings.rcu_per_key)
        return response

    def query_partition(self, call, schema, index):
        """The bucket a Query reads from ("<table>|v", or "<table>/<index>|v" for a GSI), or None."""
        if call.op != "Query":
            return None
        hash_key = index.hash_key if index else schema.hash_key
        for name, op, values in parse_key_condition(call.body) or []:
            if name == hash_key and op == "=":
                return partition_key(call.table, values[0], index.name if index and index.is_global else None)
        return None

    def query_or_scan(self, call):
        schema = self.schema(call, call.table)
        index_name = call.body.get("IndexName")
        index = schema.indexes.get(index_name) if schema and index_name else None
        if schema is None or (index_name and index is None):
            return self.forward(call)
        if index and index.is_global and call.body.get("ConsistentRead") is True:
            self.stats.limit_violation("consistentReadOnIndex")
            raise validation_error("Consistent reads are not supported on global secondary indexes")
        settings = self.config.for_table(call.table)
        partition = self.query_partition(call, schema, index)
        if partition and settings.throttle and not self.throughput.has_room("read", partition, settings.rcu_per_key):
            self.stats.throttled([partition])
            raise throughput_exceeded()
        if index and index.is_global and self.lagged(settings, schema):
            return self.read_lagged_index(call, schema, index, settings, partition)
        response = self.forward(call)
        if response.status != 200:
            return response
        page = response.json()
        changed = settings.limits and self.cut_page(call, page, schema, index)
        self.charge_page(call, page, settings, partition, index)
        return response.with_json(page) if changed else response

    def read_lagged_index(self, call, schema, index, settings, partition):
        """A GSI read on a table with lag: forwarded widened, then rewritten by the history."""
        read = IndexRead(call.body, schema.key_names + index.key_names)
        with self.lag.table_lock(call.table).exclusive():
            response = self.forward(call, read.request)
            pending = self.lag.pending(call.table, time.monotonic())
        if response.status != 200:
            return response
        page = response.json()
        if settings.limits:
            self.cut_page(call, page, schema, index)
        conditions = parse_key_condition(call.body) if call.op == "Query" else []
        if pending and conditions is not None:
            rewrite = LagRewrite(call.op, call.body, page, schema, index, read.shape, conditions)
            self.stats.add("lagHidden", rewrite.apply(pending))
        self.charge_page(call, page, settings, partition, index)
        read.narrow(page)
        return response.with_json(page)

    def cut_page(self, call, page, schema, index):
        """Cuts a page to the items that fit in 1 MB, continuing after the last one kept."""
        items = page.get("Items") or []
        total, keep = 0, len(items)
        for n, item in enumerate(items):
            total += item_size(item)
            if total > MAX_PAGE_BYTES:
                keep = max(n, 1)
                break
        if keep == len(items):
            return False
        key_names = schema.key_names + (index.key_names if index else [])
        last = items[keep - 1]
        if not all(name in last for name in key_names):
            return False  # keys projected away: no LastEvaluatedKey to give
        self.stats.limit_violation("pageSize")
        page["Items"] = items[:keep]
        page["LastEvaluatedKey"] = {name: last[name] for name in key_names}
        page["Count"] = keep
        page["ScannedCount"] = max(keep, page.get("ScannedCount", len(items)) - (len(items) - keep))
        return True

    def charge_page(self, call, page, settings, partition, index):
        """Charges a Query's read units (returned bytes, per started 4 KB) to its partition key."""
        if not partition:
            return
        size = sum(item_size(item) for item in page.get("Items") or [])
        consistent = bool(call.body.get("ConsistentRead")) and not (index and index.is_global)
        self.throughput.charge("read", partition, read_units(size, consistent), settings.rcu_per_key)


# ------------------------------------------------------------------------------------------------
# HTTP


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    """Reads a request, lets StrictProxy answer it, writes the answer (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "strict-dynamodb"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def read_body(self):
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def handle_any(self):
        body = self.read_body()
        try:
            response = self.server.proxy.handle(self.command, self.path, self.headers, body)
        except Exception as error:  # the upstream is down, or a bug here: a retryable 500
            traceback.print_exc(file=sys.stderr)
            response = json_response(
                500, {"__type": ERROR_PREFIX + "InternalServerError", "message": f"strict-dynamodb: {error}"}
            )
        self.send_response_only(response.status)
        for name, value in response.headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


# ------------------------------------------------------------------------------------------------
# Command line


def on_off(value):
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("on or off")
    return value == "on"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT to serve on (PORT 0: any free port)")
    parser.add_argument("--upstream", required=True, help="moto's URL, http://127.0.0.1:PORT")
    parser.add_argument("--seed", type=int, default=1, help="seed of the one random generator")
    parser.add_argument("--trace", help="append the IAM actions seen to this file (JSON lines)")
    parser.add_argument("--gsi-lag-ms", type=float, default=0.0)
    parser.add_argument("--conflicts", type=on_off, default=True)
    parser.add_argument("--throttle", type=on_off, default=True)
    parser.add_argument("--limits", type=on_off, default=True)
    parser.add_argument("--txn-hold-ms", type=float, default=0.0)
    parser.add_argument("--wcu-per-key", type=float, default=1000.0)
    parser.add_argument("--rcu-per-key", type=float, default=3000.0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait before each DynamoDB request")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    defaults = Settings(
        gsi_lag_ms=args.gsi_lag_ms,
        conflicts=args.conflicts,
        throttle=args.throttle,
        limits=args.limits,
        txn_hold_ms=args.txn_hold_ms,
        wcu_per_key=args.wcu_per_key,
        rcu_per_key=args.rcu_per_key,
        latency_ms=args.latency_ms,
    )
    proxy = StrictProxy(Upstream(args.upstream), ModelConfig(defaults), random.Random(args.seed), Trace(args.trace))
    server = ProxyServer((host or "127.0.0.1", int(port)), ProxyHandler)
    server.proxy = proxy

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound_host, bound_port = server.server_address[:2]
    print(f"strict-dynamodb listening on http://{bound_host}:{bound_port} -> {args.upstream}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        proxy.close()


if __name__ == "__main__":
    main()
