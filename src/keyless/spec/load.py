"""Read a federation spec file into a :class:`FederationSpec`, or explain why not.

Every problem names the file, the line and the path inside the document
(``accounts[2].id``) and, where we can tell, the fix. YAML is composed
first so that each value's line is known when pydantic later rejects it.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from keyless.errors import SpecError, SpecProblem
from keyless.spec.model import FederationSpec
from keyless.spec.references import reference_problems

# Bounds on what a spec file may ask of the loader, far above any real federation
# (examples/acme.yaml is 3 KB, ~250 values, 8 levels deep): CI validates specs from
# pull requests, so a hostile file must fail fast, in bounded memory, with exit 2.
MAX_SPEC_BYTES = 2 * 1024 * 1024
MAX_NODES = 30_000  # values in the file, and after expanding aliases (acme.yaml: ~250)
MAX_DEPTH = 64  # nested mappings and sequences

# libyaml's parser when PyYAML has it: twenty times faster, so even a file at the
# limits is refused in well under a second. Same events, nodes and marks.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_CORE = "tag:yaml.org,2002:"
# The tags SafeLoader gives plain YAML; anything else was written into the file.
_TAGS = frozenset(
    _CORE + name for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)
_STR = _CORE + "str"
_KEY_TAGS = frozenset(_CORE + name for name in ("str", "int", "float", "bool", "null"))

Location = tuple[str | int, ...]

# Pydantic error kinds whose message reads better with the offending value.
_SHOW_INPUT = {
    "literal_error",
    "int_parsing",
    "int_type",
    "string_type",
    "bool_parsing",
    "list_type",
}


def format_path(path: Location) -> str:
    """``("accounts", 2, "id")`` -> ``accounts[2].id``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _Walk:
    """The budget of one document's walk: nodes visited (aliases expanded) and the
    collections on the current path (an alias back into one of them never ends)."""

    def __init__(self) -> None:
        self.nodes = 0
        self.open: set[int] = set()
        self.constructor = yaml.SafeLoader("")


def _lines(node: yaml.Node, path: Location, into: dict[Location, int], walk: _Walk) -> Any:
    """Build plain data from a composed YAML node, recording each path's line (1-based).

    PyYAML composes an alias as a second reference to the same node, so building the
    data expands it: nine levels of ten aliases is a 600-byte file and 10^9 values,
    and ``&a [*a]`` is a node that contains itself. The walk counts every value it
    builds and refuses past :data:`MAX_NODES`, refuses a cycle, and refuses tags a
    spec has no use for (``!!python/...``, ``!!binary``, ``!custom``, merge keys).
    """
    line = node.start_mark.line + 1
    walk.nodes += 1
    if walk.nodes > MAX_NODES:
        raise _Hostile(
            path,
            line,
            f"more than {MAX_NODES} values once aliases are expanded (an alias bomb?)",
            "write the values out, or use fewer aliases",
        )
    if node.tag not in _TAGS:
        raise _Hostile(
            path, line, f"unsupported YAML tag {node.tag!r}", "remove the tag; specs use plain YAML"
        )
    into[path] = line
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        if id(node) in walk.open:
            raise _Hostile(
                path, line, "an alias refers to a value that contains it", "remove the alias"
            )
        walk.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [
                    _lines(item, (*path, index), into, walk)
                    for index, item in enumerate(node.value)
                ]
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _KEY_TAGS:
                    raise _Hostile(
                        path,
                        key_line,
                        "a key must be a plain name (no lists, mappings, tags or `<<` merges)",
                        "write the key as text",
                    )
                key = _scalar(key_node, child_path=path, walk=walk)
                child = (*path, key)
                into[child] = key_line
                if key in result:
                    raise _DuplicateKey(child, key_line)
                result[key] = _lines(value_node, child, into, walk)
                # The key's line is what a person looks for; keep it over the value's.
                into[child] = key_line
            return result
        finally:
            walk.open.discard(id(node))
    return _scalar(node, child_path=path, walk=walk)


def _scalar(node: yaml.Node, *, child_path: Location, walk: _Walk) -> Any:
    if node.tag == _STR:
        return node.value  # most of a spec: no constructor needed
    # SafeLoader's constructor types scalars (ints, bools, nulls) as yaml.safe_load would.
    try:
        return walk.constructor.construct_object(node, deep=True)
    except (ValueError, OverflowError, yaml.constructor.ConstructorError) as exc:
        # A value that looks typed but is not: 2024-13-45 is read as a timestamp.
        raise _Hostile(
            child_path,
            node.start_mark.line + 1,
            f"cannot read {node.value!r}: {exc}",
            "quote it to make it text",
        ) from None


