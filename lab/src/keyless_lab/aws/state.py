"""Keeping the lab's AWS state across restarts, and the moto set-up the lab relies on.

moto keeps everything in Python objects and has no persistence of its own.
The lab snapshots the IAM, STS and Organizations backends of the ``aws``
partition into ``<state dir>/aws-state.json``:

- after mutating calls (at most once a second, from a background thread) and
  on a clean stop, so a crash loses at most the last second and a restart with
  the same state dir finds the same users, keys, providers and roles;
- the ~1,600 AWS managed policies moto loads in every account are *not*
  written: they are stored as references (one for the whole list of an
  account) and rebuilt from moto's data on load, which keeps a snapshot small
  and fast to write (1 MB and 0.35 s at 100 accounts, where writing each
  policy took 45 MB and 5.7 s under the state lock, holding up every write);
- the state lock is held while moto's objects are read, not while the file is
  written.

The snapshot is JSON, and reading it cannot run code (issue 21, item 7: a
planted ``aws-state.pickle`` ran its payload). It is a graph of moto's objects
(:class:`_Encoder`): lists, dicts, sets, datetimes, and instances written as
their class name and attributes. Reading builds an instance only of a class of
moto's (or the lab's :class:`~keyless_lab.aws.sts.SamlSession`) already
imported, with ``object.__new__`` and its attribute dict: no constructor, no
``__setstate__``/``__reduce__``, no import, nothing named by the file is called.
Why this and not the alternatives: replaying the calls the front authorized
would regenerate ids and access keys on every start (moto draws them at
random), and serializing each backend by hand would be thousands of lines that
drift from moto's models; the object graph keeps ids and keys and follows moto
wherever its classes go.

The state directory is checked before anything is read or written there
(:func:`check_state_dir`): a directory of the user's, that no other user may
write, as keyless checks its secrets directory. A snapshot another user could
have written is refused. An ``aws-state.pickle`` from an older lab is never
loaded (:func:`legacy_note`).
"""

from __future__ import annotations

import base64
import enum
import json
import os
import re
import stat
import sys
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from keyless.errors import LabError
from keyless.files import read_private, write_atomic

SNAPSHOT_NAME = "aws-state.json"
LEGACY_SNAPSHOT = "aws-state.pickle"
_FORMAT = 2
_PARTITION = "aws"

_policy_data: dict[str, Any] | None = None


def _aws_policy_data() -> dict[str, Any]:
    global _policy_data
    if _policy_data is None:
        from moto.iam.aws_managed_policies import aws_managed_policies_data

        _policy_data = json.loads(aws_managed_policies_data)
    return _policy_data


def configure_moto() -> None:
    """Set moto up for the lab; call once, before any backend exists, in the lab's process.

    - AWS managed policies (ReadOnlyAccess, PowerUserAccess, AdministratorAccess ...)
      exist, as they do in every real account;
    - they are built only for the ``aws`` partition, from data parsed once:
      moto otherwise parses 4 MB of JSON for each of six partitions of each
      account on the first request;
    - moto's own IAM enforcement stays off: the lab enforces in front of it.
    """
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto import settings
    from moto.iam import models as iam_models

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")

    def init_aws_policies(self: Any) -> list[Any]:
        if self.partition != _PARTITION:
            return []
        return [
            iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            for name, data in _aws_policy_data().items()
        ]

    # moto has no setting for this; the lab's process is the only user of its backends.
    iam_models.IAMBackend._init_aws_policies = init_aws_policies  # type: ignore[method-assign]


def _backend_dicts() -> dict[str, Any]:
    from moto.iam.models import iam_backends
    from moto.organizations.models import organizations_backends
    from moto.sts.models import sts_backends

    return {"iam": iam_backends, "sts": sts_backends, "organizations": organizations_backends}


# -- the state directory ---------------------------------------------------------------


