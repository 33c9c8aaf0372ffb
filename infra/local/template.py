"""Read `template.yaml` and resolve it the way CloudFormation would for a local stack.

The local stack, the test fixtures and the admin CLI all derive names from the template itself, so
nothing is declared twice. Resolution is lazy: only the values someone asks for are resolved, and
an intrinsic or attribute this module cannot resolve raises `TemplateError` naming the culprit
instead of producing a silently wrong value.

Local naming (deterministic, unlike CloudFormation's random suffixes):
- most resources: `<StackName>-<LogicalId>` unless the template names them;
- `!Ref Queue` is the queue URL on the local endpoint, `!Ref Topic` the topic ARN;
- buckets use their `BucketName` (or a lower-case `<stack>-<logicalid>`);
- identifiers AWS generates at creation (Cognito pool and client ids, a table's StreamArn) are
  placeholders until `bind()` records the real ones (`create_resources` does so).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

STACK_NAME = "cobranza"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
DEFAULT_AWS_ENDPOINT = "http://127.0.0.1:4566"

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
API_TYPES = ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")


class TemplateError(ValueError):
    """The template uses something the local stack cannot resolve."""


# --------------------------------------------------------------------------- YAML loading

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    **{
        name: f"Fn::{name}"
        for name in (
            "Sub", "Join", "If", "Not", "Equals", "And", "Or", "Select", "Split",
            "FindInMap", "Base64", "GetAZs", "ImportValue",
        )
    },
}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation short tags, mapped to their long `Fn::` form."""


# CloudFormation keeps unquoted dates as strings; YAML 1.1 would turn them into `date` objects.
_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    name = _SHORT_TAGS.get(suffix)
    if name is None:
        mark = node.start_mark
        raise TemplateError(
            f"unsupported CloudFormation tag !{suffix} at line {mark.line + 1}, column {mark.column + 1}"
        )
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            logical_id, _, attribute = str(value).partition(".")
            value = [logical_id, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_short_tag)


def load_template(path: Path | str) -> dict:
    """Parse a CloudFormation/SAM template (YAML or JSON) into plain Python data."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_CfnLoader)  # nosec B506  # _CfnLoader is a SafeLoader subclass
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Resource:
    """One resource as declared (properties unresolved; see `LocalTemplate.resolve`)."""

    logical_id: str
    type: str
    properties: dict
    condition: str | None = None


@dataclass(frozen=True)
class EventSource:
    """One entry of a function's `Events`, with its properties resolved."""

    name: str
    type: str
    properties: dict


