"""Self-test of strict_dynamodb.py, the strict DynamoDB proxy.

Starts moto (moto_server.py) and the proxy on free loopback ports, then checks each model with
small cases through boto3 (retries off, so every refusal the proxy makes is seen): transaction
conflicts, GSI lag, per-key throttling, hard limits, the trace, the stats and pass-through. Each
test uses its own table, whose name is also the prefix its settings are configured under.

Run: .venv/bin/python -m unittest infra/scripts/test_strict_dynamodb.py -v
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts for this import
import strict_dynamodb as strict  # noqa: E402

APP_NAME = "selftest"
INDEX = "byOwner"
LAG_MS = 1500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, log_path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto exited; log:\n{open(log_path).read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}; log:\n{open(log_path).read()}")


def error_code(error):
    return error.response["Error"]["Code"]


def reason_codes(error):
    return [r["Code"] for r in error.response.get("CancellationReasons", [])]


def s(value):
    return {"S": value}


def n(value):
    return {"N": str(value)}


class StrictDynamoDBTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for name, value in {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }.items():
            os.environ[name] = value
        cls.workdir = tempfile.TemporaryDirectory()
        cls.trace_path = os.path.join(cls.workdir.name, "trace.jsonl")
        moto_log = os.path.join(cls.workdir.name, "moto.log")
        moto_port = free_port()
        cls.moto_log = open(moto_log, "w")
        cls.moto = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "moto_server.py"), "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=cls.moto_log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(moto_port, cls.moto, moto_log)
        cls.proxy = subprocess.Popen(
            [
                sys.executable, os.path.join(HERE, "strict_dynamodb.py"),
                "--listen", "127.0.0.1:0",
                "--upstream", f"http://127.0.0.1:{moto_port}",
                "--seed", "1",
                "--trace", cls.trace_path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = cls.proxy.stdout.readline()
        assert ready.startswith("strict-dynamodb listening on http://127.0.0.1:"), ready
        cls.endpoint = ready.split()[3]
        cls.client = cls.make_client("dynamodb")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.send_signal(signal.SIGTERM)
        cls.proxy_exit = cls.proxy.wait(timeout=10)
        cls.proxy.stdout.close()
        cls.moto.kill()
        cls.moto.wait(timeout=10)
        cls.moto_log.close()
        cls.workdir.cleanup()
        assert cls.proxy_exit == 0, f"the proxy exited {cls.proxy_exit} on SIGTERM"

    @classmethod
    def make_client(cls, service, app_name=APP_NAME):
        return boto3.client(
            service,
            endpoint_url=cls.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(
                user_agent_appid=app_name,
                retries={"mode": "standard", "total_max_attempts": 1},
                max_pool_connections=20,
            ),
        )

    # -- helpers ----------------------------------------------------------------------------------

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.endpoint + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def configure(self, prefix, **settings):
        self.assertEqual(self.control("POST", "/strict/config", dict(settings, tablePrefix=prefix)), {"ok": True})

    def stats(self):
        return self.control("GET", "/strict/stats")

    def new_table(self, label, **settings):
        """A table (pk, sk; GSI byOwner on owner, rank) under its own settings prefix."""
        name = f"{label}-{uuid.uuid4().hex[:8]}"
        self.configure(name, **settings)
        self.client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "owner", "AttributeType": "S"},
                {"AttributeName": "rank", "AttributeType": "N"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": INDEX,
                    "KeySchema": [
                        {"AttributeName": "owner", "KeyType": "HASH"},
                        {"AttributeName": "rank", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        return name

    def put(self, table, pk, sk, **attributes):
        item = {"pk": s(pk), "sk": s(sk)}
        item.update(attributes)
        self.client.put_item(TableName=table, Item=item)

    def owned(self, table, owner, **extra):
        """The GSI entries of `owner`, as (sk, rank) pairs in index order."""
        answer = self.client.query(
            TableName=table,
            IndexName=INDEX,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": s(owner)},
            **extra,
        )
        if extra.get("Select") == "COUNT":
            return answer["Count"]
        return [(item["sk"]["S"], int(item["rank"]["N"])) for item in answer["Items"]]

    # -- 1. transaction conflicts -----------------------------------------------------------------

    def test_conflict_between_two_transactions(self):
        table = self.new_table("conflict", txnHoldMs=1000)

        def transaction(worker, results):
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": {"pk": s("shared"), "sk": s("counter")},
                                "UpdateExpression": "ADD hits :one",
                                "ExpressionAttributeValues": {":one": n(1)},
                            }
                        },
                        {"Put": {"TableName": table, "Item": {"pk": s("own"), "sk": s(worker)}}},
                    ]
                )
                results[worker] = "ok"
            except ClientError as error:
                results[worker] = reason_codes(error)

        for _ in range(5):  # the holds are random: retry the rare round where they do not overlap
            results = {}
            threads = [threading.Thread(target=transaction, args=(w, results)) for w in ("a", "b")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if list(results.values()).count("ok") == 1:
                break
            self.assertEqual(list(results.values()), ["ok", "ok"], "both transactions were cancelled")
        else:
            self.fail("two overlapping transactions never conflicted")
        cancelled = next(r for r in results.values() if r != "ok")
        self.assertEqual(cancelled, ["TransactionConflict", "None"])
        self.assertGreaterEqual(self.stats()["transactionConflicts"], 1)

    def test_single_write_and_read_against_transaction_in_flight(self):
        table = self.new_table("single", txnHoldMs=1500)
        key = {"pk": s("item"), "sk": s("1")}
        for _ in range(4):  # retry the rare round where the random hold is over too soon
            outcome = {}

            def transaction():
                try:
                    self.client.transact_write_items(
                        TransactItems=[
                            {"Put": {"TableName": table, "Item": dict(key, v=s("txn"))}},
                            {"ConditionCheck": {
                                "TableName": table,
                                "Key": {"pk": s("other"), "sk": s("1")},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }},
                        ]
                    )
                    outcome["txn"] = "ok"
                except ClientError as error:
                    outcome["txn"] = reason_codes(error)

            thread = threading.Thread(target=transaction)
            thread.start()
            time.sleep(0.05)  # let the transaction reach the proxy
            refused = set()
            while thread.is_alive() and len(refused) < 2:
                try:
                    self.client.transact_get_items(
                        TransactItems=[
                            {"Get": {"TableName": table, "Key": {"pk": s("free"), "sk": s("1")}}},
                            {"Get": {"TableName": table, "Key": key}},
                        ]
                    )
                except ClientError as error:
                    self.assertEqual(reason_codes(error), ["None", "TransactionConflict"])
                    refused.add("read")
                try:
                    self.client.put_item(TableName=table, Item=dict(key, v=s("single")))
                except ClientError as error:
                    self.assertEqual(error_code(error), "TransactionConflictException")
                    refused.add("write")
            thread.join()
            if outcome["txn"] == "ok" and refused == {"read", "write"}:
                break
        else:
            self.fail("no single write and read met the transaction in flight")
        self.assertGreaterEqual(self.stats()["conflictExceptions"], 1)
        # Two single writes on one item never conflict.
        self.put(table, "item", "1", v=s("again"))

    # -- 2. eventually consistent GSIs ------------------------------------------------------------

    def test_consistent_read_on_gsi_is_refused(self):
        table = self.new_table("consistent")
        with self.assertRaises(ClientError) as caught:
            self.owned(table, "alice", ConsistentRead=True)
        self.assertEqual(error_code(caught.exception), "ValidationException")
        self.assertIn("Consistent reads are not supported on global secondary indexes", str(caught.exception))

    def test_gsi_lag_hides_new_items_until_visible(self):
        table = self.new_table("lagnew", gsiLagMs=LAG_MS)
        started = time.monotonic()
        for i in range(8):
            self.put(table, "p", f"{i}", owner=s("alice"), rank=n(i))
        # The base table sees every write at once...
        for i in range(8):
            got = self.client.get_item(TableName=table, Key={"pk": s("p"), "sk": s(f"{i}")}, ConsistentRead=True)
            self.assertIn("Item", got)
        # ...the index not yet (each write shows after a random 0..LAG_MS).
        early = self.owned(table, "alice")
        early_count = self.owned(table, "alice", Select="COUNT")
        self.assert_within_lag(started)
        self.assertLess(len(early), 8)
        self.assertLess(early_count, 8)
        self.assertEqual(early, sorted(early, key=lambda e: e[1]))
        time.sleep(LAG_MS / 1000 + 0.05)
        self.assertEqual(self.owned(table, "alice"), [(f"{i}", i) for i in range(8)])
        self.assertEqual(self.owned(table, "alice", Select="COUNT"), 8)
        self.assertEqual(self.owned(table, "alice", ScanIndexForward=False), [(f"{i}", i) for i in reversed(range(8))])
        self.assertGreater(self.stats()["lagHidden"], 0)

    def test_gsi_lag_shows_deleted_moved_and_stale_items(self):
        table = self.new_table("lagold")
        deleted, moved, changed = range(0, 4), range(4, 10), range(10, 16)
        for i in range(16):
            self.put(table, "p", f"{i:02}", owner=s("alice"), rank=n(i), color=s("red"))
        self.configure(table, gsiLagMs=LAG_MS)
        started = time.monotonic()
        for i in deleted:
            self.client.delete_item(TableName=table, Key={"pk": s("p"), "sk": s(f"{i:02}")})
        for i in moved:
            self.put(table, "p", f"{i:02}", owner=s("bob"), rank=n(i), color=s("red"))
        for i in changed:
            self.put(table, "p", f"{i:02}", owner=s("alice"), rank=n(i), color=s("blue"))
        answer = self.client.query(
            TableName=table,
            IndexName=INDEX,
            KeyConditionExpression="#o = :o AND #r BETWEEN :low AND :high",
            ExpressionAttributeNames={"#o": "owner", "#r": "rank"},
            ExpressionAttributeValues={":o": s("alice"), ":low": n(0), ":high": n(99)},
        )
        bob = self.owned(table, "bob")
        self.assert_within_lag(started)
        early = {int(item["sk"]["S"]): item["color"]["S"] for item in answer["Items"]}
        self.assertTrue(set(deleted) & set(early), "deleted items all vanished at once")
        self.assertTrue(set(moved) & set(early), "moved items all left at once")
        self.assertIn("red", [early.get(i) for i in changed], "stale attributes all updated at once")
        self.assertLess(len(bob), len(moved))
        self.assertEqual(answer["Count"], len(answer["Items"]))
        self.assertEqual(list(early), sorted(early))
        time.sleep(LAG_MS / 1000 + 0.05)
        later = self.client.query(
            TableName=table,
            IndexName=INDEX,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": s("alice")},
        )
        self.assertEqual({int(i["sk"]["S"]): i["color"]["S"] for i in later["Items"]}, {i: "blue" for i in changed})
        self.assertEqual(self.owned(table, "bob"), [(f"{i:02}", i) for i in moved])

    def assert_within_lag(self, started):
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, LAG_MS / 1000, f"the machine is too slow for this check ({elapsed:.2f} s)")

    # -- 3. throughput per partition key ----------------------------------------------------------

    def test_throttling_refuses_a_hot_key_only(self):
        table = self.new_table("throttle", wcuPerKey=5)
        self.control("POST", "/strict/stats/reset")
        refused = 0
        for i in range(20):
            try:
                self.put(table, "hot", f"{i}")
            except ClientError as error:
                self.assertEqual(error_code(error), "ProvisionedThroughputExceededException")
                refused += 1
        self.assertGreaterEqual(refused, 10)
        self.put(table, "cold", "1")
        with self.assertRaises(ClientError) as caught:
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": s("cold"), "sk": s("2")}}},
                    {"Put": {"TableName": table, "Item": {"pk": s("hot"), "sk": s("x")}}},
                ]
            )
        self.assertEqual(reason_codes(caught.exception), ["None", "ThrottlingError"])
        hot, cold = ({"PutRequest": {"Item": {"pk": s(pk), "sk": s("batch")}}} for pk in ("hot", "cold"))
        answer = self.client.batch_write_item(RequestItems={table: [hot, cold]})
        self.assertEqual(answer["UnprocessedItems"], {table: [hot]})
        stats = self.stats()
        self.assertEqual(stats["throttled"], refused + 2)
        self.assertEqual(stats["throttledByKey"][f"{table}|hot"], refused + 2)
        self.assertEqual(stats["maxWriteUnitsPerSecond"]["key"], f"{table}|hot")
        self.assertGreaterEqual(stats["maxWriteUnitsPerSecond"]["units"], 5)

    # -- 4. hard limits ---------------------------------------------------------------------------

    def assert_limit(self, kind, call, message=None):
        before = self.stats()["limitViolations"].get(kind, 0)
        with self.assertRaises(ClientError) as caught:
            call()
        self.assertEqual(error_code(caught.exception), "ValidationException")
        if message:
            self.assertIn(message, str(caught.exception))
        self.assertEqual(self.stats()["limitViolations"].get(kind, 0), before + 1)

    def test_transaction_limits(self):
        table = self.new_table("txlimits")
        puts = [{"Put": {"TableName": table, "Item": {"pk": s("p"), "sk": s(f"{i}")}}} for i in range(101)]
        self.assert_limit("transactionActions", lambda: self.client.transact_write_items(TransactItems=puts))
        twice = [puts[0], {"Delete": {"TableName": table, "Key": {"pk": s("p"), "sk": s("0")}}}]
        self.assert_limit(
            "transactionDuplicateItem",
            lambda: self.client.transact_write_items(TransactItems=twice),
            strict.DUPLICATE_ITEM_MESSAGE,
        )
        self.client.transact_write_items(TransactItems=puts[:100])

    def test_batch_and_item_size_limits(self):
        table = self.new_table("limits")
        requests = [{"PutRequest": {"Item": {"pk": s("p"), "sk": s(f"{i}")}}} for i in range(26)]
        self.assert_limit(
            "batchWriteRequests", lambda: self.client.batch_write_item(RequestItems={table: requests})
        )
        keys = [{"pk": s("p"), "sk": s(f"{i}")} for i in range(101)]
        self.assert_limit("batchGetKeys", lambda: self.client.batch_get_item(RequestItems={table: {"Keys": keys}}))
        self.assert_limit(
            "itemSize",
            lambda: self.put(table, "p", "big", blob=s("x" * (401 * 1024))),
            strict.ITEM_SIZE_MESSAGE,
        )
        self.client.batch_write_item(RequestItems={table: requests[:25]})
        self.put(table, "p", "fits", blob=s("x" * (390 * 1024)))

    def test_page_is_cut_at_1_mb_and_continues(self):
        table = self.new_table("page")
        # 12 items of ~88 KB by DynamoDB's size rules (each list element costs a byte more than
        # moto counts), so moto's own ~1 MB cut does not apply and the proxy's does.
        for i in range(12):
            self.put(table, "big", f"{i:02}", s=s("x" * 76000), flags={"L": [{"BOOL": True}] * 6000})
        before = self.stats()["limitViolations"].get("pageSize", 0)
        first = self.client.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": s("big")},
        )
        self.assertEqual(first["Count"], 11)
        self.assertLessEqual(sum(strict.item_size(item) for item in first["Items"]), strict.MAX_PAGE_BYTES)
        self.assertEqual(first["LastEvaluatedKey"], {"pk": s("big"), "sk": s("10")})
        rest = self.client.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": s("big")},
            ExclusiveStartKey=first["LastEvaluatedKey"],
        )
        self.assertNotIn("LastEvaluatedKey", rest)
        keys = [item["sk"]["S"] for item in first["Items"] + rest["Items"]]
        self.assertEqual(keys, [f"{i:02}" for i in range(12)])
        self.assertEqual(self.stats()["limitViolations"]["pageSize"], before + 1)

    # -- 5. trace, stats, pass-through ------------------------------------------------------------

    def test_trace_lines(self):
        table = self.new_table("trace")
        self.put(table, "p", "1", owner=s("alice"), rank=n(1))
        self.put(table, "p", "2")
        self.owned(table, "alice")
        self.client.transact_write_items(
            TransactItems=[
                {"Update": {
                    "TableName": table,
                    "Key": {"pk": s("p"), "sk": s("1")},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": n(1)},
                }},
                {"ConditionCheck": {
                    "TableName": table,
                    "Key": {"pk": s("p"), "sk": s("2")},
                    "ConditionExpression": "attribute_exists(pk)",
                }},
            ]
        )
        self.client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": s("p"), "sk": s("3")}}}]})
        management = self.make_client("apigatewaymanagementapi", app_name="pusher")
        management.post_to_connection(ConnectionId="conn-1", Data=b"hello")
        # No app name: the access key id from the signature is the principal.
        request = urllib.request.Request(
            self.endpoint + "/",
            data=b"{}",
            method="POST",
            headers={
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Content-Type": strict.JSON_CONTENT_TYPE,
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTRACE/20240101/us-east-1/dynamodb/"
                "aws4_request, SignedHeaders=host, Signature=0",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            self.assertEqual(answer.status, 200)

        with open(self.trace_path) as trace:
            lines = [json.loads(line) for line in trace]
        entries = [(e["principal"], e["action"], e["table"], e["index"]) for e in lines]
        self.assertEqual(len(entries), len(set(entries)), "a trace line was written twice")
        for expected in [
            (APP_NAME, "dynamodb:CreateTable", table, None),
            (APP_NAME, "dynamodb:PutItem", table, None),
            (APP_NAME, "dynamodb:Query", table, INDEX),
            (APP_NAME, "dynamodb:UpdateItem", table, None),
            (APP_NAME, "dynamodb:ConditionCheckItem", table, None),
            (APP_NAME, "dynamodb:BatchWriteItem", table, None),
            ("pusher", "execute-api:ManageConnections", None, None),
            ("AKIDTRACE", "dynamodb:ListTables", None, None),
        ]:
            self.assertIn(expected, entries)
        self.assertNotIn((APP_NAME, "dynamodb:TransactWriteItems", table, None), entries)

    def test_stats_and_reset(self):
        table = self.new_table("stats")
        self.control("POST", "/strict/stats/reset")
        self.put(table, "p", "1")
        self.client.get_item(TableName=table, Key={"pk": s("p"), "sk": s("1")})
        stats = self.stats()
        self.assertEqual(stats["requests"], {"PutItem": 1, "GetItem": 1})
        self.assertEqual(stats["maxWriteUnitsPerSecond"], {"key": f"{table}|p", "units": 1})
        self.assertEqual(stats["maxReadUnitsPerSecond"], {"key": f"{table}|p", "units": 0.5})
        self.assertEqual(self.control("POST", "/strict/stats/reset"), {"ok": True})
        stats = self.stats()
        self.assertEqual(stats["requests"], {})
        self.assertEqual(stats["maxWriteUnitsPerSecond"], {"key": None, "units": 0})
        for field in ("transactionConflicts", "conflictExceptions", "throttled", "lagHidden"):
            self.assertEqual(stats[field], 0)

    def test_latency_is_waited_concurrently(self):
        table = self.new_table("latency", latencyMs=400)
        self.put(table, "p", "s")  # 1 request: at least one wait
        get = lambda: self.client.get_item(TableName=table, Key={"pk": s("p"), "sk": s("s")})  # noqa: E731
        started = time.monotonic()
        get()
        one = time.monotonic() - started
        self.assertGreaterEqual(one, 0.4)
        started = time.monotonic()
        threads = [threading.Thread(target=get) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        eight = time.monotonic() - started
        self.assertGreaterEqual(eight, 0.4)
        self.assertLess(eight, 0.4 * 4, "eight concurrent requests wait together, not one after another")
        self.configure(table, latencyMs=0)
        started = time.monotonic()
        get()
        self.assertLess(time.monotonic() - started, 0.4)

    def test_config_rejects_unknown_settings(self):
        with self.assertRaises(urllib.error.HTTPError) as caught:
            self.control("POST", "/strict/config", {"tablePrefix": "x", "lagMs": 5})
        self.assertEqual(caught.exception.code, 400)

    # -- pure functions ---------------------------------------------------------------------------

    def test_key_condition_parsing(self):
        values = {":p": s("a"), ":lo": n(1), ":hi": n(5), ":x": s("ab")}
        parse = lambda expr: strict.KeyConditionParser(expr, {"#p": "pk", "#s": "sk"}, values).parse()  # noqa: E731
        self.assertEqual(
            parse("#p = :p AND #s BETWEEN :lo AND :hi"),
            [("pk", "=", [s("a")]), ("sk", "between", [n(1), n(5)])],
        )
        self.assertEqual(parse("(#p = :p) AND begins_with(#s, :x)"), [("pk", "=", [s("a")]), ("sk", "begins_with", [s("ab")])])
        self.assertEqual(parse(":lo < #s and pk = :p"), [("sk", ">", [n(1)]), ("pk", "=", [s("a")])])
        image = {"pk": s("a"), "sk": n("3.0")}
        self.assertTrue(strict.condition_holds(image, ("sk", "between", [n(1), n(5)])))
        self.assertFalse(strict.condition_holds(image, ("sk", ">", [n(3)])))
        self.assertTrue(strict.condition_holds({"sk": s("abc")}, ("sk", "begins_with", [s("ab")])))

    def test_sizes_and_projection(self):
        self.assertEqual(strict.item_size({"ab": s("xyz")}), 5)
        self.assertEqual(strict.attribute_size(n("12345")), 4)
        self.assertEqual(strict.attribute_size({"L": [{"NULL": True}, {"BOOL": False}]}), 3 + 2 + 2)
        item = {"a": {"M": {"b": n(1), "c": n(2)}}, "l": {"L": [s("x"), s("y"), s("z")]}, "d": s("d")}
        paths = strict.parse_projection("#a.b, l[2], l[0]", {"#a": "a"})
        self.assertEqual(strict.select_paths(item, paths), {"a": {"M": {"b": n(1)}}, "l": {"L": [s("x"), s("z")]}})


if __name__ == "__main__":
    unittest.main()
