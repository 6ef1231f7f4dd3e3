#!/usr/bin/env python3
"""IAM from template.yaml against the calls the functions really made.

Transforms the SAM template into CloudFormation offline, with the same library `sam` uses
(samtranslator; the AWS managed policies it attaches are supplied here, no IAM or network call),
collects each function's role statements (inline policies, expanded SAM policy templates, the
AWS managed policies below, AWS::IAM::Policy / ManagedPolicy resources attached to the role),
resolves their resources symbolically (a table's name is its logical id, the account
123456789012), and checks every (action, resource) a trace records against them with IAM's
rules: an Allow statement must match the action (wildcards, any case) and the resource
(wildcards), and no Deny may match. A grant on a table's ARN does not cover its indexes.

A trace is JSON lines, one per AWS call, written by the DynamoDB proxy of the test runs:

    {"principal": "ws-connect", "action": "dynamodb:ConditionCheckItem",
     "table": "message-center-online-tokens", "index": null}

`principal` is the function's binary name (Metadata.BuildProperties.Binary); lines of other
principals (`local-api`, `tests`, `unknown`) are counted and ignored. A physical table name maps
to the template's table by suffix (`*-sessions` -> SessionsTable, `*-tokens` -> TokensTable;
`--table-map` adds others). `execute-api:ManageConnections` lines have `table` null; their
resource is the function's own WEBSOCKET_MANAGEMENT_ENDPOINT (else the template's one WebSocket
API and stage), with `method` (POST, DELETE, GET) from the line, or POST and DELETE when absent.
A line may give `resource` (a full ARN) to override all this.

Usage:
    .venv/bin/python tests/iam_check.py --template template.yaml \
        --trace target/dynamodb-trace.jsonl [--trace ...] [--require-functions all]
    .venv/bin/python tests/iam_check.py --self-test

`--require-functions all` requires a trace line of every function the template grants something
of its own; a function whose role holds only what SAM attaches (logs, X-Ray), such as the admin
console (`online-console`, which reads no table), makes no call a trace could hold. Named in the
list, any function is required.

Exit status: 0 every used action is granted; 1 a grant is missing (or a required function has no
trace line); 2 the template or a trace could not be read.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import re
import sys
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "message-center-online"

# Table-name suffixes of the test runs (SESSIONS_TABLE / TOKENS_TABLE / AUDIT_TABLE) -> logical ids.
DEFAULT_TABLE_SUFFIXES = {"-sessions": "SessionsTable", "-tokens": "TokensTable", "-audit": "AuditTable"}

# The AWS managed policies SAM attaches to function roles, with their documents (as published by
# AWS), so that the check needs neither IAM nor the network. Any other managed policy is reported
# as not evaluated (it grants nothing here).
_XRAY_WRITE = [
    {
        "Effect": "Allow",
        "Action": [
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:GetSamplingStatisticSummaries",
        ],
        "Resource": ["*"],
    }
]
AWS_MANAGED_POLICIES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "AWSLambdaBasicExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    ),
    "AWSXRayDaemonWriteAccess": ("arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess", _XRAY_WRITE),
    "AWSXrayWriteOnlyAccess": ("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess", _XRAY_WRITE),
}

# Management API operations of a WebSocket connection, as the HTTP method in the ARN.
MANAGEMENT_METHODS = {"posttoconnection": "POST", "deleteconnection": "DELETE", "getconnection": "GET"}


class CheckError(Exception):
    """The template or a trace cannot be read (exit status 2)."""


# ---------------------------------------------------------------------------------------------
# The template: SAM -> CloudFormation, offline.


class _ManagedPolicies:
    """What samtranslator's ManagedPolicyLoader answers, without IAM."""

    def load(self) -> dict[str, str]:
        return {name: arn for name, (arn, _) in AWS_MANAGED_POLICIES.items()}


def load_sam(path: Path) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    try:
        return yaml_parse(path.read_text())
    except OSError as e:
        raise CheckError(f"cannot read {path}: {e}") from e