@dataclass(frozen=True)
class FunctionSpec:
    """What the local runtime needs to run one function (Globals already merged in)."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    layer_dirs: tuple[Path, ...]
    events: dict[str, EventSource] = field(default_factory=dict)
    event_invoke_config: dict = field(default_factory=dict)

    @property
    def handler_module(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    def events_of_type(self, *types: str) -> dict[str, EventSource]:
        return {name: ev for name, ev in self.events.items() if ev.type in types}


_NO_VALUE = object()  # AWS::NoValue: drops the enclosing key or list item

# What `!GetAtt <resource>.<attribute>` gives, per type. Fields: name (the physical base name),
# ref (the !Ref value), arn, region, account.
_ATTRIBUTES: dict[str, dict[str, str]] = {
    "AWS::DynamoDB::Table": {
        "Arn": "arn:aws:dynamodb:{region}:{account}:table/{name}",
        # A placeholder: the real label is the creation time (`create_resources` binds it).
        "StreamArn": "arn:aws:dynamodb:{region}:{account}:table/{name}/stream/1970-01-01T00:00:00.000",
    },
    "AWS::SQS::Queue": {
        "Arn": "arn:aws:sqs:{region}:{account}:{name}",
        "QueueName": "{name}",
        "QueueUrl": "{ref}",
    },
    "AWS::S3::Bucket": {
        "Arn": "arn:aws:s3:::{name}",
        "DomainName": "{name}.s3.amazonaws.com",
        "DualStackDomainName": "{name}.s3.dualstack.{region}.amazonaws.com",
        "RegionalDomainName": "{name}.s3.{region}.amazonaws.com",
        "WebsiteURL": "http://{name}.s3-website-{region}.amazonaws.com",
    },
    "AWS::SNS::Topic": {"TopicArn": "{ref}", "TopicName": "{name}"},
    "AWS::Serverless::Function": {"Arn": "arn:aws:lambda:{region}:{account}:function:{name}"},
    "AWS::Lambda::Function": {"Arn": "arn:aws:lambda:{region}:{account}:function:{name}"},
    "AWS::Logs::LogGroup": {"Arn": "arn:aws:logs:{region}:{account}:log-group:{name}:*"},
    "AWS::CloudWatch::Alarm": {"Arn": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"},
    "AWS::Events::Rule": {"Arn": "arn:aws:events:{region}:{account}:rule/{name}"},
    "AWS::IAM::Role": {"Arn": "arn:aws:iam::{account}:role/{name}", "RoleId": "AROA{name}"},
    "AWS::Serverless::Api": {"RootResourceId": "root{ref}"},
    "AWS::ApiGateway::RestApi": {"RootResourceId": "root{ref}"},
    "AWS::Cognito::UserPool": {
        "Arn": "arn:aws:cognito-idp:{region}:{account}:userpool/{ref}",
        "ProviderName": "cognito-idp.{region}.amazonaws.com/{ref}",
        "ProviderURL": "https://cognito-idp.{region}.amazonaws.com/{ref}",
        "UserPoolId": "{ref}",
    },
    "AWS::Cognito::UserPoolClient": {"ClientId": "{ref}"},
    "AWS::Pipes::Pipe": {
        "Arn": "arn:aws:pipes:{region}:{account}:pipe/{name}",
        "CurrentState": "RUNNING",
        "StateReason": "",
    },
    "AWS::SSM::Parameter": {},  # Type and Value come from the properties (see _attribute)
    # Not created locally (KMS is not emulated); its id and ARN only fill the properties that name it.
    "AWS::KMS::Key": {"Arn": "arn:aws:kms:{region}:{account}:key/{ref}", "KeyId": "{ref}"},
}

# The property that names a resource when the template sets it.
_NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::SSM::Parameter": "Name",
    "AWS::Cognito::UserPoolGroup": "GroupName",
    "AWS::Cognito::UserPool": "UserPoolName",
    "AWS::SES::EmailIdentity": "EmailIdentity",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Pipes::Pipe": "Name",
}


_INTRINSICS = frozenset(_SHORT_TAGS.values())


def _is_intrinsic(value: Any) -> bool:
    """A one-key mapping naming an intrinsic function (a policy's `Condition` block is not one)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key, argument), = value.items()
    return key in _INTRINSICS and (key != "Condition" or isinstance(argument, str))


def sam_merge(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge (recursively), lists append, anything else is overridden."""
    if _is_intrinsic(global_value) or _is_intrinsic(local_value):
        return local_value
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = sam_merge(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


class LocalTemplate:
    """A SAM template resolved for the local stack.

    `aws_endpoint` only shapes queue URLs (`!Ref Queue`); any host works for moto's in-process
    mock too, because boto3 sends SQS calls to the client's endpoint and moto reads the queue
    name from the URL.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        parameters: Mapping[str, Any] | None = None,
        stack_name: str = STACK_NAME,
        account_id: str = ACCOUNT_ID,
        region: str = REGION,
        aws_endpoint: str = DEFAULT_AWS_ENDPOINT,
    ) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.data = load_template(self.path)
        self.stack_name = stack_name
        self.account_id = account_id
        self.region = region
        self.aws_endpoint = aws_endpoint.rstrip("/")
        declared = self.data.get("Parameters") or {}
        unknown = set(parameters or {}) - set(declared)
        if unknown:
            raise TemplateError(f"unknown template parameters: {', '.join(sorted(unknown))}")
        self._parameter_overrides = dict(parameters or {})
        self._bound_refs: dict[str, str] = {}
        self._bound_attributes: dict[tuple[str, str], str] = {}
        self._condition_cache: dict[str, bool] = {}

    # ------------------------------------------------------------------ parameters & conditions

    @cached_property
    def parameters(self) -> dict[str, Any]:
        """Effective parameter values: overrides, else `Default` (parameters without one are absent)."""
        values = {}
        for name, spec in (self.data.get("Parameters") or {}).items():
            if name in self._parameter_overrides:
                values[name] = self._parameter_overrides[name]
            elif "Default" in spec:
                values[name] = spec["Default"]
        return values

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            conditions = self.data.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._condition_cache[name] = bool(self.resolve(conditions[name]))
        return self._condition_cache[name]

    # ------------------------------------------------------------------ resources

    @cached_property
    def resources(self) -> dict[str, Resource]:
        """Declared resources whose `Condition` holds, plus the implicit ones SAM would add."""
        out: dict[str, Resource] = {}
        for logical_id, body in self.data["Resources"].items():
            condition = body.get("Condition")
            if condition and not self.condition(condition):
                continue
            out[logical_id] = Resource(logical_id, body["Type"], body.get("Properties") or {}, condition)
        for resource in list(self._implicit_resources(out)):
            out.setdefault(resource.logical_id, resource)
        return out

    def _implicit_resources(self, declared: dict[str, Resource]) -> Iterable[Resource]:
        """Resources SAM generates that templates commonly reference (roles, rules, default API)."""
        for fn in (r for r in declared.values() if r.type == "AWS::Serverless::Function"):
            if "Role" not in fn.properties:
                yield Resource(f"{fn.logical_id}Role", "AWS::IAM::Role", {})
            for event_name, event in (fn.properties.get("Events") or {}).items():
                if event.get("Type") == "Schedule":
                    rule_name = (event.get("Properties") or {}).get(
                        "Name", f"{self.stack_name}-{fn.logical_id}-{event_name}"
                    )
                    yield Resource(f"{fn.logical_id}{event_name}", "AWS::Events::Rule", {"Name": rule_name})
                if event.get("Type") == "Api" and "RestApiId" not in (event.get("Properties") or {}):
                    yield Resource("ServerlessRestApi", "AWS::Serverless::Api", {"StageName": "Prod"})

    def of_type(self, *types: str) -> dict[str, Resource]:
        return {lid: r for lid, r in self.resources.items() if r.type in types}

    @property
    def tables(self) -> dict[str, Resource]:
        return self.of_type("AWS::DynamoDB::Table")

    @property
    def queues(self) -> dict[str, Resource]:
        return self.of_type("AWS::SQS::Queue")

    @property
    def buckets(self) -> dict[str, Resource]:
        return self.of_type("AWS::S3::Bucket")

    @property
    def topics(self) -> dict[str, Resource]:
        return self.of_type("AWS::SNS::Topic")

    @property
    def apis(self) -> dict[str, Resource]:
        return self.of_type(*API_TYPES)

    def resource(self, logical_id: str) -> Resource:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"no resource {logical_id} in {self.path.name}") from None

    # ------------------------------------------------------------------ names

    def bind(self, logical_id: str, ref: str | None = None, **attributes: str) -> None:
        """Record identifiers assigned at creation time (e.g. a Cognito user pool id)."""
        if ref is not None:
            self._bound_refs[logical_id] = ref
        for attribute, value in attributes.items():
            self._bound_attributes[(logical_id, attribute)] = value
        self.__dict__.pop("functions", None)

    def base_name(self, logical_id: str) -> str:
        """The resource's own name (queue name, table name, ...), before any URL/ARN wrapping."""
        resource = self.resource(logical_id)
        name_property = _NAME_PROPERTIES.get(resource.type)
        if name_property and name_property in resource.properties:
            return str(self.resolve(resource.properties[name_property]))
        if resource.type == "AWS::S3::Bucket":
            return f"{self.stack_name}-{logical_id}".lower()
        if resource.type == "AWS::SQS::Queue" and self.resolve(resource.properties.get("FifoQueue", False)):
            return f"{self.stack_name}-{logical_id}.fifo"
        return f"{self.stack_name}-{logical_id}"

    def physical_name(self, logical_id: str) -> str:
        """What `!Ref <logical_id>` gives locally."""
        if logical_id in self._bound_refs:
            return self._bound_refs[logical_id]
        resource = self.resource(logical_id)
        name = self.base_name(logical_id)
        if resource.type == "AWS::SQS::Queue":
            return self.queue_url(name)
        if resource.type == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{self.account_id}:{name}"
        if resource.type in LAYER_TYPES:
            return f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}:1"
        if resource.type in API_TYPES:
            return _short_id(f"{self.stack_name}/{logical_id}", 10)
        if resource.type == "AWS::Cognito::UserPool":
            return f"{self.region}_{_short_id(f'{self.stack_name}/{logical_id}', 9, upper=True)}"
        if resource.type == "AWS::Cognito::UserPoolClient":
            return _short_id(f"{self.stack_name}/{logical_id}", 26)
        return name

    ref = physical_name

    def attribute(self, logical_id: str, attribute: str) -> Any:
        """What `!GetAtt <logical_id>.<attribute>` gives locally."""
        if (logical_id, attribute) in self._bound_attributes:
            return self._bound_attributes[(logical_id, attribute)]
        resource = self.resource(logical_id)
        if resource.type == "AWS::SSM::Parameter" and attribute in ("Type", "Value"):
            return self.resolve(resource.properties[attribute])
        formats = _ATTRIBUTES.get(resource.type, {})
        if attribute not in formats:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: attribute not supported locally")
        return formats[attribute].format(
            name=self.base_name(logical_id),
            ref=self.physical_name(logical_id),
            region=self.region,
            account=self.account_id,
        )

    def arn(self, logical_id: str) -> str:
        return self.attribute(logical_id, "Arn")

    def queue_url(self, queue_name: str) -> str:
        return f"{self.aws_endpoint}/{self.account_id}/{queue_name}"

    def queue_url_from_arn(self, arn: str) -> str:
        return self.queue_url(arn.rsplit(":", 1)[-1])

    def names(self, types: Iterable[str] | None = None) -> dict[str, str]:
        """`{logical_id: !Ref value}` for resources of `types` (all resources when None)."""
        wanted = set(types) if types is not None else None
        return {
            lid: self.physical_name(lid)
            for lid, r in self.resources.items()
            if wanted is None or r.type in wanted
        }

    # ------------------------------------------------------------------ functions

    @cached_property
    def functions(self) -> dict[str, FunctionSpec]:
        return {lid: self._function_spec(lid) for lid in self.of_type(*FUNCTION_TYPES)}

    def function_properties(self, logical_id: str) -> dict:
        """The function's properties with `Globals.Function` merged in (still unresolved)."""
        resource = self.resource(logical_id)
        if resource.type not in FUNCTION_TYPES:
            raise TemplateError(f"{logical_id} is a {resource.type}, not a function")
        if resource.type == "AWS::Lambda::Function":
            return resource.properties
        globals_ = (self.data.get("Globals") or {}).get("Function") or {}
        return sam_merge(globals_, resource.properties)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """Global + function environment variables, each resolved to the string Lambda would see."""
        props = self.function_properties(logical_id)
        variables = ((props.get("Environment") or {}).get("Variables")) or {}
        resolved = self.resolve(variables)
        return {key: _env_string(key, value) for key, value in resolved.items()}

    def _function_spec(self, logical_id: str) -> FunctionSpec:
        props = self.function_properties(logical_id)
        code_uri = self.resolve(props.get("CodeUri"))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: only a local CodeUri directory is supported")
        events = {
            name: EventSource(name, event["Type"], self.resolve(event.get("Properties") or {}))
            for name, event in (props.get("Events") or {}).items()
        }
        name = self.physical_name(logical_id)
        return FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=self.arn(logical_id),
            code_dir=(self.root / code_uri).resolve(),
            handler=str(self.resolve(props.get("Handler", "app.handler"))),
            runtime=str(self.resolve(props.get("Runtime", "python3.12"))),
            timeout=int(self.resolve(props.get("Timeout", 3))),
            memory_size=int(self.resolve(props.get("MemorySize", 128))),
            layer_dirs=tuple(self._layer_dirs(props.get("Layers") or [])),
            events=events,
            event_invoke_config=self.resolve(props.get("EventInvokeConfig") or {}),
        )

    def _layer_dirs(self, layers: list) -> Iterable[Path]:
        """Local directories of layers declared in this template; external layer ARNs are skipped."""
        for layer in layers:
            if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in self.resources:
                resource = self.resources[layer["Ref"]]
                content = self.resolve(resource.properties.get("ContentUri") or resource.properties.get("Content"))
                if isinstance(content, str):
                    yield (self.root / content).resolve()

    def schedule_rule_arn(self, function_id: str, event_name: str) -> str:
        """ARN of the rule SAM creates for a `Schedule` event: `<stack>-<Function>-<Event>` locally."""
        return self.arn(f"{function_id}{event_name}")

    def outputs(self) -> dict[str, Any]:
        out = {}
        for name, output in (self.data.get("Outputs") or {}).items():
            if output.get("Condition") and not self.condition(output["Condition"]):
                continue
            out[name] = self.resolve(output["Value"])
        return out

    # ------------------------------------------------------------------ intrinsics

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function inside `value` (a template fragment)."""
        resolved = self._resolve(value)
        if resolved is _NO_VALUE:
            return None
        return resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = (self._resolve(item) for item in value)
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if _is_intrinsic(value):
            (name, argument), = value.items()
            return self._intrinsic(name, argument)
        out = {}
        for key, item in value.items():
            resolved = self._resolve(item)
            if resolved is not _NO_VALUE:
                out[key] = resolved
        return out

    def _intrinsic(self, name: str, arg: Any) -> Any:
        resolver = self._RESOLVERS.get(name)
        if resolver is None:
            raise TemplateError(f"{name} cannot be resolved in a local stack")
        return resolver(self, arg)

    # One method per intrinsic function, `(self, argument) -> value`; `_RESOLVERS` (after `_sub`) maps
    # the functions' names to them.

    def _get_att(self, arg: Any) -> Any:
        logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        return self.attribute(self._resolve(logical_id), self._resolve(attribute))

    def _join(self, arg: Any) -> str:
        delimiter, items = arg
        return str(delimiter).join(_as_string(i) for i in self._resolve(items))

    def _select(self, arg: Any) -> Any:
        index, items = self._resolve(arg)
        return items[int(index)]

    def _split(self, arg: Any) -> list[str]:
        delimiter, text = self._resolve(arg)
        return str(text).split(delimiter)

    def _if(self, arg: Any) -> Any:
        condition, if_true, if_false = arg
        return self._resolve(if_true if self.condition(condition) else if_false)

    def _not(self, arg: Any) -> bool:
        return not self._truth(arg[0])

    def _and(self, arg: Any) -> bool:
        return all(self._truth(item) for item in arg)

    def _or(self, arg: Any) -> bool:
        return any(self._truth(item) for item in arg)

    def _equals(self, arg: Any) -> bool:
        left, right = (self._resolve(item) for item in arg)
        return _as_string(left) == _as_string(right)

    def _find_in_map(self, arg: Any) -> Any:
        map_name, top, second = (self._resolve(item) for item in arg[:3])
        try:
            return self.data["Mappings"][map_name][top][second]
        except KeyError:
            raise TemplateError(f"!FindInMap {map_name}.{top}.{second}: no such entry") from None

    def _base64(self, arg: Any) -> str:
        return base64.b64encode(_as_string(self._resolve(arg)).encode()).decode()

    def _get_azs(self, arg: Any) -> list[str]:
        return [f"{self.region}{zone}" for zone in "abc"]

    def _truth(self, value: Any) -> bool:
        return bool(self._resolve(value))

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local"
            ),
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in (self.data.get("Parameters") or {}):
            if name not in self.parameters:
                raise TemplateError(f"parameter {name} has no Default and no value was given")
            return self.parameters[name]
        return self.physical_name(name)

    _SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self._resolve(arg[1] if len(arg) > 1 else {})
        else:
            text, variables = arg, {}

        def replace(match: re.Match) -> str:
            expression = match.group(1).strip()
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return _as_string(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                logical_id, attribute = expression.split(".", 1)
                return _as_string(self.attribute(logical_id, attribute))
            return _as_string(self._ref(expression))

        return self._SUB_VARIABLE.sub(replace, str(text))

    _RESOLVERS: dict[str, Callable[[LocalTemplate, Any], Any]] = {
        "Ref": _ref,
        "Condition": condition,
        "Fn::GetAtt": _get_att,
        "Fn::Sub": _sub,
        "Fn::Join": _join,
        "Fn::Select": _select,
        "Fn::Split": _split,
        "Fn::If": _if,
        "Fn::Not": _not,
        "Fn::And": _and,
        "Fn::Or": _or,
        "Fn::Equals": _equals,
        "Fn::FindInMap": _find_in_map,
        "Fn::Base64": _base64,
        "Fn::GetAZs": _get_azs,
    }


def _short_id(seed: str, length: int, *, upper: bool = False) -> str:
    """A stable, plausible-looking identifier for resources AWS would name randomly."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    text = "".join(alphabet[int(digest[i : i + 2], 16) % 36] for i in range(0, 2 * length, 2))
    return text.upper() if upper else text


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        raise TemplateError(f"expected a string, got {json.dumps(value)[:80]}")
    return str(value)


def _env_string(key: str, value: Any) -> str:
    try:
        return _as_string(value)
    except TemplateError as exc:
        raise TemplateError(f"environment variable {key}: {exc}") from None
