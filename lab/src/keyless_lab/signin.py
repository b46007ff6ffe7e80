"""The lab's AWS sign-in page: what ``https://signin.aws.amazon.com/saml`` does, offline.

A browser that signs on from the lab IdP's dashboard posts the SAML Response
here. Like AWS's page it shows "Select a role:" with the roles grouped by
account (``Account: <alias> (<id>)``, the same structure as AWS's page, so
tools that read that page work against this one), and after a choice calls
the lab STS (``AssumeRoleWithSAML``, which checks the assertion as AWS does)
and lands on a page naming the assumed role, the account and the expiry.
With a single role it goes straight to the landing page, as AWS does.

The page reads the roles from the response only to draw the picker; what is
granted is decided by the STS, which verifies the signature.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from keyless.errors import SamlInputError
from keyless.spec.model import FederationSpec
from keyless_lab.idp.body import read_form
from keyless_lab.idp.html import PAGE_HEADERS, render_text
from keyless_lab.saml.attributes import ATTR_ROLE, ATTR_SESSION_DURATION, assumable_pair
from keyless_lab.saml.xml import SAML, UnsafeXml, parse_posted, text_of

SIGNIN_PATH = "/aws/saml"


def masked_key(access_key_id: str) -> str:
    """An access key id as the landing page shows it: its first and last four characters."""
    return f"{access_key_id[:4]}****{access_key_id[-4:]}" if len(access_key_id) > 8 else "****"


@dataclass(frozen=True)
class RoleChoice:
    """One role of the picker: the role, the provider to name, and its account."""

    role_arn: str
    provider_arn: str
    account_id: str
    role_name: str


def read_roles(saml_response_b64: str) -> tuple[list[RoleChoice], int | None]:
    """The Role values (either order) and SessionDuration of a base64 SAML Response.

    Raises :class:`SamlInputError` when it is not a SAML Response at all.
    """
    try:
        xml = base64.b64decode("".join(saml_response_b64.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SamlInputError("the SAMLResponse is not base64") from exc
    try:
        root = parse_posted(xml)
    except UnsafeXml as exc:
        raise SamlInputError(f"the SAML response is refused: {exc}") from exc
    choices: list[RoleChoice] = []
    duration: int | None = None
    for attribute in root.iter(SAML + "Attribute"):
        name = attribute.get("Name")
        values = [text_of(v) for v in attribute.iter(SAML + "AttributeValue")]
        if name == ATTR_ROLE:
            # AWS's page lists only the pairs it could assume; a malformed one is left out.
            for pair in filter(None, map(assumable_pair, values)):
                choice = RoleChoice(
                    role_arn=pair.role_arn,
                    provider_arn=pair.principal_arn,
                    account_id=pair.account_id,
                    role_name=pair.role_name,
                )
                if choice not in choices:
                    choices.append(choice)
        elif name == ATTR_SESSION_DURATION and values and values[0].isdigit():
            duration = int(values[0])
    return choices, duration


class AwsSigninPage:
    """The lab's ``/aws/saml`` page, talking to the lab STS at ``aws_endpoint_url``."""

    def __init__(
        self,
        *,
        spec: FederationSpec,
        aws_endpoint_url: str | None,
        ca_bundle: str | None = None,
    ) -> None:
        self.spec = spec
        self.aws_endpoint_url = aws_endpoint_url
        self.ca_bundle = ca_bundle

    def alias(self, account_id: str) -> str:
        account = self.spec.account(account_id)
        return account.alias if account else account_id

    def _page(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(
            render_text(template, **context), status_code=status_code, headers=PAGE_HEADERS
        )

    def _error(self, message: str, detail: str = "", status_code: int = 400) -> HTMLResponse:
        return self._page("aws_error.html", status_code, message=message, detail=detail)

    def _assume(self, choice: RoleChoice, saml_b64: str, duration: int) -> dict[str, Any]:
        if self.aws_endpoint_url is None:
            raise RuntimeError("no lab AWS endpoint is configured")
        client = boto3.client(
            "sts",
            endpoint_url=self.aws_endpoint_url,
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
            verify=self.ca_bundle if self.ca_bundle else True,
        )
        response = client.assume_role_with_saml(
            RoleArn=choice.role_arn,
            PrincipalArn=choice.provider_arn,
            SAMLAssertion=saml_b64,
            DurationSeconds=duration,
        )
        return dict(response)

    async def get(self, request: Request) -> Response:
        return self._error(
            "Sign in through your identity provider.",
            "This page receives the SAML response your identity provider posts.",
            status_code=405,
        )

    async def post(self, request: Request) -> Response:
        form = await read_form(request)
        saml_b64 = form.get("SAMLResponse")
        if not isinstance(saml_b64, str) or not saml_b64.strip():
            return self._error("Your request did not include a SAML response.")
        try:
            choices, duration = read_roles(saml_b64)
        except SamlInputError as exc:
            return self._error("Your request included an invalid SAML response.", exc.message)
        if not choices:
            return self._error(
                "Your request included an invalid SAML response.",
                "The response names no role you may take.",
            )
        picked = form.get("roleIndex")
        if picked is None and len(choices) == 1:
            picked = choices[0].role_arn
        if picked is None:
            return self._picker(saml_b64, choices)
        choice = next((c for c in choices if c.role_arn == picked), None)
        if choice is None:
            return self._error("The role you selected is not in the SAML response.")
        try:
            result = await anyio.to_thread.run_sync(
                self._assume, choice, saml_b64, duration or 3600
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return self._error(
                "Your request included an invalid SAML response. To logout, click here.",
                f"{error.get('Code', 'Error')}: {error.get('Message', '')}",
                status_code=403,
            )
        except (BotoCoreError, RuntimeError) as exc:
            return self._error("The lab AWS cannot be reached.", str(exc), status_code=502)
        credentials = result["Credentials"]
        expiration = credentials["Expiration"]
        if isinstance(expiration, datetime):
            expiration = expiration.astimezone(UTC)
        return self._page(
            "aws_landing.html",
            role_name=choice.role_name,
            role_arn=choice.role_arn,
            account_id=choice.account_id,
            alias=self.alias(choice.account_id),
            assumed_arn=result.get("AssumedRoleUser", {}).get("Arn", ""),
            expiration=expiration.strftime("%Y-%m-%d %H:%M:%S UTC")
            if isinstance(expiration, datetime)
            else str(expiration),
            access_key=masked_key(credentials.get("AccessKeyId", "")),
        )

    def _picker(self, saml_b64: str, choices: list[RoleChoice]) -> HTMLResponse:
        accounts: dict[str, list[RoleChoice]] = {}
        for choice in choices:
            accounts.setdefault(choice.account_id, []).append(choice)
        return self._page(
            "aws_roles.html",
            saml_response=saml_b64,
            accounts=[
                {"id": account_id, "alias": self.alias(account_id), "roles": roles}
                for account_id, roles in accounts.items()
            ],
        )

    def routes(self) -> list[Route]:
        return [
            Route(SIGNIN_PATH, self.get, methods=["GET"]),
            Route(SIGNIN_PATH, self.post, methods=["POST"]),
        ]
