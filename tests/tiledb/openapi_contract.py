"""Contract checks against TileDB's official Swagger 2.0 spec (``../shared/reference/tiledb/openapi-v1.yaml``).

:class:`Spec` turns the spec's definitions into JSON Schema (draft 4, as Swagger 2.0; ``x-nullable``
becomes ``anyOf [.., null]``; ``uint64``/``int64``/``int32``/``date-time`` formats checked) and checks:

* a request: the path matches a spec path under ``basePath``, the method exists, every query
  parameter is declared, typed as declared, given once unless ``collectionFormat: multi`` (csv
  arrays are one comma-separated value), required ones present; the body validates against the
  body parameter's schema, with ``Content-Type: application/json``; the security requirement
  (API key header or Basic) is met;
* a response: its status is declared (or covered by ``default``); a body validates against the
  declared schema (JSON), a response without a schema has an empty body; declared headers are set.

:class:`ContractTransport` wraps a transport and checks every exchange, collecting violations.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import pytest

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "tiledb" / "openapi-v1.yaml"
_INT = re.compile(r"^-?\d+$")
_DROP = {"example", "examples", "x-omitempty", "x-nullable"}


def _to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _to_jsonschema(value) for key, value in node.items() if key not in _DROP}
    if node.get("x-nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _format_checker() -> Any:
    from jsonschema import Draft4Validator

    checker = Draft4Validator.FORMAT_CHECKER

    def bounded(low: int, high: int) -> Any:
        def check(value: Any) -> bool:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return True  # formats only constrain numbers
            return low <= value < high and float(value).is_integer()

        return check

    checker.checks("uint64")(bounded(0, 2**64))
    checker.checks("int64")(bounded(-(2**63), 2**63))
    checker.checks("int32")(bounded(-(2**31), 2**31))
    return checker


@functools.cache
def _load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(), Loader=loader)  # type: ignore[no-any-return]


@functools.cache
def optional_spec() -> Spec | None:
    """The parsed spec, or None when ``../shared`` is absent."""
    raw = _load(SPEC_PATH)
    return None if raw is None else Spec(raw)


def load_spec() -> Spec:
    """The parsed spec, or skip the calling test when ``../shared`` is absent."""
    spec = optional_spec()
    if spec is None:
        pytest.skip(f"TileDB's official spec is not at {SPEC_PATH} (../shared/reference/tiledb/openapi-v1.yaml)")
    return spec


class Spec:
    """TileDB's v1 spec, ready to check requests and responses."""

    def __init__(self, raw: dict[str, Any]) -> None:
        from jsonschema import Draft4Validator

        self.raw = raw
        self.base_path: str = raw.get("basePath", "")
        self.definitions = _to_jsonschema(raw["definitions"])
        self.security = raw.get("security", [])
        self._validator_cls = Draft4Validator
        self._checker = _format_checker()
        self._routes: list[tuple[re.Pattern[str], str]] = []
        for template in sorted(raw["paths"], key=lambda t: (t.count("{"), -len(t))):
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            self._routes.append((re.compile(f"^{pattern}$"), template))

    # -- schemas ---------------------------------------------------------------------------

    def validate(self, instance: Any, schema: dict[str, Any]) -> list[str]:
        """Errors of ``instance`` against a spec schema (its ``$ref`` resolved in the spec's definitions)."""
        root = {**_to_jsonschema(schema), "definitions": self.definitions}
        validator = self._validator_cls(root, format_checker=self._checker)
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in validator.iter_errors(instance)
        ]

    def definition(self, name: str) -> dict[str, Any]:
        """A ``$ref`` schema to one definition."""
        return {"$ref": f"#/definitions/{name}"}

    # -- operations ------------------------------------------------------------------------

    def route(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The spec path template matching an API path (relative to ``basePath``) and its path params."""
        for pattern, template in self._routes:
            found = pattern.match(path)
            if found:
                return template, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def operation(self, method: str, template: str) -> dict[str, Any] | None:
        """The operation object of ``method`` on ``template``."""
        item = self.raw["paths"][template]
        return item.get(method.lower())  # type: ignore[no-any-return]

    def parameters(self, template: str, method: str) -> list[dict[str, Any]]:
        """Path-level parameters merged with the operation's (the operation's win)."""
        item = self.raw["paths"][template]
        merged = {(p["name"], p["in"]): p for p in item.get("parameters", [])}
        merged.update({(p["name"], p["in"]): p for p in (item.get(method.lower()) or {}).get("parameters", [])})
        return list(merged.values())

    def api_path(self, url: httpx.URL) -> str:
        """The request path relative to ``basePath`` (Prism and the lab's root mount serve without it)."""
        path = url.raw_path.decode().split("?", 1)[0]
        if self.base_path and (path == self.base_path or path.startswith(self.base_path + "/")):
            path = path[len(self.base_path):]
        return path

    def check_request(self, request: httpx.Request) -> list[str]:
        """Violations of one request against the spec (empty when it conforms)."""
        path = self.api_path(request.url)
        routed = self.route(path)
        if routed is None:
            return [f"{request.method} {path}: no such path in the spec"]
        template, path_params = routed
        op = self.operation(request.method, template)
        where = f"{request.method} {template}"
        if op is None:
            return [f"{where}: method not in the spec"]
        problems: list[str] = []
        declared = self.parameters(template, request.method)
        query = parse_qsl(request.url.query.decode() if isinstance(request.url.query, bytes) else request.url.query,
                          keep_blank_values=True)
        given: dict[str, list[str]] = {}
        for key, value in query:
            given.setdefault(key, []).append(value)
        for key in given:
            if not any(p["in"] == "query" and p["name"] == key for p in declared):
                problems.append(f"{where}: query parameter {key!r} is not declared")
        for param in declared:
            name, location = param["name"], param["in"]
            if location == "query":
                values = given.get(name)
                if values is None:
                    if param.get("required"):
                        problems.append(f"{where}: required query parameter {name!r} missing")
                    continue
                problems += [f"{where}: {p}" for p in _check_param(param, values)]
            elif location == "path":
                problems += [f"{where}: {p}" for p in _check_param(param, [path_params.get(name, "")])]
            elif location == "header":
                value = request.headers.get(name)
                if value is None and param.get("required"):
                    problems.append(f"{where}: required header {name!r} missing")
            elif location == "body":
                problems += [f"{where}: {p}" for p in self._check_body(param, request)]
        if request.content and not any(p["in"] == "body" for p in declared):
            problems.append(f"{where}: sends a body but the operation declares none")
        if not self._authorised(op, request):
            problems.append(f"{where}: neither X-TILEDB-REST-API-KEY nor Basic auth is sent")
        return problems

    def _check_body(self, param: dict[str, Any], request: httpx.Request) -> list[str]:
        if not request.content:
            return ["required body missing"] if param.get("required") else []
        consumes = self.raw.get("consumes", ["application/json"])
        media = request.headers.get("content-type", "").split(";")[0].strip()
        problems = [] if media in consumes else [f"body Content-Type {media!r} not in {consumes}"]
        try:
            body = json.loads(request.content)
        except ValueError:
            return [*problems, "body is not JSON"]
        return problems + [f"body {e}" for e in self.validate(body, param["schema"])]

    def _authorised(self, op: dict[str, Any], request: httpx.Request) -> bool:
        requirements = op.get("security", self.security)
        if requirements == []:
            return True
        schemes = self.raw.get("securityDefinitions", {})
        for requirement in requirements:
            ok = True
            for name in requirement:
                scheme = schemes.get(name, {})
                if scheme.get("type") == "apiKey":
                    ok &= bool(request.headers.get(scheme["name"]))
                elif scheme.get("type") == "basic":
                    ok &= request.headers.get("authorization", "").lower().startswith("basic ")
                else:
                    ok = False
            if ok:
                return True
        return False

    def check_response(self, method: str, path: str, response: httpx.Response) -> list[str]:
        """Violations of one response (body read) against the spec's response for its status."""
        routed = self.route(path)
        if routed is None:
            return [f"{method} {path}: no such path in the spec"]
        template = routed[0]
        op = self.operation(method, template) or {}
        responses = {str(code): value for code, value in op.get("responses", {}).items()}
        status = str(response.status_code)
        where = f"{method} {template} -> {status}"
        declared = responses.get(status) or responses.get("default")
        if declared is None:
            return [f"{where}: status not declared and no default response"]
        problems = [
            f"{where}: declared header {name!r} missing"
            for name in declared.get("headers", {})
            if name.lower() != "content-type" and name not in response.headers
        ]
        schema = declared.get("schema")
        if schema is None:
            if response.content:
                problems.append(f"{where}: body sent where the spec declares none")
            return problems
        if schema.get("type") == "string" and str(schema.get("format", "")).startswith("binary"):
            return problems  # a stored result: any bytes, described by Content-Type
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if media not in self.raw.get("produces", ["application/json"]):
            problems.append(f"{where}: Content-Type {media!r} is not a produced type")
        try:
            body = json.loads(response.content)
        except ValueError:
            return [*problems, f"{where}: body is not JSON"]
        return problems + [f"{where}: {e}" for e in self.validate(body, schema)]


def _check_param(param: dict[str, Any], values: list[str]) -> list[str]:
    name = param["name"]
    if param.get("type") == "array":
        fmt = param.get("collectionFormat", "csv")
        if fmt != "multi" and len(values) > 1:
            return [f"{name!r} is collectionFormat {fmt}: one comma-separated value expected, got {len(values)} keys"]
        separator = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}.get(fmt)
        items = [part for value in values for part in (value.split(separator) if separator else [value])]
        return [p for item in items for p in _check_scalar(name, param.get("items", {}), item)]
    if len(values) > 1:
        return [f"{name!r} given {len(values)} times but is not an array"]
    return _check_scalar(name, param, values[0])


