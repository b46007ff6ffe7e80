"""One reading of a request to the lab's AWS, shared by authorization and by moto.

The front authorizes an action and moto executes one; they must be the same.
moto reads a request in many ways (``moto/core/responses.py`` ``setup_class`` and
``moto/moto_server/werkzeug_app.py``, moto 5.2): the form body, url-encoded or
``multipart/form-data``, after gunzipping a ``Content-Encoding: gzip`` body; the
query string only when the form is empty; the raw body as a query string
whatever its media type; the *headers* as parameters when all of those are
empty; ``X-Amz-Target`` only when there is no ``Action``; and a JSON body that
happens to contain ``&Action=...`` inside a string. Rather than predict each of
those readings, the front reads the request once, strictly, and hands moto a
request it built itself from what it read (:func:`environ_for_moto`):

- query-protocol services (IAM, STS): ``POST /`` with a form-urlencoded body of
  exactly the authorized parameters, no query string, no encoding, no
  ``X-Amz-Target``;
- JSON-protocol services (Organizations, CloudTrail): ``POST /`` with
  ``X-Amz-Target`` naming exactly the authorized operation and the JSON body
  re-serialized so that no reading of it as a query string finds a parameter;
- REST services (S3) are read path-style from the method, path and subresource
  (:func:`keyless_lab.aws.derive.read_s3`), a request naming two subresources is
  refused, and moto gets the same method, path and query with a canonical Host
  (``localhost``), so neither a virtual-hosted bucket nor a region in the Host can
  route it elsewhere.

The endpoint a request names must agree with its signed credential scope
(:func:`check_endpoint`): AWS answers a request signed for us-east-1 but sent
to ``cloudtrail.ap-south-1.amazonaws.com`` with ``Credential should be scoped
to a valid region``; moto would have acted in ap-south-1.

What cannot be read one way is refused with the error AWS gives (the Query
API's common errors: ``InvalidAction``, ``MissingAction``,
``MalformedQueryString``, ``InvalidQueryParameter``; JSON services'
``UnknownOperationException`` and ``SerializationException``), never passed on.
Operation names come from botocore's service models, compared case-sensitively
as AWS does (``Could not find operation createUser for version 2010-05-08``).
"""

from __future__ import annotations

import functools
import io
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import botocore.session

from keyless_lab.aws.derive import S3Call, not_modelled, read_s3
from keyless_lab.aws.enforce import SignedRequest
from keyless_lab.aws.errors import AwsError, Protocol

MAX_BODY = 16 * 1024 * 1024
# A query string or form body names at most this many parameters (a ten-statement
# policy is one parameter): bounds the work a hostile request can ask for.
MAX_PARAMETERS = 1000

# The services the lab's endpoint serves, by SigV4 signing name (the credential
# scope's service), mapped to their botocore service name. A request scoped to any
# other service is refused: moto would route it to a backend the front does not
# authorize by action.
SERVED: Mapping[str, str] = {
    "iam": "iam",
    "sts": "sts",
    "organizations": "organizations",
    "cloudtrail": "cloudtrail",
    "s3": "s3",
}

# The headers moto is handed for a query or JSON call: who signed (moto picks the
# account from the access key) and when. Everything else is dropped, so no header
# can stand in for a parameter (moto reads headers as parameters when nothing else
# is there) or pick an account (``x-moto-account-id``).
_FORWARDED_HEADERS = ("HTTP_X_AMZ_DATE", "HTTP_X_AMZ_SECURITY_TOKEN")
# The Host moto sees: names no region (moto reads one from ``.<region>.amazonaws.com``
# in the URL) and no bucket (it reads virtual-hosted buckets from the Host), so the
# region is the one the front puts in the Authorization header: the signed scope's.
CANONICAL_HOST = "localhost"
# moto's own pattern for a region in a URL (moto/core/responses.py ``region_regex``).
_MOTO_REGION = re.compile(r"\.(?P<region>[^.]+)\.amazonaws\.com")
# An AWS endpoint host: <service>[.<region>].amazonaws.com[.cn] (AWS General Reference,
# "AWS service endpoints").
_AWS_HOST = re.compile(
    r"^(?P<service>[a-z0-9-]+)(?:\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+))?"
    r"\.amazonaws\.com(?:\.cn)?(?::\d+)?$"
)


