"""Read a federation spec file into a :class:`FederationSpec`, or explain why not.

Every problem names the file, the line and the path inside the document
(``accounts[2].id``) and, where we can tell, the fix. YAML is composed
first so that each value's line is known when pydantic later rejects it.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from keyless.errors import SpecError, SpecProblem
from keyless.spec.model import FederationSpec
from keyless.spec.references import reference_problems

MAX_SPEC_BYTES = 2 * 1024 * 1024

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


def _lines(node: yaml.Node, path: Location, into: dict[Location, int]) -> Any:
    """Build plain data from a composed YAML node, recording each path's line (1-based)."""
    into[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            child = (*path, key)
            into[child] = key_node.start_mark.line + 1
            if key in result:
                raise _DuplicateKey(child, key_node.start_mark.line + 1)
            result[key] = _lines(value_node, child, into)
            # The key's line is what a person looks for; keep it over the value's.
            into[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_lines(item, (*path, index), into) for index, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # SafeLoader's constructor types scalars (ints, bools, nulls) as yaml.safe_load would.
    return yaml.SafeLoader("").construct_object(node, deep=True)


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


def load_spec_text(text: str, *, source: str = "<spec>") -> FederationSpec:
    """Parse and validate spec text; ``source`` names it in errors."""
    lines: dict[Location, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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
    if node is None:
        problem = SpecProblem(
            file=source, path="", line=1, message="the spec is empty", fix="see examples/acme.yaml"
        )
        raise SpecError(str(problem), problems=[problem])
    try:
        data = _lines(node, (), lines)
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
        problems.sort(key=lambda problem: problem.line or 0)
        raise _spec_error(source, problems) from exc
    references = spec.check_references()
    if references:
        problems = [_reference_problem(found, source, lines) for found in references]
        raise _spec_error(source, problems)
    return spec


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


def load_spec(path: str | Path) -> FederationSpec:
    """Read and validate the spec file at ``path``."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(
                f"{file}: {size} bytes is too large for a federation spec (limit {MAX_SPEC_BYTES})"
            )
        text = file.read_text(encoding="utf-8")
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
    return load_spec_text(text, source=str(file))