def _check_scalar(name: str, schema: dict[str, Any], value: str) -> list[str]:
    kind = schema.get("type", "string")
    if kind == "integer":
        if not _INT.match(value):
            return [f"{name!r}={value!r} is not an integer"]
        if schema.get("format") == "uint64" and int(value) < 0:
            return [f"{name!r}={value!r} is negative for uint64"]
    elif kind == "number":
        try:
            float(value)
        except ValueError:
            return [f"{name!r}={value!r} is not a number"]
    elif kind == "boolean" and value not in ("true", "false"):
        return [f"{name!r}={value!r} is not a boolean"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{name!r}={value!r} not in {schema['enum']}"]
    if kind == "string" and not value and schema.get("in") == "path":
        return [f"{name!r} is empty"]
    return []


@dataclass
class Exchange:
    """One checked request/response pair."""

    method: str
    template: str | None
    status: int
    problems: list[str]


@dataclass
class ContractTransport(httpx.AsyncBaseTransport):
    """A transport that checks every request and response against the spec, then passes them on."""

    spec: Spec
    inner: httpx.AsyncBaseTransport
    exchanges: list[Exchange] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        problems = self.spec.check_request(request)
        response = await self.inner.handle_async_request(request)
        try:
            raw = response.content  # already in memory (e.g. httpx.MockTransport)
        except httpx.ResponseNotRead:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
        copy = httpx.Response(response.status_code, headers=response.headers, content=raw, request=request)
        decoded = httpx.Response(response.status_code, headers=response.headers, content=raw, request=request)
        await decoded.aread()
        path = self.spec.api_path(request.url)
        routed = self.spec.route(path)
        problems += self.spec.check_response(request.method, path, decoded)
        self.exchanges.append(Exchange(request.method, routed[0] if routed else None, response.status_code, problems))
        return copy

    @property
    def problems(self) -> list[str]:
        """Every violation seen so far."""
        return [p for exchange in self.exchanges for p in exchange.problems]

    def covered(self) -> set[tuple[str, str | None, int]]:
        """(method, path template, status) of every exchange."""
        return {(e.method, e.template, e.status) for e in self.exchanges}

    async def aclose(self) -> None:
        await self.inner.aclose()
