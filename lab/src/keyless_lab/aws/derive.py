"""What a request asks IAM for, derived as AWS derives it: actions, resources, owners.

One read request (:class:`keyless_lab.aws.request.ApiCall`) becomes one or more
:class:`Check` — an action, the ARN of the resource it acts on, the account that
owns that resource, the resource-based policy that applies, and the condition
keys the action adds — which :func:`keyless_lab.aws.permissions.evaluate` decides.
The region is never read here: it is the signed credential scope's
(:class:`keyless_lab.aws.enforce.Caller`), and the front refuses a request whose
endpoint names another.

Sources, cited beside the rules:

- [SAR] Service Authorization Reference, one page per service: actions, the
  resource types each acts on, condition keys
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_identityandaccessmanagementiam.html,
  ``list_awssecuritytokenservice.html``, ``list_amazons3.html``,
  ``list_awscloudtrail.html``, ``list_awsorganizations.html``);
- [S3OPS] Amazon S3 API Reference, the operations' request syntax (method, path,
  subresource), as botocore's ``s3`` model lists them; [S3PERM] Amazon S3 User
  Guide, "Required permissions for Amazon S3 API operations"
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html);
- [GLOBAL] IAM User Guide, "AWS global condition context keys"
  (``aws:ResourceAccount``).

An action the model cannot describe is refused (``NotImplemented``), never
authorized for the whole service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from keyless_lab.aws.errors import AwsError
from keyless_lab.aws.permissions import ResourcePolicy, parse_document
from keyless_lab.aws.sts import member_list

if TYPE_CHECKING:
    from keyless_lab.aws.enforce import Caller
    from keyless_lab.aws.request import ApiCall


@dataclass(frozen=True)
class Check:
    """One action on one resource that IAM must allow for the request to run."""

    action: str
    resource: str
    resource_account: str
    resource_policy: ResourcePolicy | None = None
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)


def not_modelled(what: str) -> AwsError:
    """The lab cannot say which permissions ``what`` needs: it does not run it."""
    return AwsError(
        "NotImplemented",
        f"{what} is not modelled by the lab's authorization; it is refused, not authorized "
        "for the whole service.",
        501,
    )


def checks_for(call: ApiCall, caller: Caller, *, partition: str = "aws") -> list[Check]:
    """The checks ``call`` needs, in the order they are evaluated; [] when none [SAR]."""
    if call.service == "iam":
        return [_iam(call, caller, partition)]
    if call.service == "sts":
        return _sts(call, caller, partition)
    if call.service == "s3":
        return _s3(call, caller, partition)
    if call.service == "cloudtrail":
        return [_cloudtrail(call, caller, partition)]
    if call.service == "organizations":
        # [SAR] list_awsorganizations: many actions act on account/ou/policy ARNs that
        # embed the organization's id; the lab authorizes them on "*" (a named gap).
        return [Check(f"organizations:{call.action}", "*", caller.account_id)]
    raise not_modelled(f"{call.service}:{call.action}")


# -- IAM ----------------------------------------------------------------------------------

# Operations naming two entities, and the one [SAR] lists as the resource.
_IAM_RESOURCE_PARAMETER = {
    "AddUserToGroup": "GroupName",
    "RemoveUserFromGroup": "GroupName",
    "AddRoleToInstanceProfile": "InstanceProfileName",
    "RemoveRoleFromInstanceProfile": "InstanceProfileName",
    "ListGroupsForUser": "UserName",
}
# Otherwise the first of these the call carries names the resource. Role, user and
# group come before PolicyArn: AttachRolePolicy acts on the role (its resource type
# is ``role*``; the policy is the iam:PolicyARN condition key) [SAR].
_IAM_PARAMETERS = (
    "RoleName",
    "UserName",
    "GroupName",
    "InstanceProfileName",
    "PolicyArn",
    "SAMLProviderArn",
    "OpenIDConnectProviderArn",
    "ServerCertificateName",
    "VirtualMFADeviceName",
    "SerialNumber",
    "PolicySourceArn",
)
# Operations whose UserName defaults to the caller's own user ("If you do not specify a
# user name, IAM determines the user name implicitly based on the AWS access key ID").
_IAM_SELF = frozenset(
    {
        "CreateAccessKey",
        "DeleteAccessKey",
        "ListAccessKeys",
        "UpdateAccessKey",
        "GetUser",
        "ListMFADevices",
        "ListSigningCertificates",
        "ListSSHPublicKeys",
        "ListServiceSpecificCredentials",
        "GetAccessKeyLastUsed",
        "ChangePassword",
    }
)
_IAM_POLICY_ARN_KEY = frozenset(
    {
        "AttachRolePolicy",
        "DetachRolePolicy",
        "AttachUserPolicy",
        "DetachUserPolicy",
        "AttachGroupPolicy",
        "DetachGroupPolicy",
    }
)


def _iam(call: ApiCall, caller: Caller, partition: str) -> Check:
    action = f"iam:{call.action}"
    params = call.params
    account = caller.account_id
    parameter = _IAM_RESOURCE_PARAMETER.get(str(call.action))
    if parameter is None or parameter not in params:
        parameter = next((name for name in _IAM_PARAMETERS if params.get(name)), None)
    context: dict[str, list[str]] = {"aws:ResourceAccount": [account]}
    if call.action in _IAM_POLICY_ARN_KEY and params.get("PolicyArn"):
        context["iam:PolicyARN"] = [params["PolicyArn"]]
    if parameter is None:
        if call.action in _IAM_SELF and caller.kind == "user":
            return Check(action, caller.arn, account, context=context)
        if call.action == "CreatePolicy" and params.get("PolicyName"):
            path = params.get("Path", "/")
            arn = f"arn:{partition}:iam::{account}:policy{path}{params['PolicyName']}"
            return Check(action, arn, account, context=context)
        return Check(action, "*", account, context=context)
    value = params[parameter]
    if parameter.endswith("Arn") or (parameter == "SerialNumber" and value.startswith("arn:")):
        return Check(action, value, account, context=context)
    return Check(
        action,
        _iam_entity_arn(account, parameter, value, params, partition),
        account,
        context=context,
    )


def _iam_entity_arn(
    account: str, parameter: str, name: str, params: Mapping[str, str], partition: str
) -> str:
    from moto.iam.models import iam_backends

    prefix = f"arn:{partition}:iam::{account}"
    iam = dict.get(iam_backends.get(account, {}), partition)
    path = params.get("Path", "/")
    if parameter == "RoleName":
        role = next((r for r in iam.roles.values() if r.name == name), None) if iam else None
        return role.arn if role else f"{prefix}:role{path}{name}"
    if parameter == "UserName":
        user = iam.users.get(name) if iam else None
        return user.arn if user else f"{prefix}:user{path}{name}"
    if parameter == "GroupName":
        group = iam.groups.get(name) if iam else None
        return str(group.arn) if group else f"{prefix}:group{path}{name}"
    if parameter == "InstanceProfileName":
        return f"{prefix}:instance-profile{path}{name}"
    if parameter == "ServerCertificateName":
        return f"{prefix}:server-certificate{path}{name}"
    return f"{prefix}:mfa{path}{name}"  # VirtualMFADeviceName, SerialNumber by name


# -- STS ----------------------------------------------------------------------------------

# [SAR] list_awssecuritytokenservice; GetCallerIdentity: "No permissions are required
# to perform this operation"; GetSessionToken likewise (STS API Reference).
_STS_UNCHECKED = frozenset({"GetCallerIdentity", "GetSessionToken"})
_STS_ON_ANY = frozenset({"GetAccessKeyInfo", "DecodeAuthorizationMessage"})


def _sts(call: ApiCall, caller: Caller, partition: str) -> list[Check]:
    if call.action in _STS_UNCHECKED:
        return []
    if call.action in _STS_ON_ANY:
        return [Check(f"sts:{call.action}", "*", caller.account_id)]
    if call.action == "AssumeRole":
        return assume_role_checks(call.params, caller, partition)
    raise not_modelled(f"sts:{call.action}")


def assume_role_checks(params: Mapping[str, str], caller: Caller, partition: str) -> list[Check]:
    """sts:AssumeRole on the role, and sts:TagSession / sts:SetSourceIdentity when the call
    passes tags or a source identity (IAM User Guide, id_session-tags.html, "Permissions
    required to add session tags"; id_credentials_temp_control-access_monitor.html,
    "Permissions required to use source identity": a source identity already set on the
    calling session is passed too, so chaining needs sts:SetSourceIdentity as well)."""
    role_arn = params.get("RoleArn", "")
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[4].isdigit() or not parts[5].startswith("role/"):
        raise AwsError("ValidationError", f"{role_arn} is invalid")
    account = parts[4]
    trust = _trust_policy(account, role_arn, partition)
    context: dict[str, list[str]] = {"aws:ResourceAccount": [account]}
    if params.get("ExternalId"):
        context["sts:ExternalId"] = [params["ExternalId"]]
    if params.get("RoleSessionName"):
        context["sts:RoleSessionName"] = [params["RoleSessionName"]]
    tags = list(
        zip(
            member_list(params, "Tags", ".Key"), member_list(params, "Tags", ".Value"), strict=False
        )
    )
    inherited = dict(caller.transitive_tags)
    if tags or inherited:
        all_tags = {**inherited, **dict(tags)}
        for key, value in all_tags.items():
            context[f"aws:RequestTag/{key}"] = [value]
        context["aws:TagKeys"] = list(all_tags)
    transitive = member_list(params, "TransitiveTagKeys")
    if transitive:
        context["sts:TransitiveTagKeys"] = transitive
    source_identity = params.get("SourceIdentity") or caller.source_identity
    if source_identity:
        context["sts:SourceIdentity"] = [source_identity]
    checks = [Check("sts:AssumeRole", role_arn, account, trust, context)]
    if tags or transitive or inherited:
        checks.append(Check("sts:TagSession", role_arn, account, trust, context))
    if source_identity:
        checks.append(Check("sts:SetSourceIdentity", role_arn, account, trust, context))
    return checks


def _trust_policy(account: str, role_arn: str, partition: str) -> ResourcePolicy:
    from moto.iam.models import iam_backends

    iam = dict.get(iam_backends.get(account, {}), partition)
    role = next((r for r in iam.roles.values() if r.arn == role_arn), None) if iam else None
    # A role that does not exist trusts no one; AWS says AccessDenied, not NoSuchEntity.
    document = role.assume_role_policy_document if role is not None else "{}"
    # Trust policies have no Resource element: the role is the resource.
    statements = tuple(
        {k: v for k, v in s.items() if k not in ("Resource", "NotResource")}
        for s in parse_document(document)
    )
    return ResourcePolicy(statements, account, required=True)


# -- S3 -----------------------------------------------------------------------------------

# (method, level, subresource) -> IAM action(s) [S3OPS, S3PERM, SAR list_amazons3].
# level: "service" (GET /), "bucket" (/bucket), "object" (/bucket/key).
_S3_BUCKET: Mapping[tuple[str, str | None], tuple[str, ...]] = {
    ("GET", None): ("s3:ListBucket",),  # ListObjects, ListObjectsV2
    ("HEAD", None): ("s3:ListBucket",),  # HeadBucket
    ("PUT", None): ("s3:CreateBucket",),
    ("DELETE", None): ("s3:DeleteBucket",),
    ("GET", "acl"): ("s3:GetBucketAcl",),
    ("PUT", "acl"): ("s3:PutBucketAcl",),
    ("GET", "policy"): ("s3:GetBucketPolicy",),
    ("PUT", "policy"): ("s3:PutBucketPolicy",),
    ("DELETE", "policy"): ("s3:DeleteBucketPolicy",),
    ("GET", "policyStatus"): ("s3:GetBucketPolicyStatus",),
    ("GET", "tagging"): ("s3:GetBucketTagging",),
    ("PUT", "tagging"): ("s3:PutBucketTagging",),
    ("DELETE", "tagging"): ("s3:PutBucketTagging",),
    ("GET", "versioning"): ("s3:GetBucketVersioning",),
    ("PUT", "versioning"): ("s3:PutBucketVersioning",),
    ("GET", "location"): ("s3:GetBucketLocation",),
    ("GET", "lifecycle"): ("s3:GetLifecycleConfiguration",),
    ("PUT", "lifecycle"): ("s3:PutLifecycleConfiguration",),
    ("DELETE", "lifecycle"): ("s3:PutLifecycleConfiguration",),
    ("GET", "cors"): ("s3:GetBucketCORS",),
    ("PUT", "cors"): ("s3:PutBucketCORS",),
    ("DELETE", "cors"): ("s3:PutBucketCORS",),
    ("GET", "encryption"): ("s3:GetEncryptionConfiguration",),
    ("PUT", "encryption"): ("s3:PutEncryptionConfiguration",),
    ("DELETE", "encryption"): ("s3:PutEncryptionConfiguration",),
    ("GET", "website"): ("s3:GetBucketWebsite",),
    ("PUT", "website"): ("s3:PutBucketWebsite",),
    ("DELETE", "website"): ("s3:DeleteBucketWebsite",),
    ("GET", "logging"): ("s3:GetBucketLogging",),
    ("PUT", "logging"): ("s3:PutBucketLogging",),
    ("GET", "notification"): ("s3:GetBucketNotification",),
    ("PUT", "notification"): ("s3:PutBucketNotification",),
    ("GET", "replication"): ("s3:GetReplicationConfiguration",),
    ("PUT", "replication"): ("s3:PutReplicationConfiguration",),
    ("DELETE", "replication"): ("s3:PutReplicationConfiguration",),
    ("GET", "requestPayment"): ("s3:GetBucketRequestPayment",),
    ("PUT", "requestPayment"): ("s3:PutBucketRequestPayment",),
    ("GET", "ownershipControls"): ("s3:GetBucketOwnershipControls",),
    ("PUT", "ownershipControls"): ("s3:PutBucketOwnershipControls",),
    ("DELETE", "ownershipControls"): ("s3:PutBucketOwnershipControls",),
    ("GET", "publicAccessBlock"): ("s3:GetBucketPublicAccessBlock",),
    ("PUT", "publicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("DELETE", "publicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("GET", "object-lock"): ("s3:GetBucketObjectLockConfiguration",),
    ("PUT", "object-lock"): ("s3:PutBucketObjectLockConfiguration",),
    ("GET", "accelerate"): ("s3:GetAccelerateConfiguration",),
    ("PUT", "accelerate"): ("s3:PutAccelerateConfiguration",),
    ("GET", "versions"): ("s3:ListBucketVersions",),
    ("GET", "uploads"): ("s3:ListBucketMultipartUploads",),
}
_S3_OBJECT: Mapping[tuple[str, str | None], tuple[str, ...]] = {
    ("GET", None): ("s3:GetObject",),
    ("HEAD", None): ("s3:GetObject",),
    ("PUT", None): ("s3:PutObject",),  # PutObject, UploadPart; a copy adds s3:GetObject
    ("DELETE", None): ("s3:DeleteObject",),
    ("GET", "acl"): ("s3:GetObjectAcl",),
    ("PUT", "acl"): ("s3:PutObjectAcl",),
    ("GET", "tagging"): ("s3:GetObjectTagging",),
    ("PUT", "tagging"): ("s3:PutObjectTagging",),
    ("DELETE", "tagging"): ("s3:DeleteObjectTagging",),
    ("POST", "uploads"): ("s3:PutObject",),  # CreateMultipartUpload
    ("POST", "uploadId"): ("s3:PutObject",),  # CompleteMultipartUpload
    ("PUT", "uploadId"): ("s3:PutObject",),  # UploadPart, UploadPartCopy
    ("GET", "uploadId"): ("s3:ListMultipartUploadParts",),  # ListParts
    ("DELETE", "uploadId"): ("s3:AbortMultipartUpload",),
    ("GET", "legal-hold"): ("s3:GetObjectLegalHold",),
    ("PUT", "legal-hold"): ("s3:PutObjectLegalHold",),
    ("GET", "retention"): ("s3:GetObjectRetention",),
    ("PUT", "retention"): ("s3:PutObjectRetention",),
    ("GET", "attributes"): ("s3:GetObject", "s3:GetObjectAttributes"),
    ("GET", "torrent"): ("s3:GetObjectTorrent",),
    ("POST", "restore"): ("s3:RestoreObject",),
}
# Every subresource any S3 operation names in its path ([S3OPS]: the ``?name`` of each
# requestUri in botocore's model), and uploadId. A request naming more than one could be
# read as two operations; one naming one the table lacks is an operation not modelled.
S3_SUBRESOURCES = frozenset(
    {
        "abac", "accelerate", "acl", "analytics", "annotation", "attributes", "cors",
        "default-storage-class", "delete", "encryption", "intelligent-tiering", "inventory",
        "legal-hold", "lifecycle", "location", "logging", "metadataAnnotationTable",
        "metadataConfiguration", "metadataInventoryTable", "metadataJournalTable",
        "metadataTable", "metrics", "notification", "object-lock", "ownershipControls",
        "part", "policy", "policyStatus", "publicAccessBlock", "renameObject", "replication",
        "requestPayment", "restore", "retention", "select", "session", "tagging", "torrent",
        "uploadId", "uploads", "versioning", "versions", "website",
    }
)  # fmt: skip


@dataclass(frozen=True)
class S3Call:
    """An S3 REST request read path-style, and the IAM actions it needs [S3PERM].

    ``actions`` pairs each action with what it acts on: ``service`` (``*``),
    ``bucket``, ``object``, ``objects`` (each key of a DeleteObjects body) or
    ``source`` (the object a copy reads).
    """

    bucket: str | None
    key: str | None
    subresource: str | None
    actions: tuple[tuple[str, str], ...]
    delete_keys: tuple[str, ...] = ()
    copy_source: str | None = None


_VERSIONED = frozenset(
    {
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:GetObjectAcl",
        "s3:PutObjectAcl",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:DeleteObjectTagging",
    }
)


def read_s3(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> S3Call:
    """Bucket, key, subresource and IAM actions of a path-style S3 request.

    A request naming two subresources could be read as two operations, and one the
    tables lack is an operation the lab does not model: both are refused.
    """
    names = {name for name, _ in query}
    marked = sorted(names & S3_SUBRESOURCES)
    if len(marked) > 1:
        raise not_modelled(f"An S3 request naming subresources {', '.join(marked)} at once")
    subresource = marked[0] if marked else None
    raw_bucket, _, raw_key = path.lstrip("/").partition("/")
    bucket, key = unquote(raw_bucket) or None, unquote(raw_key) or None
    if bucket is None:
        if method == "GET" and subresource is None:
            return S3Call(None, None, None, (("s3:ListAllMyBuckets", "service"),))
        raise not_modelled(f"S3 {method} /")
    if key is None and method == "POST" and subresource == "delete":
        # DeleteObjects: s3:DeleteObject on every key the body names [S3PERM].
        return S3Call(
            bucket,
            None,
            subresource,
            (("s3:DeleteObject", "objects"),),
            delete_keys=_delete_keys(body),
        )
    table, level = (_S3_BUCKET, "bucket") if key is None else (_S3_OBJECT, "object")
    actions = table.get((method, subresource))
    if actions is None:
        where = f"?{subresource}" if subresource else ""
        raise not_modelled(f"S3 {method} on a {level}{where}")
    versioned = "versionId" in names
    found = [
        # [SAR]: the *Version actions act on one version of an object.
        (
            action.replace("Object", "ObjectVersion", 1)
            if versioned and action in _VERSIONED
            else action,
            level,
        )
        for action in actions
    ]
    copy_source = headers.get("x-amz-copy-source") if level == "object" else None
    if method == "PUT" and copy_source:
        found.append(("s3:GetObject", "source"))  # CopyObject, UploadPartCopy
    return S3Call(bucket, key, subresource, tuple(found), copy_source=copy_source)


def _delete_keys(body: bytes) -> tuple[str, ...]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        raise AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our "
            "published schema",
        ) from None
    keys = tuple(
        element.text or ""
        for element in root.iter()
        if isinstance(element.tag, str) and etree.QName(element).localname == "Key"
    )
    if not keys:
        raise AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not "
            "validate against our published schema",
        )
    return keys


def _s3(call: ApiCall, caller: Caller, partition: str) -> list[Check]:
    s3 = call.s3
    assert s3 is not None
    checks = []
    for action, level in s3.actions:
        if level == "service":
            checks.append(Check(action, "*", caller.account_id))
        elif level == "source":
            source = unquote((s3.copy_source or "").split("?", 1)[0]).lstrip("/")
            bucket, _, key = source.partition("/")
            if not bucket or not key:
                raise AwsError(
                    "InvalidArgument",
                    "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                )
            checks.append(_s3_check(action, bucket, key, caller, partition))
        elif level == "objects":
            assert s3.bucket is not None
            checks += [_s3_check(action, s3.bucket, k, caller, partition) for k in s3.delete_keys]
        else:
            assert s3.bucket is not None
            object_key = s3.key if level == "object" else None
            checks.append(_s3_check(action, s3.bucket, object_key, caller, partition))
    return checks


def bucket_owner(bucket: str, partition: str = "aws") -> tuple[str | None, Any]:
    """The account that owns ``bucket`` and the bucket (moto finds buckets globally)."""
    from moto.s3.models import s3_backends

    found = s3_backends.bucket_accounts.get(bucket)
    if found is None:
        return None, None
    _, account = found
    backend = dict.get(s3_backends.get(account, {}), partition)
    return account, backend.buckets.get(bucket) if backend is not None else None


def _s3_check(action: str, bucket: str, key: str | None, caller: Caller, partition: str) -> Check:
    owner, found = bucket_owner(bucket, partition)
    # A bucket that does not exist yet (CreateBucket), or a missing one, is the caller's
    # to ask about: S3 answers NoSuchBucket only to those allowed to ask.
    account = owner or caller.account_id
    arn = f"arn:{partition}:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    policy: ResourcePolicy | None = None
    if found is not None and found.policy:
        policy = ResourcePolicy(tuple(parse_document(found.policy.decode("utf-8"))), account)
    return Check(action, arn, account, policy, {"aws:ResourceAccount": [account]})


# -- CloudTrail ---------------------------------------------------------------------------


def _cloudtrail(call: ApiCall, caller: Caller, partition: str) -> Check:
    action = f"cloudtrail:{call.action}"
    document = call.document or {}
    name = document.get("Name") or document.get("TrailName")
    if isinstance(name, str) and name:
        # [SAR] list_awscloudtrail: trail actions act on a trail ARN,
        # arn:...:cloudtrail:<region>:<account>:trail/<name>.
        arn = (
            name
            if name.startswith("arn:")
            else (f"arn:{partition}:cloudtrail:{caller.region}:{caller.account_id}:trail/{name}")
        )
        return Check(action, arn, caller.account_id)
    return Check(action, "*", caller.account_id)