def transform(sam: dict[str, Any], parameters: dict[str, Any], region: str = REGION) -> dict[str, Any]:
    """The CloudFormation template SAM makes of `sam` (a copy; `sam` is left as it is)."""
    # samtranslator asks boto3 for the region (no call is made); keep boto3 off instance metadata.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform as sam_transform

    # The translator's own usage metrics are never published (offline): not worth a warning.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)

    template = copy.deepcopy(sam)
    # As `sam validate` does: local code locations become S3 ones (the transform insists).
    for logical_id, resource in (template.get("Resources") or {}).items():
        properties = resource.get("Properties")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties, dict):
            if isinstance(properties.get("CodeUri"), str) and not properties["CodeUri"].startswith("s3://"):
                properties["CodeUri"] = f"s3://iam-check/{logical_id}"
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and isinstance(properties, dict):
            if isinstance(properties.get("ContentUri"), str):
                properties["ContentUri"] = f"s3://iam-check/{logical_id}"
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = "s3://iam-check/globals"
    try:
        return sam_transform(template, dict(parameters), _ManagedPolicies())
    except InvalidDocumentException as e:
        raise CheckError("the SAM transform failed: " + "; ".join(str(c) for c in e.causes)) from e


# ---------------------------------------------------------------------------------------------
# Symbolic values: Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, ... -> strings.


class _NoValue:
    pass


NO_VALUE = _NoValue()


