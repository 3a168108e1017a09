"""A small evaluator of Terraform expressions, for asserting what a configuration *does* rather than how it is
spelled.

python-hcl2 turns every expression into its source text (`"${merge(local.a, {B = var.c})}"`); this module
parses that text (the subset of HCL's expression language the configuration uses: literals, templates,
operators, conditionals, `for` expressions, splats, function calls) and evaluates it against variables and
locals. What only exists after an apply (resource attributes, `filemd5(...)`) stays symbolic: an `Unknown`
whose `text` is the reference, e.g. `google_service_account.sa["tasks"].member`, so a test can still assert
*which* account is granted something.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Unknown:
    """A value known only after an apply, named by the expression that produces it."""

    text: str

    def __str__(self) -> str:
        return "${" + self.text + "}"


class EvalError(ValueError):
    """An expression this evaluator cannot parse or evaluate."""


Scope = Mapping[str, Any]
Node = Callable[[Scope], Any]
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _is_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_unknown(v) for v in value)
    return False


def _text(value: Any) -> str:
    """The source-like text of a value (for naming an Unknown built from it)."""
    if isinstance(value, Unknown):
        return value.text
    return json.dumps(value, default=str)


def to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise EvalError(f"cannot convert {value!r} to a string")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # --- characters -----------------------------------------------------------------------------------------

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self, token: str) -> bool:
        self.skip()
        if not self.text.startswith(token, self.pos):
            return False
        if _IDENT.fullmatch(token):  # a keyword must not be the start of a longer name
            end = self.pos + len(token)
            return end >= len(self.text) or not re.match(r"[A-Za-z0-9_-]", self.text[end])
        return True

    def accept(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            raise EvalError(f"expected {token!r} at {self.pos} in {self.text!r}")

    def ident(self) -> str:
        self.skip()
        match = _IDENT.match(self.text, self.pos)
        if not match:
            raise EvalError(f"expected a name at {self.pos} in {self.text!r}")
        self.pos = match.end()
        return match.group(0)

    # --- templates ------------------------------------------------------------------------------------------

    def template(self, end: str | None) -> Node:
        """A template up to `end` (a closing quote) or the end of the text. `${x}` alone yields x's value."""
        parts: list[str | Node] = []
        literal: list[str] = []
        while True:
            if self.pos >= len(self.text):
                if end is not None:
                    raise EvalError(f"unterminated string in {self.text!r}")
                break
            char = self.text[self.pos]
            if end is not None and char == end:
                self.pos += 1
                break
            if self.text.startswith("$${", self.pos) or self.text.startswith("%%{", self.pos):
                literal.append(self.text[self.pos + 1 : self.pos + 3])
                self.pos += 3
            elif self.text.startswith("${", self.pos):
                self.pos += 2
                self.accept("~")
                if literal:
                    parts.append("".join(literal))
                    literal = []
                parts.append(self.expression())
                self.accept("~")
                self.expect("}")
            elif self.text.startswith("%{", self.pos):
                raise EvalError(f"template directives are not supported: {self.text!r}")
            elif char == "\\" and end is not None:
                escaped = self.text[self.pos + 1]
                literal.append({"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}.get(escaped, "\\" + escaped))
                self.pos += 2
            else:
                literal.append(char)
                self.pos += 1
        if literal:
            parts.append("".join(literal))
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0]

        def render(scope: Scope) -> Any:
            values = [part if isinstance(part, str) else part(scope) for part in parts]
            if any(_is_unknown(v) for v in values):
                return Unknown('"' + "".join(v if isinstance(v, str) else str(Unknown(_text(v))) for v in values) + '"')
            return "".join(to_string(v) for v in values)

        return render

    # --- expressions ----------------------------------------------------------------------------------------

    def expression(self) -> Node:
        condition = self.binary(0)
        if self.accept("?"):
            then = self.expression()
            self.expect(":")
            otherwise = self.expression()

            def conditional(scope: Scope) -> Any:
                test = condition(scope)
                if isinstance(test, Unknown):
                    return Unknown(f"{test.text} ? ... : ...")
                return then(scope) if test else otherwise(scope)

            return conditional
        return condition

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<=", ">=", "<", ">"), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            self.skip()
            op = next((o for o in self._LEVELS[level] if self.text.startswith(o, self.pos)), None)
            if op is None or self.text.startswith("=>", self.pos):
                return left
            self.pos += len(op)
            right = self.binary(level + 1)
            left = _binary(op, left, right)

    def unary(self) -> Node:
        if self.accept("!"):
            operand = self.unary()
            return lambda scope: _apply1(lambda v: not v, "!", operand(scope))
        if self.peek("-") and not self.text.startswith("->", self.pos):
            self.pos += 1
            operand = self.unary()
            return lambda scope: _apply1(lambda v: -v, "-", operand(scope))
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            self.skip()
            if self.text.startswith(".*", self.pos) or self.text.startswith("[*]", self.pos):
                self.pos += 2 if self.text.startswith(".*", self.pos) else 3
                rest = self.postfix(lambda scope: scope["__splat__"])
                node = _splat(node, rest)
                return node
            if self.text.startswith(".", self.pos) and not self.text.startswith("...", self.pos):
                self.pos += 1
                self.skip()
                number = re.match(r"[0-9]+", self.text[self.pos :])
                key: Any = int(number.group(0)) if number else None
                if number:
                    self.pos += len(number.group(0))
                else:
                    key = self.ident()
                node = _index(node, _constant(key), attribute=True)
            elif self.text.startswith("[", self.pos):
                self.pos += 1
                key_node = self.expression()
                self.expect("]")
                node = _index(node, key_node, attribute=False)
            else:
                return node

    def primary(self) -> Node:
        self.skip()
        if self.pos >= len(self.text):
            raise EvalError(f"unexpected end of {self.text!r}")
        char = self.text[self.pos]
        if char == '"':
            self.pos += 1
            return self.template('"')
        if char == "(":
            self.pos += 1
            inner = self.expression()
            self.expect(")")
            return inner
        if char == "[":
            self.pos += 1
            return self.tuple()
        if char == "{":
            self.pos += 1
            return self.object()
        number = _NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            value: int | float = float(number.group(0)) if number.group(1) or number.group(2) else int(number.group(0))
            return lambda scope: value
        if self.text.startswith("<<", self.pos):
            return self.heredoc()
        name = self.ident()
        if name in ("true", "false", "null"):
            constant = {"true": True, "false": False, "null": None}[name]
            return lambda scope: constant
        if self.accept("("):
            return self.call(name)
        return lambda scope: _lookup(scope, name)

    def heredoc(self) -> Node:
        match = re.compile(r"<<(-?)([A-Za-z_]+)\n(.*?)\n[ \t]*\2", re.S).match(self.text, self.pos)
        if not match:
            raise EvalError(f"bad heredoc in {self.text!r}")
        self.pos = match.end()
        body = match.group(3)
        if match.group(1):
            lines = body.split("\n")
            indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
            body = "\n".join(line[indent:] for line in lines)
        return _Parser(body + "\n").template(None)

    def call(self, name: str) -> Node:
        args: list[Node] = []
        expand = False
        while not self.accept(")"):
            args.append(self.expression())
            if self.accept("..."):
                expand = True
            if not self.accept(","):
                self.expect(")")
                break
        function = FUNCTIONS.get(name)
        if function is None:
            raise EvalError(f"function {name}() is not supported")
        lazy = name in ("can", "try")

        def invoke(scope: Scope) -> Any:
            if lazy:
                return function(scope, *args)
            values = [arg(scope) for arg in args]
            if expand:
                last = values.pop()
                if isinstance(last, Unknown):
                    return Unknown(f"{name}(...)")
                values.extend(last)
            if name not in _UNKNOWN_TOLERANT and any(isinstance(v, Unknown) for v in values):
                return Unknown(f"{name}({', '.join(_text(v) for v in values)})")
            return function(*values)

        return invoke

    def tuple(self) -> Node:
        if self.peek("for"):
            return self.for_expression("]")
        items: list[Node] = []
        while not self.accept("]"):
            items.append(self.expression())
            self.accept(",")
        return lambda scope: [item(scope) for item in items]

    def object(self) -> Node:
        if self.peek("for"):
            return self.for_expression("}")
        entries: list[tuple[Node, Node]] = []
        while not self.accept("}"):
            self.skip()
            if self.text[self.pos] == "(":
                key = self.primary()
            elif self.text[self.pos] == '"':
                self.pos += 1
                key = self.template('"')
            else:
                name = self.ident()
                key = _constant(name)  # a bare name is a literal key
            if not (self.accept("=") or self.accept(":")):
                raise EvalError(f"expected = after an object key at {self.pos} in {self.text!r}")
            entries.append((key, self.expression()))
            self.accept(",")

        def build(scope: Scope) -> dict[str, Any]:
            return {to_string(key(scope)): value(scope) for key, value in entries}

        return build

    def for_expression(self, close: str) -> Node:
        self.expect("for")
        first = self.ident()
        second = self.ident() if self.accept(",") else None
        self.expect("in")
        collection = self.expression()
        self.expect(":")
        key_node = self.expression()
        value_node: Node | None = None
        group = False
        if close == "}":
            self.expect("=>")
            value_node = self.expression()
            group = self.accept("...")
        condition = self.expression() if self.accept("if") else None
        self.expect(close)

        def run(scope: Scope) -> Any:
            source = collection(scope)
            if isinstance(source, Unknown):
                return Unknown(f"[for ... in {source.text}]")
            pairs = list(source.items()) if isinstance(source, dict) else list(enumerate(source))
            result_list: list[Any] = []
            result_map: dict[str, Any] = {}
            for key, value in pairs:
                inner = dict(scope)
                if second is None:
                    inner[first] = value
                else:
                    inner[first], inner[second] = key, value
                if condition is not None and not condition(inner):
                    continue
                if value_node is None:
                    result_list.append(key_node(inner))
                    continue
                out_key = to_string(key_node(inner))
                if group:
                    result_map.setdefault(out_key, []).append(value_node(inner))
                elif out_key in result_map:
                    raise EvalError(f"duplicate key {out_key!r} in a for expression")
                else:
                    result_map[out_key] = value_node(inner)
            return result_map if value_node is not None else result_list

        return run


def _constant(value: Any) -> Node:
    def constant(scope: Scope) -> Any:
        return value

    return constant


def _apply1(function: Callable[[Any], Any], op: str, value: Any) -> Any:
    return Unknown(f"{op}{_text(value)}") if isinstance(value, Unknown) else function(value)


def _binary(op: str, left: Node, right: Node) -> Node:
    def run(scope: Scope) -> Any:
        a = left(scope)
        if op == "&&" and a is False:
            return False
        if op == "||" and a is True:
            return True
        b = right(scope)
        if isinstance(a, Unknown) or isinstance(b, Unknown):
            if op in ("==", "!=") and not (isinstance(a, Unknown) and isinstance(b, Unknown)):
                return Unknown(f"{_text(a)} {op} {_text(b)}")
            return Unknown(f"{_text(a)} {op} {_text(b)}")
        operations: dict[str, Callable[[Any, Any], Any]] = {
            "||": lambda x, y: bool(x or y),
            "&&": lambda x, y: bool(x and y),
            "==": lambda x, y: x == y,
            "!=": lambda x, y: x != y,
            "<": lambda x, y: x < y,
            ">": lambda x, y: x > y,
            "<=": lambda x, y: x <= y,
            ">=": lambda x, y: x >= y,
            "+": lambda x, y: x + y,
            "-": lambda x, y: x - y,
            "*": lambda x, y: x * y,
            "/": lambda x, y: x / y,
            "%": lambda x, y: x % y,
        }
        return operations[op](a, b)

    return run


def _index(node: Node, key_node: Node, *, attribute: bool) -> Node:
    def run(scope: Scope) -> Any:
        value = node(scope)
        key = key_node(scope)
        if isinstance(value, Unknown) or isinstance(key, Unknown):
            suffix = f".{key}" if attribute else f"[{_text(key)}]"
            return Unknown(f"{_text(value)}{suffix}")
        if isinstance(value, Mapping):
            if key not in value:
                raise EvalError(f"no key {key!r} in {sorted(value)}")
            return value[key]
        if isinstance(value, list):
            return value[int(key)]
        raise EvalError(f"cannot index {value!r} with {key!r}")

    return run


def _splat(node: Node, rest: Node) -> Node:
    def run(scope: Scope) -> Any:
        value = node(scope)
        if isinstance(value, Unknown):
            return Unknown(f"{value.text}[*]")
        items = value if isinstance(value, list) else ([] if value is None else [value])
        return [rest({**scope, "__splat__": item}) for item in items]

    return run


class LazyMapping(Mapping[str, Any]):
    """`local.*`: each local is evaluated when first used (locals refer to each other)."""

    def __init__(self, raw: Mapping[str, Any], evaluate: Callable[[Any], Any]) -> None:
        self._raw = raw
        self._evaluate = evaluate
        self._done: dict[str, Any] = {}
        self._busy: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        if key not in self._done:
            if key not in self._raw:
                raise EvalError(f"local.{key} is not defined")
            if key in self._busy:
                raise EvalError(f"local.{key} refers to itself")
            self._busy.add(key)
            try:
                self._done[key] = self._evaluate(self._raw[key])
            finally:
                self._busy.discard(key)
        return self._done[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def _lookup(scope: Scope, name: str) -> Any:
    if name in scope:
        return scope[name]
    return Unknown(name)  # a resource type, data, path, module...: known after apply


# --- functions ------------------------------------------------------------------------------------------------


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for item in maps:
        if item is not None:
            merged.update(item)
    return merged


def _set(values: Any) -> list[Any]:
    return sorted(set(values), key=_text)


def _can(scope: Scope, node: Node) -> bool:
    try:
        return not isinstance(node(scope), Unknown)
    except (EvalError, ValueError, KeyError, TypeError, IndexError, re.error):
        return False


def _try(scope: Scope, *nodes: Node) -> Any:
    for node in nodes:
        try:
            return node(scope)
        except (EvalError, ValueError, KeyError, TypeError, IndexError, re.error):
            continue
    raise EvalError("no expression of try() succeeded")


def _regex(pattern: str, text: str) -> Any:
    match = re.search(pattern, text)
    if match is None:
        raise EvalError(f"{pattern!r} does not match {text!r}")
    if match.groupdict():
        return match.groupdict()
    return list(match.groups()) if match.groups() else match.group(0)


def _one(values: Any) -> Any:
    if len(values) > 1:
        raise EvalError("one() of more than one element")
    return values[0] if values else None


def _type_marker(*args: Any) -> Any:
    return {"__optional__": True, "default": args[1] if len(args) > 1 else None}


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "merge": _merge,
    "toset": _set,
    "tolist": list,
    "tomap": dict,
    "tostring": to_string,
    "tonumber": lambda v: float(v) if "." in str(v) else int(v),
    "join": lambda sep, items: sep.join(to_string(i) for i in items),
    "split": lambda sep, text: text.split(sep),
    "distinct": lambda items: list(dict.fromkeys(items)),
    "values": lambda m: [m[k] for k in sorted(m)],
    "keys": lambda m: sorted(m),
    "min": min,
    "max": max,
    "floor": math.floor,
    "length": len,
    "concat": lambda *lists: [x for lst in lists for x in lst],
    "flatten": lambda items: [x for item in items for x in (item if isinstance(item, list) else [item])],
    "startswith": lambda s, p: s.startswith(p),
    "endswith": lambda s, p: s.endswith(p),
    "trimprefix": lambda s, p: s[len(p) :] if s.startswith(p) else s,
    "trimsuffix": lambda s, p: s[: -len(p)] if p and s.endswith(p) else s,
    "trimspace": str.strip,
    "replace": lambda s, a, b: s.replace(a, b),
    "lower": str.lower,
    "upper": str.upper,
    "contains": lambda items, v: v in items,
    "lookup": lambda m, k, default=None: m.get(k, default),
    "one": _one,
    "alltrue": lambda items: all(items),
    "anytrue": lambda items: any(items),
    "coalesce": lambda *items: next(i for i in items if i not in (None, "")),
    "regex": _regex,
    "can": _can,
    "try": _try,
    "cidrhost": lambda prefix, n: prefix,  # only ever used inside can(): the shape is checked by the regex beside it
    "templatefile": lambda path, values: Unknown(f"templatefile({json.dumps(path)}, ...)"),
    "filemd5": lambda path: Unknown(f"filemd5({json.dumps(path)})"),
    # Type constraints, evaluated only to read optional() defaults.
    "object": lambda attributes: {"__object__": attributes},
    "optional": _type_marker,
    "list": lambda t: None,
    "map": lambda t: None,
    "set": lambda t: None,
}
_UNKNOWN_TOLERANT = {"templatefile", "filemd5"}  # they make an Unknown of anything


# --- evaluating parsed configurations -------------------------------------------------------------------------


def parse(text: str) -> Node:
    """The template text python-hcl2 produced for one value, as a function of the scope."""
    parser = _Parser(text)
    node = parser.template(None)
    return node


def evaluate(value: Any, scope: Scope) -> Any:
    """A value python-hcl2 produced (dicts, lists, strings holding expressions) with its expressions evaluated."""
    if isinstance(value, dict):
        return {k: evaluate(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if isinstance(value, str):
        if value.startswith(("<<-", "<<")) and "\n" in value:  # a heredoc string attribute
            return parse("${" + value + "}")(scope)
        return parse(value)(scope)
    return value


def evaluate_block(body: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """A block's body evaluated as Terraform expands it: `dynamic "x"` blocks become the `x` blocks their
    for_each generates (content evaluated with the iterator bound), nested blocks are expanded the same way."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "dynamic":
            for dynamic in value:
                for name, spec in dynamic.items():
                    iterator = str(spec.get("iterator", name)).removeprefix("${").removesuffix("}")
                    collection = evaluate(spec["for_each"], scope)
                    if isinstance(collection, Unknown):
                        out.setdefault(name, []).append(collection)
                        continue
                    pairs = collection.items() if isinstance(collection, Mapping) else enumerate(collection)
                    for item_key, item_value in pairs:
                        inner = {**scope, iterator: {"key": item_key, "value": item_value}}
                        for content in spec["content"]:
                            out.setdefault(name, []).append(evaluate_block(content, inner))
        elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            out.setdefault(key, []).extend(evaluate_block(item, scope) for item in value)
        else:
            out[key] = evaluate(value, scope)
    return out


def _type_defaults(type_text: str) -> dict[str, Any] | None:
    """optional() defaults of an object type constraint: {attribute: default}."""
    if not type_text.startswith("${object("):
        return None
    shape = parse(type_text)({"string": None, "number": None, "bool": None, "any": None})
    if not isinstance(shape, dict) or "__object__" not in shape:
        return None
    return {
        name: spec["default"]
        for name, spec in shape["__object__"].items()
        if isinstance(spec, dict) and spec.get("__optional__")
    }


@dataclass
class Module:
    """One Terraform module (a folder of .tf files as python-hcl2 parsed them), evaluated with `inputs`."""

    files: dict[str, Any]
    directory: Path
    inputs: dict[str, Any] = field(default_factory=dict)
    root: Path | None = None

    def blocks(self, kind: str) -> Iterator[Any]:
        for content in self.files.values():
            yield from content.get(kind, [])

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        return {name: body for block in self.blocks("variable") for name, body in block.items()}

    @property
    def raw_locals(self) -> dict[str, Any]:
        return {name: value for block in self.blocks("locals") for name, value in block.items()}

    def var_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, body in self.variables.items():
            if name in self.inputs:
                value = self.inputs[name]
            elif "default" in body:
                value = evaluate(body["default"], {})
            else:
                raise EvalError(f"variable {name} has no value and no default")
            defaults = _type_defaults(str(body.get("type", "")))
            if defaults is not None and isinstance(value, dict):
                value = {**defaults, **value}
            values[name] = value
        unknown = set(self.inputs) - set(values)
        if unknown:
            raise EvalError(f"inputs for undeclared variables: {sorted(unknown)}")
        return values

    def scope(self, **extra: Any) -> dict[str, Any]:
        """`var`, `local` and `path` as Terraform would see them (resources stay Unknown)."""
        scope: dict[str, Any] = {
            "var": self.var_values(),
            "path": {"module": str(self.directory), "root": str(self.root or self.directory), "cwd": "."},
        }
        scope["local"] = LazyMapping(self.raw_locals, lambda raw: evaluate(raw, scope))
        scope.update(extra)
        return scope

    def eval(self, value: Any, **extra: Any) -> Any:
        return evaluate(value, self.scope(**extra))

    def check_validations(self) -> list[str]:
        """Error messages of the variable validations that fail for the current inputs."""
        failures: list[str] = []
        scope = self.scope()
        for name, body in self.variables.items():
            for validation in body.get("validation", []):
                if evaluate(validation["condition"], scope) is not True:
                    failures.append(f"{name}: {validation.get('error_message')}")
        return failures