def check_state_dir(path: Path) -> Path:
    """``path`` if it is a directory of this user's that no one else may write; else LabError.

    The lab keeps access-key secrets, TLS keys and the IdP's users there, and reads
    them back: in a directory someone else owns or may write, they could plant or
    swap any of it (issue 21, item 7). The rule is keyless's for its secrets
    (:func:`keyless.files.private_dir`): owned by you, not group- or world-writable.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return path
    fix = f"use a directory of your own (chmod go-w {path}), or another --lab-dir"
    if not stat.S_ISDIR(info.st_mode):
        raise LabError(f"the lab directory {path} is not a directory", fix=f"remove {path}")
    if info.st_uid != os.geteuid():
        raise LabError(
            f"the lab directory {path} is owned by uid {info.st_uid}, not by you; the lab "
            "keeps keys there and will not trust what another user can change",
            fix="use a directory of your own, e.g. `--lab-dir ~/.local/share/keyless/lab`",
        )
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise LabError(
            f"the lab directory {path} is writable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); the lab keeps keys there and will not "
            "trust what others can plant in it",
            fix=fix,
        )
    return path


def legacy_note(state_dir: Path) -> str | None:
    """A note for an ``aws-state.pickle`` in ``state_dir``: older labs wrote one; it is
    never loaded (unpickling runs code), so that state is not restored."""
    legacy = state_dir / LEGACY_SNAPSHOT
    if not legacy.exists():
        return None
    return (
        f"note: ignoring {legacy}: the lab no longer reads pickled state (it can run code); "
        f"the AWS state starts afresh in {state_dir / SNAPSHOT_NAME}. Remove {legacy} to "
        "silence this note."
    )


# -- the object graph as JSON --------------------------------------------------------------

# Classes a snapshot may name: moto's models and the lab's records of the sessions it issued.
_TRUSTED_MODULES = ("moto.",)
_TRUSTED_CLASSES = {"keyless_lab.aws.sts:SamlSession", "keyless_lab.aws.sts:RoleSession"}
_DICT_KINDS: dict[type, str] = {dict: "dict", OrderedDict: "ordered"}
_FACTORIES: dict[Any, str] = {list: "list", dict: "dict", set: "set", int: "int", str: "str"}


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _trusted(name: str) -> bool:
    return name in _TRUSTED_CLASSES or name.startswith(_TRUSTED_MODULES)


def _every_aws_policy(items: list[Any]) -> str | None:
    """The account whose AWS managed policies ``items`` are, all of them in the order moto
    makes them (``IAMBackend.aws_managed_policies``); None for anything else.

    They are most of an account's IAM state (~1,600 policies, ~450 KB of JSON each
    account, 45 MB and 5 s under the state lock at 100 accounts): written as one
    reference and rebuilt from moto's data on load, the snapshot stays small.
    """
    from moto.iam.models import AWSManagedPolicy

    names = list(_aws_policy_data())
    if not items or len(items) != len(names):
        return None
    account = getattr(items[0], "account_id", None)
    for item, name in zip(items, names, strict=True):
        if type(item) is not AWSManagedPolicy or item.name != name or item.account_id != account:
            return None
    return str(account)


class _Encoder:
    """moto's objects as JSON nodes; objects met twice are written once and referenced."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}
        self._keep: list[Any] = []  # holds encoded objects alive so ids stay unique

    def _mark(self, obj: Any) -> int | None:
        number = self._ids.get(id(obj))
        if number is not None:
            return number
        self._ids[id(obj)] = len(self._ids)
        self._keep.append(obj)
        return None

    def encode(self, obj: Any) -> Any:
        if obj is None or isinstance(obj, bool | int | str):
            return obj
        if isinstance(obj, float):
            return {"float": repr(obj)}
        if isinstance(obj, datetime):
            return {"datetime": obj.isoformat()}
        if isinstance(obj, date):
            return {"date": obj.isoformat()}
        if isinstance(obj, timedelta):
            return {"timedelta": obj.total_seconds()}
        if isinstance(obj, bytes):
            return {"bytes": base64.b64encode(obj).decode()}
        if isinstance(obj, re.Pattern):
            return {"regex": obj.pattern, "flags": obj.flags}
        if isinstance(obj, tuple) and type(obj) is tuple:
            return {"tuple": [self.encode(item) for item in obj]}
        if type(obj) in (set, frozenset):
            return {type(obj).__name__: [self.encode(item) for item in obj]}
        from moto.iam.models import AWSManagedPolicy

        if isinstance(obj, AWSManagedPolicy):
            return {"aws_managed_policy": [obj.account_id, obj.arn]}
        if isinstance(obj, enum.Enum):
            name = _class_name(type(obj))
            if not _trusted(name):
                raise TypeError(f"cannot keep {name} in a snapshot")
            return {"enum": name, "value": self.encode(obj.value)}
        seen = self._mark(obj)
        if seen is not None:
            return {"ref": seen}
        number = self._ids[id(obj)]
        if type(obj) is list:
            account = _every_aws_policy(obj)
            if account is not None:
                return {"aws_managed_policies": account, "id": number}
            return {"list": [self.encode(item) for item in obj], "id": number}
        if type(obj) in _DICT_KINDS or type(obj) is defaultdict:
            items = list(obj.items())
            node: dict[str, Any] = {"id": number, "kind": _DICT_KINDS.get(type(obj), "default")}
            head = items[: len(_aws_policy_data())]
            account = _every_aws_policy([value for _, value in head])
            if account is not None and all(key == value.arn for key, value in head):
                # IAMBackend.managed_policies: every AWS managed policy by ARN, then the
                # account's own; the first part is rebuilt on load like the list.
                node["aws_managed_policies"] = account
                items = items[len(_aws_policy_data()) :]
            node["dict"] = [[self.encode(k), self.encode(v)] for k, v in items]
            if type(obj) is defaultdict:
                factory = _FACTORIES.get(obj.default_factory)
                if factory is None and obj.default_factory is not None:
                    raise TypeError(f"cannot keep a defaultdict of {obj.default_factory!r}")
                node["factory"] = factory
            return node
        name = _class_name(type(obj))
        if not _trusted(name) or not hasattr(obj, "__dict__"):
            raise TypeError(f"cannot keep {name} in a snapshot")
        node = {"object": name, "id": number, "attrs": {}}
        if isinstance(obj, dict):
            node["items"] = [[self.encode(k), self.encode(v)] for k, v in obj.items()]
        node["attrs"] = {key: self.encode(value) for key, value in vars(obj).items()}
        return node


