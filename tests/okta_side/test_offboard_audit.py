"""`offboard_okta_user` and `audit_okta` (the services `keyless offboard|audit` call) against
the lab's management API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyless.adapters.okta import OktaClient
from keyless.adapters.okta_admin import ApiToken, OktaAdminClient, OktaApiError, make_admin_http
from keyless.services.okta.people import audit_okta, offboard_okta_user
from keyless.spec import load_spec
from lab_fixtures import fresh_totp
from okta_support import OktaLab

BOB = "bob@acme.example"


@pytest.fixture
def client(configured: OktaLab) -> Iterator[OktaAdminClient]:
    http = make_admin_http(ca_bundle=configured.info.ca_bundle)
    try:
        yield OktaAdminClient(
            configured.info.idp_url, ApiToken(configured.info.okta_api_token), http=http
        )
    finally:
        http.close()


def _sign_in(okta_lab: OktaLab, login: str) -> str:
    """Sign ``login`` in through the Classic authn API (password, TOTP); the session id."""
    user = okta_lab.user(login)
    http = make_admin_http(ca_bundle=okta_lab.info.ca_bundle)
    try:
        okta = OktaClient(okta_lab.info.idp_url, http=http)
        state = okta.authn(login, str(user["password"]))
        factor = next(f for f in state.factors if f.kind == "totp")
        assert state.state_token is not None
        done = okta.verify(factor, state.state_token, fresh_totp(str(user["totp_secret"])))
        assert done.session_token is not None
        return okta.create_session(done.session_token).id
    finally:
        http.close()


def _sessions_of(okta_lab: OktaLab, login: str) -> int:
    idp = okta_lab.lab.idp.idp
    user = idp.directory.get_user(login)
    assert user is not None
    return sum(1 for s in idp._sessions.values() if s.user_id == user.id)


def test_offboard_suspends_and_ends_every_session(
    configured: OktaLab, client: OktaAdminClient
) -> None:
    session_id = _sign_in(configured, BOB)
    assert configured.lab.idp.idp.session(session_id) is not None
    result = offboard_okta_user(client, BOB, suspend=True)
    assert (result.status_before, result.status_after) == ("ACTIVE", "SUSPENDED")
    assert result.sessions_cleared
    assert result.started_at <= result.finished_at
    assert "developers" in result.groups
    assert _sessions_of(configured, BOB) == 0
    assert configured.lab.idp.idp.session(session_id) is None
    # A suspended user cannot sign in; unsuspending gives the account back.
    with make_admin_http(ca_bundle=configured.info.ca_bundle) as http:
        refused = http.post(
            f"{configured.info.idp_url}/api/v1/authn",
            json={"username": BOB, "password": configured.user(BOB)["password"]},
        )
    assert refused.status_code == 401
    client.unsuspend_user(result.user_id)
    assert client.get_user(BOB)["status"] == "ACTIVE"
    with pytest.raises(OktaApiError) as active:
        client.activate_user(result.user_id)
    assert active.value.code == "E0000016"


def test_audit_finds_people_without_mfa_and_deactivated_members(
    configured: OktaLab, client: OktaAdminClient
) -> None:
    directory = configured.lab.idp.idp.directory
    directory.add_user("nomfa@acme.example", groups=["aws-admins"])
    directory.add_user("leaver@acme.example", groups=["auditors"])
    directory.enroll("leaver@acme.example", "totp")
    gone = offboard_okta_user(client, "leaver@acme.example", suspend=False)
    assert gone.status_after == "DEPROVISIONED"

    findings = audit_okta(client, load_spec(configured.spec_path))
    by_login = {f.login: f for f in findings}
    assert by_login["nomfa@acme.example"].kind == "no_mfa_factor"
    # aws-admins, and the convention groups its group rule puts its members in (Okta
    # lists rule-assigned members as members).
    assert set(by_login["nomfa@acme.example"].groups) == {
        "aws-admins",
        "aws#acme-prod#OktaAdminRole#222222222222",
        "aws#acme-dev#OktaAdminRole#333333333333",
    }
    assert by_login["leaver@acme.example"].kind == "deactivated_in_group"
    # The spec's people all have a factor: alice and bob TOTP, carol push.
    assert not {"alice@acme.example", BOB, "carol@acme.example"} & set(by_login)