@dataclass(frozen=True)
class RawRequest:
    """An HTTP request as it arrived: what SigV4 covers, nothing interpreted yet."""

    method: str
    path: str  # raw path, as sent
    query: str  # raw query string
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> RawRequest:
        """Read the request (its body at most :data:`MAX_BODY` bytes) from a WSGI environ."""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = str(environ["CONTENT_LENGTH"])
        if "transfer-encoding" in headers and "content-length" not in headers:
            # AWS answers a body of unstated length with 411 (S3's MissingContentLength);
            # reading it would also mean trusting the stream's end.
            raise AwsError(
                "MissingContentLength", "You must provide the Content-Length HTTP header.", 411
            )
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise AwsError(
                "InvalidQueryParameter", "The Content-Length header is not a number."
            ) from None
        if length < 0 or length > MAX_BODY:
            raise AwsError(
                "RequestEntityTooLarge", f"The request body is larger than {MAX_BODY} bytes.", 413
            )
        body = environ["wsgi.input"].read(length) if length else b""
        path = str(
            environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        )
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")),
            path=path.split("?", 1)[0],
            query=str(environ.get("QUERY_STRING", "")),
            headers=headers,
            body=body,
        )

    def signed(self) -> SignedRequest:
        """The parts SigV4 signs, for :meth:`keyless_lab.aws.enforce.Gate.authenticate`."""
        return SignedRequest(
            method=self.method,
            path=self.path,
            query=self.query,
            headers=self.headers,
            body=self.body,
        )

    @property
    def signing_service(self) -> str | None:
        """The service of the SigV4 credential scope, or None for an unsigned request.

        Read as moto reads it (the fourth field of ``Credential=``), so that the
        service moto routes to is the one the front authorizes; the Gate then
        checks the whole header strictly.
        """
        header = self.headers.get("authorization")
        if not header:
            return None
        credential = header.split(",", 1)[0].split()
        fields = credential[1].split("/") if len(credential) > 1 else []
        if len(fields) != 5:
            raise AwsError(
                "IncompleteSignature",
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                "parameters, signed with AWS4-HMAC-SHA256.",
            )
        return fields[3]


@dataclass(frozen=True)
class ApiCall:
    """What a request asks for, as both the front and moto read it."""

    service: str  # SigV4 signing name: iam, sts, organizations, cloudtrail, s3
    protocol: Protocol
    action: str | None  # the botocore operation name; for S3, the first IAM action's name
    params: Mapping[str, str] = field(default_factory=dict)  # query protocol parameters
    document: Mapping[str, Any] | None = None  # JSON protocol body
    s3: S3Call | None = None  # an S3 REST request, read path-style


@functools.lru_cache(maxsize=16)
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(SERVED[service])


def protocol_of(service: str) -> Protocol:
    """How ``service`` names its actions and answers errors (query, json, rest-xml)."""
    protocol = str(_model(service).protocol)
    if protocol in ("query", "ec2"):
        return "query"
    if protocol == "json":
        return "json"
    return "rest-xml"


def served(service: str) -> str:
    """``service`` if the endpoint serves it; else AWS's answer to a wrongly scoped key."""
    if service not in SERVED:
        raise AwsError(
            "SignatureDoesNotMatch",
            f"Credential should be scoped to correct service: the lab serves "
            f"{', '.join(sorted(SERVED))}, not '{service}'.",
        )
    return service


def read_call(raw: RawRequest, service: str) -> ApiCall:
    """The one reading of ``raw`` as a call to ``service``; :class:`AwsError` when ambiguous."""
    protocol = protocol_of(service)
    if protocol == "rest-xml":
        # moto routes REST calls by method and path alone (it ignores Action and
        # X-Amz-Target there); the front reads them the same way.
        query = parse_qsl(raw.query, keep_blank_values=True, max_num_fields=MAX_PARAMETERS)
        s3 = read_s3(raw.method, raw.path, query, raw.headers, raw.body)
        return ApiCall(
            service=service, protocol=protocol, action=s3.actions[0][0].split(":", 1)[1], s3=s3
        )
    body = _decoded_body(raw, protocol)
    if protocol == "json":
        return _read_json(raw, service, body)
    return _read_query(raw, service, body)


def _malformed(protocol: Protocol, message: str) -> AwsError:
    if protocol == "json":
        return AwsError("SerializationException", message)
    return AwsError("InvalidQueryParameter", message)