class _Decoder:
    """The inverse of :class:`_Encoder`, building only trusted classes, calling nothing."""

    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}
        self._policies: dict[str, dict[str, Any]] = {}

    def _register(self, node: dict[str, Any], obj: Any) -> Any:
        number = node.get("id")
        if not isinstance(number, int) or number in self._objects:
            raise ValueError("a snapshot node has a bad id")
        self._objects[number] = obj
        return obj

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | int | str):
            return node
        if not isinstance(node, dict):
            raise ValueError(f"unexpected {type(node).__name__} in a snapshot")
        if "ref" in node:
            return self._objects[int(node["ref"])]
        if "float" in node:
            return float(node["float"])
        if "datetime" in node:
            return datetime.fromisoformat(str(node["datetime"]))
        if "date" in node:
            return date.fromisoformat(str(node["date"]))
        if "timedelta" in node:
            return timedelta(seconds=float(node["timedelta"]))
        if "bytes" in node:
            return base64.b64decode(str(node["bytes"]))
        if "regex" in node:
            return re.compile(node["regex"], int(node["flags"]))
        if "tuple" in node:
            return tuple(self.decode(item) for item in node["tuple"])
        if "set" in node:
            return {self.decode(item) for item in node["set"]}
        if "frozenset" in node:
            return frozenset(self.decode(item) for item in node["frozenset"])
        if "aws_managed_policy" in node:
            account_id, arn = node["aws_managed_policy"]
            return self._managed_policy(str(account_id), str(arn))
        if "enum" in node:
            return self._class(str(node["enum"]))(self.decode(node["value"]))
        if "aws_managed_policies" in node and "dict" not in node:
            every: list[Any] = self._register(node, [])
            every.extend(self._aws_policies(str(node["aws_managed_policies"])).values())
            return every
        if "list" in node:
            items: list[Any] = self._register(node, [])
            items.extend(self.decode(item) for item in node["list"])
            return items
        if "dict" in node:
            return self._dict(node)
        if "object" in node:
            return self._object(node)
        raise ValueError(f"unknown node {sorted(node)} in a snapshot")

    def _dict(self, node: dict[str, Any]) -> Any:
        kind = node.get("kind")
        made: dict[Any, Any]
        if kind == "dict":
            made = {}
        elif kind == "ordered":
            made = OrderedDict()
        elif kind == "default":
            names = {v: k for k, v in _FACTORIES.items()}
            factory = node.get("factory")
            made = defaultdict(names[factory] if factory is not None else None)
        else:
            raise ValueError(f"unknown dict kind {kind!r} in a snapshot")
        self._register(node, made)
        if "aws_managed_policies" in node:
            made.update(self._aws_policies(str(node["aws_managed_policies"])))
        for key, value in node["dict"]:
            made[self.decode(key)] = self.decode(value)
        return made

    def _class(self, name: str) -> Any:
        if not _trusted(name):
            raise ValueError(f"a snapshot names {name}, which the lab never writes")
        module_name, _, qualname = name.partition(":")
        module = sys.modules.get(module_name)  # never imported on a snapshot's say-so
        found: Any = module
        for part in qualname.split("."):
            found = getattr(found, part, None)
        # The class itself must be defined where the name says: a moto module that merely
        # imported ``subprocess`` does not make ``subprocess.Popen`` one of moto's classes.
        if not isinstance(found, type) or _class_name(found) != name:
            raise ValueError(f"a snapshot names {name}, which is not a class the lab writes")
        return found

    def _object(self, node: dict[str, Any]) -> Any:
        cls = self._class(str(node["object"]))
        # object.__new__, not the class's: moto's BaseModel.__new__ only tracks instances.
        obj = dict.__new__(cls) if issubclass(cls, dict) else object.__new__(cls)
        self._register(node, obj)
        for key, value in node.get("items", []):
            dict.__setitem__(obj, self.decode(key), self.decode(value))
        attrs = node.get("attrs", {})
        if not isinstance(attrs, dict):
            raise ValueError("a snapshot object has no attributes")
        # The attribute dict itself, as pickle restores it: no __setattr__, no __setstate__.
        vars(obj).update({str(key): self.decode(value) for key, value in attrs.items()})
        return obj

    def _managed_policy(self, account_id: str, arn: str) -> Any:
        return self._aws_policies(account_id)[arn]

    def _aws_policies(self, account_id: str) -> dict[str, Any]:
        """The account's AWS managed policies by ARN, in moto's order, built once."""
        table = self._policies.get(account_id)
        if table is None:
            from moto.iam import models as iam_models

            table = {}
            for name, data in _aws_policy_data().items():
                policy = iam_models.AWSManagedPolicy.from_data(name, account_id, "us-east-1", data)
                table[policy.arn] = policy
            self._policies[account_id] = table
        return table