class Resolver:
    def __init__(self, cfn: dict[str, Any], parameters: dict[str, Any], region: str, account: str, stack: str):
        self.resources: dict[str, Any] = cfn.get("Resources") or {}
        self.mappings: dict[str, Any] = cfn.get("Mappings") or {}
        self.conditions: dict[str, Any] = cfn.get("Conditions") or {}
        self.partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
        self.region, self.account = region, account
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::StackName": stack,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{region}:{account}:stack/{stack}/0",
            "AWS::NotificationARNs": [],
        }
        self.parameters: dict[str, Any] = {}
        for name, spec in (cfn.get("Parameters") or {}).items():
            value = parameters.get(name, (spec or {}).get("Default"))
            if (spec or {}).get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = [v.strip() for v in value.split(",")]
            self.parameters[name] = value
        self._condition_values: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self.conditions:
                raise CheckError(f"unknown condition {name}")
            self._condition_values[name] = bool(self._truth(self.conditions[name]))
        return self._condition_values[name]

    def _truth(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                norm = lambda v: [str(x) for x in v] if isinstance(v, list) else str(v)  # noqa: E731
                return norm(a) == norm(b)
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(x) for x in arg)
            if key == "Fn::Or":
                return any(self._truth(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.resolve(value)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return name  # a resource's name or id: its logical id
        raise CheckError(f"Ref to unknown {name}")

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.resources.get(name)
        if resource is None:
            raise CheckError(f"Fn::GetAtt of unknown resource {name}")
        kind = resource.get("Type", "")
        p, r, a = self.partition, self.region, self.account
        if attribute == "Arn":
            return {
                "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
                "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
                "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
                "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
                "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
                "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
                "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
                "AWS::SecretsManager::Secret": f"arn:{p}:secretsmanager:{r}:{a}:secret:{name}",
            }.get(kind, f"arn:{p}:{kind.split('::')[1].lower() if '::' in kind else 'unknown'}:{r}:{a}:{name}")
        if attribute == "StreamArn" and kind == "AWS::DynamoDB::Table":
            return f"arn:{p}:dynamodb:{r}:{a}:table/{name}/stream/1970-01-01T00:00:00.000"
        return f"{name}.{attribute}"

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                value = self.resolve(variables[inner])
            elif "." in inner and inner.split(".", 1)[0] in self.resources:
                value = self.get_att(*inner.split(".", 1))
            else:
                value = self.ref(inner)
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            return str(value)

        return re.sub(r"\$\{([^}]*)\}", one, text)

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by its value; NO_VALUE drops."""
        if isinstance(value, list):
            return [v for v in (self.resolve(x) for x in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(name, self.resolve(attribute))
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self._sub(arg[0], arg[1] if len(arg) > 1 else {})
                return self._sub(arg, {})
            if key == "Fn::Join":
                parts = self.resolve(arg[1])
                return str(arg[0]).join(str(p) for p in parts)
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::FindInMap":
                m, k1, k2 = (self.resolve(x) for x in arg[:3])
                return self.mappings[m][k1][k2]
            if key in ("Fn::ImportValue", "Fn::GetAZs", "Fn::Base64", "Fn::Cidr"):
                return f"<{key}>"
        out = {}
        for k, v in value.items():
            resolved = self.resolve(v)
            if resolved is not NO_VALUE:
                out[k] = resolved
        return out


# ---------------------------------------------------------------------------------------------
# IAM semantics.


def _pattern(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if case_insensitive else re.DOTALL)


def wildcard_match(pattern: str, value: str, case_insensitive: bool = False) -> bool:
    return bool(_pattern(str(pattern), case_insensitive).match(value))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


@dataclass
class Statement:
    effect: str
    actions: list[str]
    not_actions: list[str] | None
    resources: list[str]
    not_resources: list[str] | None
    conditional: bool
    origin: str
    from_template: bool  # False for an AWS managed policy

    @classmethod
    def of(cls, raw: dict[str, Any], origin: str, from_template: bool) -> Statement:
        return cls(
            effect=str(raw.get("Effect", "")),
            actions=_as_list(raw.get("Action")),
            not_actions=_as_list(raw["NotAction"]) if "NotAction" in raw else None,
            resources=_as_list(raw.get("Resource")),
            not_resources=_as_list(raw["NotResource"]) if "NotResource" in raw else None,
            conditional=bool(raw.get("Condition")),
            origin=origin + (f"/{raw['Sid']}" if raw.get("Sid") else ""),
            from_template=from_template,
        )

    def matches_action(self, action: str) -> bool:
        if self.not_actions is not None:
            return not any(wildcard_match(p, action, True) for p in self.not_actions)
        return any(wildcard_match(p, action, True) for p in self.actions)

    def matches_resource(self, resource: str) -> bool:
        if self.not_resources is not None:
            return not any(wildcard_match(p, resource) for p in self.not_resources)
        return any(wildcard_match(p, resource) for p in self.resources)

    def matches(self, action: str, resource: str) -> bool:
        return self.matches_action(action) and self.matches_resource(resource)


@dataclass
class Decision:
    allowed: bool
    allowed_by: list[str]
    denied_by: list[str]
    conditional_only: list[str]


def decide(statements: list[Statement], action: str, resource: str) -> Decision:
    """IAM's evaluation of one request against one identity's statements. An Allow with a
    Condition is not counted (it may not hold); a Deny with one is (it may)."""
    allows = [s for s in statements if s.effect == "Allow" and s.matches(action, resource)]
    denies = [s.origin for s in statements if s.effect == "Deny" and s.matches(action, resource)]
    unconditional = [s.origin for s in allows if not s.conditional]
    return Decision(
        allowed=bool(unconditional) and not denies,
        allowed_by=unconditional,
        denied_by=denies,
        conditional_only=[s.origin for s in allows if s.conditional],
    )


# ---------------------------------------------------------------------------------------------
# Functions and their roles.


@dataclass
class Function:
    logical_id: str
    binary: str
    statements: list[Statement]
    management_endpoint: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def has_own_grants(self) -> bool:
        """Whether its role holds a statement of the template's own, beyond what SAM attaches
        (logs, X-Ray): without one, it makes no AWS call a trace could hold."""
        return any(s.from_template for s in self.statements)


def _statements_of_document(resolver: Resolver, document: Any, origin: str, from_template: bool) -> list[Statement]:
    document = resolver.resolve(document)
    raw = document.get("Statement", []) if isinstance(document, dict) else []
    return [Statement.of(s, origin, from_template) for s in (raw if isinstance(raw, list) else [raw])]


def collect_functions(sam: dict[str, Any], cfn: dict[str, Any], resolver: Resolver) -> list[Function]:
    resources = cfn.get("Resources") or {}
    managed_by_arn = {arn.split(":", 2)[2]: (name, doc) for name, (arn, doc) in AWS_MANAGED_POLICIES.items()}
    functions = []
    for logical_id, sam_resource in (sam.get("Resources") or {}).items():
        if sam_resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = ((sam_resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary") or logical_id
        lambda_resource = resources.get(logical_id) or {}
        properties = lambda_resource.get("Properties") or {}
        notes: list[str] = []
        statements: list[Statement] = []
        role = properties.get("Role")
        role_id = None
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            target = role["Fn::GetAtt"]
            role_id = target.split(".")[0] if isinstance(target, str) else target[0]
        if role_id is None or role_id not in resources:
            notes.append(f"its role ({json.dumps(role)}) is not in the template: nothing is granted here")
        else:
            role_properties = resolver.resolve(resources[role_id].get("Properties") or {})
            for policy in role_properties.get("Policies") or []:
                statements += _statements_of_document(
                    resolver, policy.get("PolicyDocument"), policy.get("PolicyName", role_id), True
                )
            for arn in role_properties.get("ManagedPolicyArns") or []:
                arn = str(arn)
                if arn in resources:  # Ref to an AWS::IAM::ManagedPolicy of the template
                    statements += _statements_of_document(
                        resolver, (resources[arn].get("Properties") or {}).get("PolicyDocument"), arn, True
                    )
                elif ":" in arn and arn.split(":", 2)[2] in managed_by_arn:
                    name, document = managed_by_arn[arn.split(":", 2)[2]]
                    statements += [Statement.of(s, name, False) for s in document]
                else:
                    notes.append(f"managed policy {arn} is not evaluated (it grants nothing here)")
            if role_properties.get("PermissionsBoundary"):
                notes.append("the role's permissions boundary is not evaluated")
            for other_id, other in resources.items():
                if other.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                    other_properties = other.get("Properties") or {}
                    roles = resolver.resolve(other_properties.get("Roles") or [])
                    if role_id in roles:
                        statements += _statements_of_document(
                            resolver, other_properties.get("PolicyDocument"), other_id, True
                        )
        variables = resolver.resolve(((properties.get("Environment") or {}).get("Variables")) or {})
        endpoint = variables.get("WEBSOCKET_MANAGEMENT_ENDPOINT")
        functions.append(Function(logical_id, str(binary), statements, str(endpoint) if endpoint else None, notes))
    return functions


# ---------------------------------------------------------------------------------------------
# Traces.


@dataclass(frozen=True)
class Use:
    action: str
    resource: str  # an ARN, or "" when it cannot be named
    problem: str = ""  # why the resource cannot be named (then it is missing)


@dataclass
class Traces:
    by_binary: dict[str, dict[Use, int]] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    lines: int = 0


def read_traces(paths: list[Path]) -> list[dict[str, Any]]:
    entries = []
    for path in paths:
        try:
            text = path.read_text()
        except OSError as e:
            raise CheckError(f"cannot read trace {path}: {e}") from e
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as e:
                raise CheckError(f"{path}:{number}: not JSON: {e}") from e
            if not isinstance(entry, dict) or not entry.get("principal") or not entry.get("action"):
                raise CheckError(f"{path}:{number}: a trace line needs principal and action")
            entries.append(entry)
    return entries


def _table_logical_id(name: str, tables: set[str], suffixes: dict[str, str], physical: dict[str, str]) -> str | None:
    if name in tables:
        return name
    if name in physical:
        return physical[name]
    for suffix, logical in sorted(suffixes.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return logical
    return None


def uses_of(
    entry: dict[str, Any],
    function: Function,
    cfn: dict[str, Any],
    resolver: Resolver,
    suffixes: dict[str, str],
) -> list[Use]:
    action = str(entry["action"])
    if entry.get("resource"):
        return [Use(action, str(entry["resource"]))]
    resources = cfn.get("Resources") or {}
    p, r, a = resolver.partition, resolver.region, resolver.account
    table = entry.get("table")
    if table:
        tables = {k for k, v in resources.items() if v.get("Type") == "AWS::DynamoDB::Table"}
        physical = {}
        for k in tables:
            name = (resources[k].get("Properties") or {}).get("TableName")
            if name is not None:
                physical[str(resolver.resolve(name))] = k
        logical = _table_logical_id(str(table), tables, suffixes, physical)
        if logical is None or logical not in tables:
            return [Use(action, "", f"table {table} is none of the template's tables {sorted(tables)}")]
        arn = f"arn:{p}:dynamodb:{r}:{a}:table/{logical}"
        if entry.get("index"):
            arn += f"/index/{entry['index']}"
        return [Use(action, arn)]
    if action.lower() == "execute-api:manageconnections":
        api_stage = None
        if function.management_endpoint:
            m = re.match(r"^https://([^.]+)\.execute-api\.[^/]+/([^/]+)/?$", function.management_endpoint)
            if m:
                api_stage = (m.group(1), m.group(2))
        if api_stage is None:
            apis = [k for k, v in resources.items()
                    if v.get("Type") == "AWS::ApiGatewayV2::Api"
                    and (v.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"]
            stages = [resolver.resolve((v.get("Properties") or {}).get("StageName"))
                      for v in resources.values()
                      if v.get("Type") == "AWS::ApiGatewayV2::Stage"
                      and resolver.resolve((v.get("Properties") or {}).get("ApiId")) in apis]
            if len(apis) == 1 and len(stages) == 1:
                api_stage = (apis[0], str(stages[0]))
        if api_stage is None:
            return [Use(action, "", "no WEBSOCKET_MANAGEMENT_ENDPOINT and no single WebSocket API and stage")]
        method = entry.get("method") or MANAGEMENT_METHODS.get(str(entry.get("operation", "")).lower())
        methods = [str(method).upper()] if method else ["POST", "DELETE"]
        connection = entry.get("connection") or "trace-connection"
        return [
            Use(action, f"arn:{p}:execute-api:{r}:{a}:{api_stage[0]}/{api_stage[1]}/{m}/@connections/{connection}")
            for m in methods
        ]
    return [Use(action, "*")]


# ---------------------------------------------------------------------------------------------
# The check.


@dataclass
class FunctionReport:
    function: Function
    lines: int
    used: dict[Use, Decision]
    unused: list[tuple[str, str, str]]  # (action, resource, origin) granted but never used

    @property
    def missing(self) -> list[Use]:
        return [u for u, d in self.used.items() if not d.allowed]


@dataclass
class Report:
    functions: list[FunctionReport]
    ignored: dict[str, int]
    unrequired_missing: list[str]  # required functions with no trace line

    @property
    def ok(self) -> bool:
        return not self.unrequired_missing and not any(f.missing for f in self.functions)


def check(
    sam: dict[str, Any],
    entries: list[dict[str, Any]],
    *,
    parameters: dict[str, Any] | None = None,
    require: str | None = None,
    table_suffixes: dict[str, str] | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
    stack: str = STACK,
) -> Report:
    parameters = parameters or {}
    cfn = transform(sam, parameters, region)
    resolver = Resolver(cfn, parameters, region, account, stack)
    functions = collect_functions(sam, cfn, resolver)
    by_binary = {f.binary: f for f in functions}
    suffixes = dict(DEFAULT_TABLE_SUFFIXES, **(table_suffixes or {}))

    lines: dict[str, int] = {}
    uses: dict[str, set[Use]] = {f.binary: set() for f in functions}
    ignored: dict[str, int] = {}
    for entry in entries:
        principal = str(entry["principal"])
        function = by_binary.get(principal)
        if function is None:
            ignored[principal] = ignored.get(principal, 0) + 1
            continue
        lines[principal] = lines.get(principal, 0) + 1
        uses[principal].update(uses_of(entry, function, cfn, resolver, suffixes))

    reports = []
    for function in functions:
        used = {}
        for use in sorted(uses[function.binary], key=lambda u: (u.action.lower(), u.resource)):
            if use.problem:
                used[use] = Decision(False, [], [], [])
            else:
                used[use] = decide(function.statements, use.action, use.resource)
        unused = []
        for statement in function.statements:
            if statement.effect != "Allow" or not statement.from_template:
                continue
            for action in statement.actions or ["NotAction " + ",".join(statement.not_actions or [])]:
                for resource in statement.resources or ["NotResource " + ",".join(statement.not_resources or [])]:
                    if not any(
                        wildcard_match(action, u.action, True) and wildcard_match(resource, u.resource)
                        for u in used
                    ):
                        unused.append((action, resource, statement.origin))
        reports.append(FunctionReport(function, lines.get(function.binary, 0), used, unused))

    required: list[str] = []
    if require:
        names = [n.strip() for n in require.split(",") if n.strip()]
        if names == ["all"]:
            required = [f.binary for f in functions if f.has_own_grants]
        else:
            known = {f.binary: f.binary for f in functions} | {f.logical_id: f.binary for f in functions}
            unknown = [n for n in names if n not in known]
            if unknown:
                raise CheckError(f"--require-functions: unknown functions {unknown}")
            required = [known[n] for n in names]
    unrequired_missing = [b for b in required if not lines.get(b)]
    return Report(reports, ignored, unrequired_missing)


def _short(resource: str) -> str:
    return re.sub(r"^arn:[^:]+:(dynamodb|execute-api):[^:]*:[0-9]+:", "", resource)


def render(report: Report) -> str:
    out = []
    for f in report.functions:
        fn = f.function
        out.append(f"== {fn.logical_id} ({fn.binary}): {f.lines} trace line(s), "
                   f"{len(f.used)} action/resource pair(s) used")
        for note in fn.notes:
            out.append(f"   note: {note}")
        if not fn.has_own_grants:
            out.append("   note: no grant of its own (only what SAM attaches): no call to trace, "
                       "not required by --require-functions all")
        width = max([len(u.action) for u in f.used] + [10])
        for use, decision in f.used.items():
            if use.problem:
                verdict = f"MISSING ({use.problem})"
            elif decision.allowed:
                verdict = "ok  " + ", ".join(decision.allowed_by)
            elif decision.denied_by:
                verdict = "MISSING (denied by " + ", ".join(decision.denied_by) + ")"
            elif decision.conditional_only:
                verdict = "MISSING (only conditional grants: " + ", ".join(decision.conditional_only) + ")"
            else:
                verdict = "MISSING (no statement allows it)"
            out.append(f"   {use.action:<{width}}  {_short(use.resource) or '?':<44}  {verdict}")
        if f.missing:
            out.append(f"   MISSING grants: {len(f.missing)}")
        for action, resource, origin in f.unused:
            out.append(f"   granted, never used: {action} on {_short(resource)} ({origin})")
        out.append("")
    if report.ignored:
        out.append("ignored (not a function of the template): " +
                   ", ".join(f"{p} {n}" for p, n in sorted(report.ignored.items())))
    for binary in report.unrequired_missing:
        out.append(f"FAIL: {binary} has no trace line (--require-functions)")
    missing = sum(len(f.missing) for f in report.functions)
    out.append(f"{'OK' if report.ok else 'FAIL'}: {missing} missing grant(s), "
               f"{sum(len(f.unused) for f in report.functions)} grant(s) never used, "
               f"{sum(f.lines for f in report.functions)} function trace line(s)")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# --self-test: the checker catches what it is for.


def _line(principal: str, action: str, table: str | None = None, index: str | None = None) -> dict[str, Any]:
    return {"principal": principal, "action": action, "table": table, "index": index}


def _tiny(policies: list[Any]) -> dict[str, Any]:
    """A SAM template of one function and one table, the function holding `policies`."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Metadata": {"BuildProperties": {"Binary": "fn"}},
                "Properties": {"CodeUri": ".", "Handler": "bootstrap", "Runtime": "provided.al2023",
                               "Policies": policies},
            },
            "SessionsTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        },
    }