def _decoded_body(raw: RawRequest, protocol: Protocol) -> bytes:
    """The body without its Content-Encoding: gzip is decoded (moto gunzips it), bounded
    in size; any other encoding is refused rather than passed to a reader that might
    decode it differently."""
    encodings = [
        token.strip().lower()
        for token in raw.headers.get("content-encoding", "").split(",")
        if token.strip() and token.strip().lower() != "identity"
    ]
    if not encodings:
        return raw.body
    if encodings != ["gzip"]:
        raise _malformed(
            protocol,
            f"Content-Encoding {raw.headers['content-encoding']!r} is not supported: "
            "send the body as is, or gzip once.",
        )
    decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = decoder.decompress(raw.body, MAX_BODY + 1)
    except zlib.error:
        raise _malformed(protocol, "The gzip-encoded body cannot be decoded.") from None
    if len(body) > MAX_BODY or decoder.unconsumed_tail:
        raise AwsError(
            "RequestEntityTooLarge",
            f"The decoded request body is larger than {MAX_BODY} bytes.",
            413,
        )
    if not decoder.eof or decoder.unused_data:
        # A truncated stream, or a second gzip member moto's GzipFile would read too.
        raise _malformed(protocol, "The gzip-encoded body is not exactly one complete gzip stream.")
    return body


def _mimetype(raw: RawRequest) -> tuple[str, dict[str, str]]:
    media, *options = raw.headers.get("content-type", "").split(";")
    parameters: dict[str, str] = {}
    for option in options:
        name, _, value = option.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), parameters