# -- saving and loading ------------------------------------------------------------------


def write_snapshot(path: Path, graph: dict[str, Any]) -> None:
    """Write a :func:`snapshot` to ``path`` (0600, atomically); no lock needed: the graph
    holds no object of moto's."""
    write_atomic(path, json.dumps(graph, separators=(",", ":")).encode())


def snapshot(*, accounts: Iterable[str], extra: dict[str, Any]) -> dict[str, Any]:
    """The state of the lab's ``accounts`` as plain JSON values; hold the state lock.

    Accounts moto creates on its own (its default 123456789012) are not the lab's
    and are left out.
    """
    wanted = set(accounts)
    from moto.organizations.models import organizations_backends

    backends: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[str, int]] = {}
    for service, backend_dict in _backend_dicts().items():
        for account_id, per_partition in list(backend_dict.items()):
            if account_id not in wanted:
                continue
            backend = dict.get(per_partition, _PARTITION)
            if backend is not None:
                backends.setdefault(service, {})[account_id] = backend
                if service == "iam":
                    counts[account_id] = {
                        p.arn: p.attachment_count
                        for p in backend.aws_managed_policies
                        if p.attachment_count
                    }
    document = {
        "backends": backends,
        "attachment_counts": counts,
        "master_accounts": dict(organizations_backends.master_accounts),
        "extra": extra,
    }
    return {"format": _FORMAT, "state": _Encoder().encode(document)}


def load_snapshot(path: Path) -> dict[str, Any] | None:
    """Install a snapshot's backends into moto; return its ``extra``, or None if there is none.

    Raises ``ValueError`` for a snapshot this version cannot read, or one that
    is not a regular file of the user's that only they may write.
    """
    data = read_private(path)
    if data is None:
        if path.exists() or path.is_symlink():
            raise ValueError(
                f"{path} is not a file of yours that only you can change; the lab does "
                "not load state another user could have written"
            )
        return None
    dicts = _backend_dicts()  # imports moto's models: the classes a snapshot may name
    try:
        graph = json.loads(data)
        if not isinstance(graph, dict) or graph.get("format") != _FORMAT:
            raise ValueError("it was written by another version of the lab")
        document = _Decoder().decode(graph["state"])
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from exc
    from moto.organizations.models import organizations_backends

    for service, accounts in document["backends"].items():
        for account_id, backend in accounts.items():
            dicts[service][account_id][_PARTITION] = backend
    for account_id, counts in document["attachment_counts"].items():
        iam = dicts["iam"][account_id][_PARTITION]
        for policy in iam.aws_managed_policies:
            policy.attachment_count = counts.get(policy.arn, policy.attachment_count)
    organizations_backends.master_accounts.update(document["master_accounts"])
    extra: dict[str, Any] = document["extra"]
    return extra