class _Hostile(Exception):
    """A document keyless refuses to build: too big once expanded, cyclic, deep, tagged."""

    def __init__(self, path: Location, line: int, message: str, fix: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        self.fix = fix


def _check_shape(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, and more than :data:`MAX_NODES`
    values, before composing: PyYAML's composer recurses once per level (a 100k-deep
    ``[[[...`` is a RecursionError) and keeps every node; its parser does neither, so
    this pass over the events is safe on any input."""
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=_Loader)):
        if count > MAX_NODES:
            mark = event.start_mark
            raise _Hostile(
                (),
                mark.line + 1 if mark is not None else 0,
                f"more than {MAX_NODES} values",
                "a federation spec is far smaller: check the file is the one you meant",
            )
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise _Hostile(
                    (),
                    mark.line + 1 if mark is not None else 0,
                    f"nesting depth over {MAX_DEPTH} levels",
                    "a federation spec is a few levels deep: check the brackets",
                )
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


class _DuplicateKey(Exception):
    def __init__(self, path: Location, line: int) -> None:
        self.path = path
        self.line = line


def _line_for(path: Location, lines: dict[Location, int]) -> int | None:
    """The line of ``path`` or of its nearest ancestor that exists in the file."""
    probe = path
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe[:-1]
    return lines.get(())


def _allowed_fields(loc: Location) -> list[str]:
    """The field names the model allows at ``loc`` (for 'did you mean')."""
    from pydantic import BaseModel

    model: Any = FederationSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        model = _inner_model(annotation)
        if model is None:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _problem_from_pydantic(error: Any, file: str, lines: dict[Location, int]) -> SpecProblem:
    loc: Location = tuple(
        part
        for part in error["loc"]
        if not (isinstance(part, str) and part.startswith("function-"))
    )
    # Drop union branch labels pydantic adds ("list[str]", "literal['all']").
    loc = tuple(
        p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("literal")))
    )
    kind = error["type"]
    message = str(error["msg"])
    fix: str | None = None
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _allowed_fields(loc)
        close = difflib.get_close_matches(name, allowed, n=1)
        message = f"unknown key {name!r}"
        fix = (
            f"did you mean {close[0]!r}?"
            if close
            else (f"allowed keys: {', '.join(allowed)}" if allowed else None)
        )
    elif kind == "missing":
        message = "required, but missing"
        fix = f"add `{loc[-1]}`"
    elif kind in _SHOW_INPUT:
        message = f"{message}, got {error.get('input')!r}"
    return SpecProblem(
        file=file, path=format_path(loc), line=_line_for(loc, lines), message=message, fix=fix
    )


# A value someone was meant to replace: the example's `0oaREPLACEWITHAPPID`, a
# CHANGEME/CHANGE_ME/TODO marker (upper case, as people write them: AWS action
# names such as ec2:ReplaceRoute are mixed case), or an angle-bracketed `<your org>`.
# Tight on purpose: an id like 123456789012 is a plausible real value and passes.
_PLACEHOLDER = re.compile(r"REPLACE|CHANGE_?ME|\bTODO\b|<[^<>\s][^<>]*>")


def placeholder_problems(
    data: object, source: str, lines: dict[Location, int], path: Location = ()
) -> list[SpecProblem]:
    """Every string value in ``data`` that is a placeholder left in (keys are not values)."""
    if isinstance(data, dict):
        return [
            problem
            for key, value in data.items()
            for problem in placeholder_problems(value, source, lines, (*path, key))
        ]
    if isinstance(data, list):
        return [
            problem
            for index, value in enumerate(data)
            for problem in placeholder_problems(value, source, lines, (*path, index))
        ]
    if not isinstance(data, str):
        return []
    found = _PLACEHOLDER.search(data)
    if found is None:
        return []
    return [
        SpecProblem(
            file=source,
            path=format_path(path),
            line=_line_for(path, lines),
            message=f"placeholder {found.group(0)!r} left in: {data!r}",
            fix="replace it with your organization's value (the example's comment says where "
            "to find it)",
        )
    ]


def load_spec_text(
    text: str, *, source: str = "<spec>", refuse_placeholders: bool = False
) -> FederationSpec:
    """Parse and validate spec text; ``source`` names it in errors.

    ``refuse_placeholders`` (``keyless spec validate``): a value still holding an
    example's placeholder (:func:`placeholder_problems`) is a problem too.
    """
    lines: dict[Location, int] = {}
    if len(text) > MAX_SPEC_BYTES:
        problem = SpecProblem(
            file=source,
            path="",
            message=f"{len(text)} characters is too large for a federation spec "
            f"(limit {MAX_SPEC_BYTES})",
        )
        raise SpecError(str(problem), problems=[problem])
    try:
        _check_shape(text)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = SpecProblem(
            file=source,
            path="",
            line=line,
            message=f"invalid YAML: {exc.problem or exc.context}",
            fix="check indentation and quoting around this line",
        )
        raise SpecError(f"{problem}", problems=[problem]) from exc
    except yaml.YAMLError as exc:
        problem = SpecProblem(file=source, path="", message=f"invalid YAML: {exc}")
        raise SpecError(str(problem), problems=[problem]) from exc
    except _Hostile as hostile:
        raise _hostile_error(source, hostile) from None
    if node is None:
        problem = SpecProblem(
            file=source, path="", line=1, message="the spec is empty", fix="see examples/acme.yaml"
        )
        raise SpecError(str(problem), problems=[problem])
    try:
        data = _lines(node, (), lines, _Walk())
    except _Hostile as hostile:
        raise _hostile_error(source, hostile) from None
    except yaml.MarkedYAMLError as exc:
        # A scalar SafeLoader cannot type (a malformed timestamp, say).
        mark = exc.problem_mark or exc.context_mark
        problem = SpecProblem(
            file=source,
            path="",
            line=mark.line + 1 if mark is not None else None,
            message=f"invalid YAML value: {exc.problem or exc.context}",
        )
        raise SpecError(str(problem), problems=[problem]) from exc
    except _DuplicateKey as dup:
        problem = SpecProblem(
            file=source,
            path=format_path(dup.path),
            line=dup.line,
            message="duplicate key",
            fix="keep one of the two",
        )
        raise SpecError(str(problem), problems=[problem]) from None
    if not isinstance(data, dict):
        problem = SpecProblem(
            file=source,
            path="",
            line=1,
            message=f"a spec is a YAML mapping, got {type(data).__name__}",
            fix="see examples/acme.yaml",
        )
        raise SpecError(str(problem), problems=[problem])
    placeholders = placeholder_problems(data, source, lines) if refuse_placeholders else []
    try:
        spec = FederationSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_problem_from_pydantic(e, source, lines) for e in exc.errors()]
        # Report dangling references too, from the raw data, so one run lists
        # every problem; a path a field check already explained is not repeated.
        reported = {problem.path for problem in problems}
        problems += [
            _reference_problem(found, source, lines)
            for found in reference_problems(data)
            if format_path(found[0]) not in reported
        ]
        reported = {problem.path for problem in problems}
        problems += [problem for problem in placeholders if problem.path not in reported]
        problems.sort(key=lambda problem: problem.line or 0)
        raise _spec_error(source, problems) from exc
    problems = [_reference_problem(found, source, lines) for found in spec.check_references()]
    problems += placeholders
    if problems:
        problems.sort(key=lambda problem: problem.line or 0)
        raise _spec_error(source, problems)
    return spec


def _hostile_error(source: str, hostile: _Hostile) -> SpecError:
    problem = SpecProblem(
        file=source,
        path=format_path(hostile.path),
        line=hostile.line,
        message=hostile.message,
        fix=hostile.fix,
    )
    return SpecError(str(problem), problems=[problem])


def _reference_problem(
    found: tuple[Location, str, str], source: str, lines: dict[Location, int]
) -> SpecProblem:
    path, message, fix = found
    return SpecProblem(
        file=source, path=format_path(path), line=_line_for(path, lines), message=message, fix=fix
    )


def _spec_error(source: str, problems: list[SpecProblem]) -> SpecError:
    count = len(problems)
    head = f"{source}: {count} problem{'s' if count != 1 else ''} in the federation spec"
    body = "\n".join(f"  {problem}" for problem in problems)
    return SpecError(f"{head}\n{body}", problems=problems)


def load_spec(path: str | Path, *, refuse_placeholders: bool = False) -> FederationSpec:
    """Read and validate the spec file at ``path`` (``refuse_placeholders``: see
    :func:`load_spec_text`)."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(
                f"{file}: {size} bytes is too large for a federation spec (limit {MAX_SPEC_BYTES})"
            )
        # Read at most one byte past the limit: stat() says 0 for a pipe or /dev/stdin.
        with file.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            raise SpecError(
                f"{file}: too large for a federation spec (limit {MAX_SPEC_BYTES} bytes)"
            )
        text = raw.decode("utf-8")
    except FileNotFoundError as exc:
        # Not "pass --spec": `spec validate FILE` and `lab up --spec FILE` both land here.
        raise SpecError(
            f"{file}: no such spec file",
            fix="check the path of your federation YAML (examples/acme.yaml is a complete one)",
        ) from exc
    except IsADirectoryError as exc:
        raise SpecError(
            f"{file}: is a directory, not a spec file",
            fix="pass the path of the federation YAML file itself",
        ) from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{file}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise SpecError(f"{file}: cannot read: {exc.strerror}") from exc
    return load_spec_text(text, source=str(file), refuse_placeholders=refuse_placeholders)