def _pairs(text: bytes | str, where: str) -> list[tuple[str, str]]:
    """``name=value`` pairs, strictly: UTF-8 only, every field with an ``=``."""
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        return parse_qsl(
            decoded,
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=MAX_PARAMETERS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        # MalformedQueryString is the Query API's answer to a syntax error, with 404.
        raise AwsError(
            "MalformedQueryString", f"The {where} cannot be read as parameters: {exc}", 404
        ) from None


def _operation(service: str, name: str, protocol: Protocol) -> str:
    model = _model(service)
    if name in model.operation_names:
        return name
    if protocol == "json":
        raise AwsError("UnknownOperationException", f"{name!r} is not an operation of {service}.")
    version = model.metadata.get("apiVersion", "")
    raise AwsError("InvalidAction", f"Could not find operation {name} for version {version}")


def _read_query(raw: RawRequest, service: str, body: bytes) -> ApiCall:
    if raw.headers.get("x-amz-target"):
        raise AwsError(
            "InvalidParameterCombination",
            f"{service} names its action in the Action parameter; the request also sends "
            "X-Amz-Target.",
        )
    pairs: list[tuple[str, str]] = []
    if body:
        media, options = _mimetype(raw)
        if (
            media != "application/x-www-form-urlencoded"
            or options.get("charset", "utf-8") != "utf-8"
        ):
            raise AwsError(
                "InvalidQueryParameter",
                f"The body must be application/x-www-form-urlencoded (UTF-8), not "
                f"{raw.headers.get('content-type', 'unspecified')!r}.",
            )
        if raw.query:
            raise AwsError(
                "InvalidQueryParameter",
                "The request has parameters in both its URL and its body; send them in one.",
            )
        pairs = _pairs(body, "body")
    elif raw.query:
        pairs = _pairs(raw.query, "query string")
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise AwsError(
                "InvalidQueryParameter", f"The request names the parameter {name} more than once."
            )
        params[name] = value
    action = params.get("Action")
    if not action:
        raise AwsError("MissingAction", "The request must contain the parameter Action.")
    version = params.get("Version")
    if version is not None and version != _model(service).metadata.get("apiVersion"):
        raise AwsError("InvalidAction", f"Could not find operation {action} for version {version}")
    operation = _operation(service, action, "query")
    _validate(service, operation, params)
    return ApiCall(service=service, protocol="query", action=operation, params=params)


def _validate(service: str, operation: str, params: Mapping[str, str]) -> None:
    """The top-level constraints of the operation's input shape, checked as AWS does
    before any work (moto would create a user named ``None`` for a CreateUser with
    no UserName, and answer 500 to ``MaxItems=abc``). AWS's message:
    ``1 validation error detected: Value null at 'userName' failed to satisfy
    constraint: Member must not be null``."""
    shape = _model(service).operation_model(operation).input_shape
    if shape is None:
        return
    problems: list[str] = []
    for name, member in shape.members.items():
        field = name[:1].lower() + name[1:]
        present = name in params or any(key.startswith(f"{name}.") for key in params)
        if not present:
            if name in shape.required_members:
                problems.append(
                    f"Value null at '{field}' failed to satisfy constraint: Member must not be null"
                )
            continue
        if name not in params:
            continue  # a list, map or structure: its members are not checked here
        problem = _scalar_problem(member, params[name])
        if problem:
            shown = params[name] if len(params[name]) <= 64 else params[name][:64] + "..."
            problems.append(f"Value '{shown}' at '{field}' failed to satisfy constraint: {problem}")
    if problems:
        count = len(problems)
        raise AwsError(
            "ValidationError",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )


def _scalar_problem(member: Any, value: str) -> str | None:
    kind = member.type_name
    meta = member.metadata
    if kind in ("integer", "long"):
        if not re.fullmatch(r"-?[0-9]+", value):
            return "Member must be a number"
        number = int(value)
        if "min" in meta and number < meta["min"]:
            return f"Member must have value greater than or equal to {meta['min']}"
        if "max" in meta and number > meta["max"]:
            return f"Member must have value less than or equal to {meta['max']}"
    elif kind == "boolean":
        if value not in ("true", "false"):
            return "Member must be true or false"
    elif kind == "string":
        if "min" in meta and len(value) < meta["min"]:
            return f"Member must have length greater than or equal to {meta['min']}"
        if "max" in meta and len(value) > meta["max"]:
            return f"Member must have length less than or equal to {meta['max']}"
        if member.enum and value not in member.enum:
            return f"Member must satisfy enum value set: [{', '.join(member.enum)}]"
        pattern = meta.get("pattern")
        if pattern and not _matches(pattern, value):
            return f"Member must satisfy regular expression pattern: {pattern}"
    return None


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a construct Python's re lacks: leave it to the service
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.search(value) is not None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _read_json(raw: RawRequest, service: str, body: bytes) -> ApiCall:
    if raw.query:
        raise AwsError(
            "SerializationException",
            f"{service} reads its parameters from the JSON body only; the URL has a query string.",
        )
    media, _ = _mimetype(raw)
    if media not in (
        "application/x-amz-json-1.0",
        "application/x-amz-json-1.1",
        "application/json",
    ):
        raise AwsError(
            "SerializationException",
            f"The body must be application/x-amz-json-1.1, not {media or 'unspecified'!r}.",
        )
    target = raw.headers.get("x-amz-target", "")
    prefix, _, name = target.rpartition(".")
    if not target or prefix != _model(service).metadata.get("targetPrefix"):
        raise AwsError(
            "UnknownOperationException", f"X-Amz-Target {target!r} names no operation of {service}."
        )
    operation = _operation(service, name, "json")
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant) if body else {}
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise AwsError(
            "SerializationException", "The request body is not a JSON document."
        ) from None
    if not isinstance(document, dict):
        raise AwsError("SerializationException", "The request body is not a JSON object.")
    return ApiCall(service=service, protocol="json", action=operation, document=document)


def _json_body(document: Mapping[str, Any]) -> bytes:
    """``document`` as JSON that no query-string reading can find a parameter in.

    moto parses any body as a query string when the form and the URL are empty, so
    ``{"Name": "&Action=CreateAccount&"}`` would name an Action there. ``&`` and
    ``=`` can only occur inside JSON strings, where ``\\u0026`` and ``\\u003d`` mean
    the same characters to every JSON reader.
    """
    text = json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("=", "\\u003d").encode("ascii")


def moto_authorization(*, access_key_id: str, date: str, region: str, service: str) -> str:
    """An Authorization header naming only the authenticated key and its scope.

    moto takes the account from the *last* 20-character key id followed by ``/`` or
    ``:`` anywhere in the header, and the region from its third ``/`` field: a
    header whose SignedHeaders list carried another account's key id would run the
    call in that account. moto checks no signature, so none is forwarded.
    """
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key_id}/{date}/{region}/{service}/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
    )


