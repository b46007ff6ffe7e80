"""``AssumeRoleWithSAML`` over plain HTTPS: the one STS call a sign-in makes.

The call is unsigned — AWS documents that it "does not require the use of any
AWS security credentials"; the SAML assertion is the proof — so it needs no
SDK: a form POST in STS's query protocol (``Action=AssumeRoleWithSAML``,
``Version=2011-06-15``) and an XML answer, read with keyless's safe XML parser
(:func:`keyless.saml.xmlsafe.parse_untrusted`: no DTDs, no entities). Leaving
boto3 out of the sign-in path saves about a third of a second per login.

Shapes, from the STS API reference (AssumeRoleWithSAML) and botocore's query
protocol: success is ``AssumeRoleWithSAMLResponse/AssumeRoleWithSAMLResult/
Credentials/{AccessKeyId,SecretAccessKey,SessionToken,Expiration}``; an error
is ``ErrorResponse/Error/{Type,Code,Message}`` with a 4xx/5xx status. Endpoints
are regional (``https://sts.REGION.amazonaws.com``, ``.amazonaws.com.cn`` in
China), as botocore uses them by default.
"""

from __future__ import annotations

from typing import Any

from keyless.adapters.http import httpx, make_client, unreachable
from keyless.core.aws import ca_bundle_for
from keyless.core.credentials import AwsCredentials, parse_expiration
from keyless.core.ports import StsApi, StsError
from keyless.errors import RemoteError
from keyless.saml.xmlsafe import parse_untrusted

API_VERSION = "2011-06-15"
_FORM = "application/x-www-form-urlencoded; charset=utf-8"


def default_endpoint(region: str) -> str:
    """AWS's regional STS endpoint for ``region``."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


class UnsignedSts:
    """AssumeRoleWithSAML against one endpoint, over an httpx client passed in."""

    def __init__(
        self, endpoint_url: str, *, http: httpx.Client, unreachable_fix: str | None = None
    ) -> None:
        self.endpoint_url = endpoint_url
        self._http = http
        self.unreachable_fix = unreachable_fix

    def assume_role_with_saml(
        self, *, role_arn: str, principal_arn: str, saml_assertion: str, duration_seconds: int
    ) -> AwsCredentials:
        """Credentials for ``role_arn``; :class:`StsError` when AWS refuses."""
        form = {
            "Action": "AssumeRoleWithSAML",
            "Version": API_VERSION,
            "RoleArn": role_arn,
            "PrincipalArn": principal_arn,
            "SAMLAssertion": saml_assertion,
            "DurationSeconds": str(duration_seconds),
        }
        response = self._post(form)
        root = _parse(response, self.endpoint_url)
        if response.status_code != 200:
            code = _text(root, "Error/Code") or f"HTTP{response.status_code}"
            raise StsError(code, _text(root, "Error/Message"))
        found = root.find("{*}AssumeRoleWithSAMLResult/{*}Credentials")
        if found is None:
            raise RemoteError(
                f"AWS STS at {self.endpoint_url} answered without credentials",
                fix="check the AWS endpoint URL (`keyless configure --aws-endpoint-url`)",
            )
        try:
            expiration = parse_expiration(_text(found, "Expiration"))
        except ValueError as exc:
            raise RemoteError(
                f"AWS STS at {self.endpoint_url} sent an unreadable expiry", fix="retry"
            ) from exc
        # AssumeRoleWithSAML's SourceIdentity: "The value in the SourceIdentity attribute
        # in the SAML assertion" (STS API reference); absent when the IdP sent none.
        source_identity = _text(root, "AssumeRoleWithSAMLResult/SourceIdentity") or None
        return AwsCredentials(
            access_key_id=_text(found, "AccessKeyId"),
            secret_access_key=_text(found, "SecretAccessKey"),
            session_token=_text(found, "SessionToken"),
            expiration=expiration,
            source_identity=source_identity,
        )

    def _post(self, form: dict[str, str]) -> httpx.Response:
        headers = {"Content-Type": _FORM, "Accept": "text/xml"}
        # Retried only when the request never left (connection refused or
        # timed out while connecting): an STS that refuses replayed assertions
        # (the lab's does) must not see one twice.
        service = f"AWS STS at {self.endpoint_url}"
        fix = (
            self.unreachable_fix
            or "check your network; for the lab check that `keyless lab up` is running"
        )
        for attempt in (1, 2):
            try:
                return self._http.post(self.endpoint_url, data=form, headers=headers)
            except httpx.ConnectError as exc:
                if attempt == 2:
                    raise unreachable(service, exc, fix=fix) from exc
            except httpx.TransportError as exc:
                raise unreachable(service, exc, fix=fix) from exc
            except httpx.HTTPError as exc:
                raise RemoteError(f"talking to {service} failed: {exc}", fix=fix) from exc
        raise AssertionError("unreachable")


def _parse(response: httpx.Response, endpoint: str) -> Any:
    try:
        return parse_untrusted(response.content, what="answer from AWS STS")
    except Exception as exc:  # not XML, or hostile XML: either way unusable
        raise RemoteError(
            f"AWS STS at {endpoint} answered HTTP {response.status_code} with no readable XML",
            fix="check the AWS endpoint URL (`keyless configure --aws-endpoint-url`)",
        ) from exc


def _text(element: Any, path: str) -> str:
    found = element.find("/".join(f"{{*}}{step}" for step in path.split("/")))
    return "" if found is None or found.text is None else str(found.text).strip()


class StsClients:
    """Builds :class:`UnsignedSts` for (region, endpoint); owns and closes their HTTP clients.

    ``ca_bundle`` is trusted only for an HTTPS endpoint that is configured
    (:func:`keyless.core.aws.ca_bundle_for`); AWS's own endpoints are checked
    against the system's CAs.
    """

    def __init__(self, ca_bundle: str | None = None, *, unreachable_fix: str | None = None) -> None:
        self.ca_bundle = ca_bundle
        self.unreachable_fix = unreachable_fix
        self._clients: dict[str | None, httpx.Client] = {}

    def __call__(self, region: str, endpoint_url: str | None) -> StsApi:
        """A client for ``endpoint_url`` (or AWS's endpoint in ``region``)."""
        trust = ca_bundle_for(endpoint_url, self.ca_bundle)
        if trust not in self._clients:
            self._clients[trust] = make_client(ca_bundle=trust)
        return UnsignedSts(
            endpoint_url or default_endpoint(region),
            http=self._clients[trust],
            unreachable_fix=self.unreachable_fix,
        )

    def close(self) -> None:
        """Close every HTTP client made."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
