"""Keeping the lab's AWS state across restarts, and the moto set-up the lab relies on.

moto keeps everything in Python objects and has no persistence of its own.
The lab snapshots the IAM, STS and Organizations backends of the ``aws``
partition with :mod:`pickle` into ``<state dir>/aws-state.pickle``:

- after mutating calls (at most once a second, from a background thread) and
  on a clean stop, so a crash loses at most the last second and a restart with
  the same state dir finds the same users, keys, providers and roles;
- the ~1,600 AWS managed policies moto loads in every account are *not*
  written: they are stored as references (``persistent_id``) and rebuilt from
  moto's data on load, which keeps a snapshot small (about 0.3 MB per account
  instead of 4 MB) and fast to write.

Replaying API calls instead would regenerate ids and access keys on every
start; pickling keeps them. The file is written 0600 in the user's own state
directory (it holds access-key secrets) and is only ever read from there, so
unpickling it trusts nothing another user could have written.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from keyless.files import write_atomic

SNAPSHOT_NAME = "aws-state.pickle"
_FORMAT = 1
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


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        from moto.iam.models import AWSManagedPolicy

        if isinstance(obj, AWSManagedPolicy):
            return ("aws-managed-policy", obj.account_id, obj.arn)
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self._tables: dict[str, dict[str, Any]] = {}

    def persistent_load(self, pid: Any) -> Any:
        kind, account_id, arn = pid
        if kind != "aws-managed-policy":
            raise pickle.UnpicklingError(f"unknown reference {kind!r}")
        table = self._tables.get(account_id)
        if table is None:
            from moto.iam import models as iam_models

            table = {}
            for name, data in _aws_policy_data().items():
                policy = iam_models.AWSManagedPolicy.from_data(name, account_id, "us-east-1", data)
                table[policy.arn] = policy
            self._tables[account_id] = table
        return table[arn]


def save_snapshot(path: Path, *, accounts: Iterable[str], extra: dict[str, Any]) -> None:
    """Write the state of the lab's ``accounts`` to ``path`` (0600, atomically).

    Hold the state lock. Accounts moto creates on its own (its default
    123456789012) are not the lab's and are left out.
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
        "format": _FORMAT,
        "backends": backends,
        "attachment_counts": counts,
        "master_accounts": dict(organizations_backends.master_accounts),
        "extra": extra,
    }
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(document)
    write_atomic(path, buffer.getvalue())


def load_snapshot(path: Path) -> dict[str, Any] | None:
    """Install a snapshot's backends into moto; return its ``extra``, or None if there is none.

    Raises ``ValueError`` for a snapshot this version cannot read.
    """
    if not path.exists():
        return None
    from moto.organizations.models import organizations_backends

    with path.open("rb") as handle:
        try:
            document = _Unpickler(handle).load()
        except Exception as exc:
            raise ValueError(f"{path} cannot be read: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise ValueError(f"{path} was written by another version of the lab")
    dicts = _backend_dicts()
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