def environ_for_moto(
    environ: dict[str, Any], call: ApiCall, *, body: bytes, authorization: str
) -> dict[str, Any]:
    """The WSGI environ moto is handed for ``call``: built from the call, not the request.

    Query and JSON calls get a body the front wrote (see the module docstring).
    REST calls keep the request's method, path, query and headers (their action is
    the path), with the body the front read. Either way the Authorization header is
    ``authorization`` and no header can pick an account or a region
    (``x-moto-account-id``; moto reads a region from the User-Agent).
    """
    dropped = ("HTTP_X_MOTO_ACCOUNT_ID", "HTTP_USER_AGENT", "HTTP_AUTHORIZATION", "HTTP_HOST")
    if call.protocol == "rest-xml":
        rest = {key: value for key, value in environ.items() if key not in dropped}
        rest.update(
            {
                "HTTP_AUTHORIZATION": authorization,
                "HTTP_HOST": CANONICAL_HOST,
                "wsgi.input": io.BytesIO(body),
            }
        )
        rest["CONTENT_LENGTH"] = str(len(body))
        return rest
    kept = {
        key: value
        for key, value in environ.items()
        if not key.startswith(("HTTP_", "moto."))
        and key not in ("CONTENT_TYPE", "CONTENT_LENGTH", "QUERY_STRING", "RAW_URI", "REQUEST_URI")
    }
    kept.update({key: environ[key] for key in _FORWARDED_HEADERS if key in environ})
    if call.protocol == "json":
        assert call.document is not None
        payload = _json_body(call.document)
        kept["CONTENT_TYPE"] = "application/x-amz-json-1.1"
        kept["HTTP_X_AMZ_TARGET"] = f"{_model(call.service).metadata['targetPrefix']}.{call.action}"
    else:
        # Action first, as every SDK sends it; then the parameters exactly as authorized.
        payload = urlencode({"Action": call.action, **call.params}).encode("ascii")
        kept["CONTENT_TYPE"] = "application/x-www-form-urlencoded; charset=utf-8"
    kept.update(
        {
            "HTTP_AUTHORIZATION": authorization,
            "HTTP_HOST": CANONICAL_HOST,
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "RAW_URI": "/",
            "REQUEST_URI": "/",
            "QUERY_STRING": "",
            "CONTENT_LENGTH": str(len(payload)),
            "wsgi.input": io.BytesIO(payload),
            "wsgi.input_terminated": False,
        }
    )
    return kept


def check_endpoint(raw: RawRequest, *, service: str, region: str) -> None:
    """Refuse a request whose endpoint names another region or service than its scope.

    The lab's own address (an IP, ``localhost``, any name outside AWS's domains)
    names none and serves every region. An AWS endpoint host must name the scope's
    service and region, as AWS requires: ``SignatureDoesNotMatch: Credential should
    be scoped to a valid region, not 'us-east-1'.`` (query and JSON services; STS
    API Reference, "Common Errors"; SigV4 "Elements of an AWS API request
    signature": "the Region ... must match the endpoint"), and S3's
    ``AuthorizationHeaderMalformed: ... the region 'us-east-1' is wrong; expecting
    'ap-south-1'`` (Amazon S3 API Reference, "Error responses").
    """
    host = raw.headers.get("host", "").lower()
    if host.endswith((".amazonaws.com", ".amazonaws.com.cn")) or ".amazonaws.com:" in host:
        match = _AWS_HOST.match(host)
        if match is None:
            # A virtual-hosted bucket or a dual-stack/FIPS endpoint: the lab reads path-style only.
            raise not_modelled(f"The endpoint {host!r}")
        named_region = match["region"] or "us-east-1"
        if named_region != region:
            if service == "s3":
                raise AwsError(
                    "AuthorizationHeaderMalformed",
                    f"The authorization header is malformed; the region '{region}' is wrong; "
                    f"expecting '{named_region}'",
                    400,
                )
            raise AwsError(
                "SignatureDoesNotMatch",
                f"Credential should be scoped to a valid region, not '{region}'. ",
            )
        if match["service"] != service:
            raise AwsError(
                "SignatureDoesNotMatch",
                f"Credential should be scoped to correct service: '{match['service']}'. ",
            )
    if service == "s3":
        # moto would take a region from ".<region>.amazonaws.com" anywhere in the URL.
        found = _MOTO_REGION.search(unquote(raw.path) + "?" + unquote(raw.query))
        if found is not None and found["region"] != region:
            raise not_modelled("An S3 path naming an AWS regional endpoint")