class SelfTest(unittest.TestCase):
    template_path = REPO / "template.yaml"
    expected_trace = REPO / "tests" / "iam_expected_trace.jsonl"

    def sam(self) -> dict[str, Any]:
        return load_sam(self.template_path)

    def test_the_original_connect_grant_misses_the_condition_check(self):
        sam = self.sam()
        # What WsConnectFunction held before: read on tokens, CRUD on sessions.
        sam["Resources"]["WsConnectFunction"]["Properties"]["Policies"] = [
            {"DynamoDBReadPolicy": {"TableName": {"Ref": "TokensTable"}}},
            {"DynamoDBCrudPolicy": {"TableName": {"Ref": "SessionsTable"}}},
        ]
        trace = [
            _line("ws-connect", "dynamodb:GetItem", "message-center-online-tokens"),
            _line("ws-connect", "dynamodb:ConditionCheckItem", "message-center-online-tokens"),
        ]
        report = check(sam, trace)
        connect = next(f for f in report.functions if f.function.binary == "ws-connect")
        self.assertEqual(
            [(u.action, _short(u.resource)) for u in connect.missing],
            [("dynamodb:ConditionCheckItem", "table/TokensTable")],
        )
        self.assertFalse(report.ok)
        self.assertIn("MISSING", render(report))

    def test_the_template_grants_the_expected_trace(self):
        report = check(self.sam(), read_traces([self.expected_trace]), require="all")
        self.assertEqual({f.function.binary: [str(u) for u in f.missing] for f in report.functions if f.missing}, {})
        self.assertEqual(report.unrequired_missing, [])
        self.assertTrue(report.ok)

    def test_the_fixed_connect_passes_the_condition_check(self):
        trace = [_line("ws-connect", "dynamodb:ConditionCheckItem", "message-center-online-tokens")]
        self.assertTrue(check(self.sam(), trace).ok)

    def test_a_function_without_a_trace_line_fails_when_required(self):
        trace = [_line("ws-connect", "dynamodb:GetItem", "message-center-online-tokens")]
        report = check(self.sam(), trace, require="all")
        self.assertFalse(report.ok)
        self.assertIn("online-list", report.unrequired_missing)
        self.assertNotIn("ws-connect", report.unrequired_missing)
        self.assertFalse(check(self.sam(), [], require="all").ok)
        self.assertTrue(check(self.sam(), trace, require="ws-connect").ok)

    def test_a_function_without_grants_of_its_own_needs_no_trace_line(self):
        # The admin console reads no table: its role holds only what SAM attaches.
        report = check(self.sam(), read_traces([self.expected_trace]), require="all")
        console = next(f for f in report.functions if f.function.binary == "online-console")
        self.assertFalse(console.function.has_own_grants)
        self.assertEqual((console.lines, console.used, console.unused), (0, {}, []))
        self.assertNotIn("online-console", report.unrequired_missing)
        self.assertTrue(report.ok)
        # Every other function has grants of its own, so "all" still requires each of them.
        self.assertTrue(all(f.function.has_own_grants for f in report.functions if f.function is not console.function))
        # Named, it is required; and a call it made would be missing its grant.
        self.assertEqual(check(self.sam(), [], require="online-console").unrequired_missing, ["online-console"])
        trace = [_line("online-console", "dynamodb:GetItem", "message-center-online-tokens")]
        self.assertFalse(check(self.sam(), trace).ok)

    def test_other_principals_are_counted_and_ignored(self):
        trace = [_line("local-api", "dynamodb:DeleteTable", "x-sessions"), _line("tests", "dynamodb:Scan", "x"),
                 _line("local-api", "dynamodb:Scan", "x")]
        report = check(self.sam(), trace)
        self.assertTrue(report.ok)
        self.assertEqual(report.ignored, {"local-api": 2, "tests": 1})

    def test_a_table_grant_does_not_cover_its_indexes(self):
        trace = [_line("fn", "dynamodb:Query", "t-sessions", "byUser")]
        table_only = _tiny([{"Statement": [{"Effect": "Allow", "Action": "dynamodb:Query",
                                            "Resource": {"Fn::GetAtt": ["SessionsTable", "Arn"]}}]}])
        self.assertFalse(check(table_only, trace).ok)
        with_index = _tiny([{"Statement": [{"Effect": "Allow", "Action": "dynamodb:Query",
                                            "Resource": {"Fn::Sub": "${SessionsTable.Arn}/index/*"}}]}])
        self.assertTrue(check(with_index, trace).ok)
        # The SAM policy templates grant the indexes explicitly.
        self.assertTrue(check(_tiny([{"DynamoDBReadPolicy": {"TableName": {"Ref": "SessionsTable"}}}]), trace).ok)

    def test_wildcards_case_and_deny(self):
        trace = [_line("fn", "DynamoDB:getitem", "t-sessions")]
        wildcard = {"Effect": "Allow", "Action": "dynamodb:Get*", "Resource": "arn:aws:dynamodb:*:*:table/Sessions?able"}
        self.assertTrue(check(_tiny([{"Statement": [wildcard]}]), trace).ok)
        deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}
        self.assertFalse(check(_tiny([{"Statement": [wildcard, deny]}]), trace).ok)
        not_action = {"Effect": "Allow", "NotAction": "dynamodb:Put*", "Resource": "*"}
        self.assertTrue(check(_tiny([{"Statement": [not_action]}]), trace).ok)
        conditional = dict(wildcard, Condition={"Bool": {"aws:SecureTransport": "true"}})
        self.assertFalse(check(_tiny([{"Statement": [conditional]}]), trace).ok)

    def test_a_table_the_template_does_not_know_is_missing(self):
        trace = [_line("ws-connect", "dynamodb:GetItem", "message-center-online-audit")]
        self.assertFalse(check(self.sam(), trace).ok)

    def test_manage_connections_is_checked_on_the_function_endpoint(self):
        sam = self.sam()
        trace = [_line("ws-default", "execute-api:ManageConnections")]
        report = check(sam, trace)
        self.assertTrue(report.ok, render(report))
        default = next(f for f in report.functions if f.function.binary == "ws-default")
        self.assertEqual(
            sorted(_short(u.resource) for u in default.used),
            ["WebSocketApi/live/DELETE/@connections/trace-connection",
             "WebSocketApi/live/POST/@connections/trace-connection"],
        )
        self.assertFalse(check(sam, [_line("ws-connect", "execute-api:ManageConnections")]).ok)

    def test_unused_grants_are_reported_not_failed(self):
        trace = [_line("ws-connect", "dynamodb:ConditionCheckItem", "message-center-online-tokens")]
        report = check(self.sam(), trace)
        connect = next(f for f in report.functions if f.function.binary == "ws-connect")
        self.assertIn(("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/SessionsTable"),
                      [(a, r) for a, r, _ in connect.unused])
        self.assertTrue(report.ok)

    def test_no_function_keeps_a_broad_policy_template(self):
        for logical_id, resource in self.sam()["Resources"].items():
            if resource.get("Type") == "AWS::Serverless::Function":
                for policy in resource["Properties"].get("Policies") or []:
                    self.assertNotIn("DynamoDBCrudPolicy", policy, logical_id)
                    self.assertNotIn("DynamoDBReadPolicy", policy, logical_id)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=REPO / "template.yaml")
    parser.add_argument("--trace", type=Path, action="append", default=[], help="JSON-lines trace (repeatable)")
    parser.add_argument("--require-functions", metavar="all|NAME[,NAME...]",
                        help="fail when one of these functions (binary or logical id; all: every one with a grant "
                             "of its own) has no trace line")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="a template parameter value (default: the template's default)")
    parser.add_argument("--table-map", action="append", default=[], metavar="SUFFIX=LogicalId",
                        help="map physical table names ending in SUFFIX to a table of the template")
    parser.add_argument("--region", default=REGION)
    parser.add_argument("--self-test", action="store_true", help="run the checker's own tests and exit")
    args = parser.parse_args(argv)

    if args.self_test:
        SelfTest.template_path = args.template.resolve()
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest)
        result = unittest.TextTestRunner(verbosity=2).run(suite)
        return 0 if result.wasSuccessful() else 1
    if not args.trace:
        parser.error("give at least one --trace (or --self-test)")
    try:
        parameters = dict(kv.split("=", 1) for kv in args.parameter)
        suffixes = dict(kv.split("=", 1) for kv in args.table_map)
        report = check(load_sam(args.template), read_traces(args.trace), parameters=parameters,
                       require=args.require_functions, table_suffixes=suffixes, region=args.region)
    except (CheckError, ValueError) as e:
        print(f"iam_check: {e}", file=sys.stderr)
        return 2
    print(render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
