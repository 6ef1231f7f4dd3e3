#!/usr/bin/env python3
"""The online-events function's stream filters (template.yaml, FilterCriteria) against stream records.

Lambda drops every record its event source mapping's filters do not match before the function
sees it, and neither moto nor the local API applies those filters: a wrong pattern would silently
lose presence events on AWS only. This evaluates the template's patterns with moto's EventBridge
pattern matcher (the same pattern language) on the records that matter: a session written online
(INSERT) and a session ended (MODIFY online -> ended) must pass, taken from the function's fixture
events/online-events.json; a heartbeat, an ended session imported, an ended session deleted, and
the other items of the table (connection, subscription, counter, name index) must not.

Usage: .venv/bin/python tests/stream_filter_check.py   (exit status 0 when every case holds)
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import yaml
from moto.events.models import EventPattern

ROOT = Path(__file__).resolve().parent.parent


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags read as plain values."""


def _any_tag(loader: yaml.Loader, _suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_CfnLoader.add_multi_constructor("!", _any_tag)


def patterns() -> list[EventPattern]:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    source = template["Resources"]["OnlineEventsFunction"]["Properties"]["Events"]["SessionsStream"]
    return [EventPattern.load(f["Pattern"]) for f in source["Properties"]["FilterCriteria"]["Filters"]]


def cases() -> dict[str, tuple[dict, bool]]:
    fixture = json.loads((ROOT / "events" / "online-events.json").read_text())["Records"]
    start = next(r for r in fixture if r["eventName"] == "INSERT")
    end = next(r for r in fixture if r["eventName"] == "MODIFY")

    heartbeat = copy.deepcopy(end)
    heartbeat["dynamodb"]["NewImage"] = copy.deepcopy(end["dynamodb"]["OldImage"])
    heartbeat["dynamodb"]["NewImage"]["lastSeenDate"] = {"N": "1764504090000"}

    imported = copy.deepcopy(start)
    imported["dynamodb"]["NewImage"] = copy.deepcopy(end["dynamodb"]["NewImage"])

    deleted = copy.deepcopy(end)
    deleted["eventName"] = "REMOVE"
    deleted["dynamodb"]["OldImage"] = deleted["dynamodb"].pop("NewImage")

    def item(pk: str, sk: str, **attributes) -> dict:
        image = {"pk": {"S": pk}, "sk": {"S": sk}, **attributes}
        record = copy.deepcopy(start)
        record["dynamodb"]["Keys"] = {"pk": {"S": pk}, "sk": {"S": sk}}
        record["dynamodb"]["NewImage"] = image
        return record

    return {
        "a session starts": (start, True),
        "a session ends": (end, True),
        "a heartbeat": (heartbeat, False),
        "an ended session imported": (imported, False),
        "an ended session deleted": (deleted, False),
        "a connection item": (item("C#L0SM9cOFvHcCIhw=", "C", tenantId={"N": "1"}), False),
        "a subscription item": (item("SUB#1", "L0SM9cOFvHcCIhw="), False),
        "a counter shard": (item("COUNT#3", "T#1", online={"N": "1"}), False),
        "a name gram": (item("G#1#ada", "1001#ab12", onlineTenant={"N": "1"}), False),
    }


def main() -> int:
    filters = patterns()
    failures = 0
    for name, (record, passes) in cases().items():
        matched = any(pattern.matches_event(record) for pattern in filters)
        verdict = "ok  " if matched == passes else "FAIL"
        failures += matched != passes
        print(f"{verdict} {name}: {'passes' if matched else 'filtered out'} (expected {'passes' if passes else 'filtered out'})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
