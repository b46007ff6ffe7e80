"""`keyless export terraform|cloudformation`: the exports describe exactly plan's desired state,
and pass the validators teams run on IaC (python-hcl2, cfn-lint, checkov, parliament)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from typer.testing import CliRunner

from keyless.cli.app import app
from keyless.export.common import identifier
from keyless.export.terraform import _attributes
from keyless.plan.desired import DesiredRole, desired_state
from keyless.spec import load_spec, load_spec_text
from keyless.spec.model import FederationSpec

with warnings.catch_warnings():
    # parliament 1.6 opens its bundled data files at import without closing them.
    warnings.simplefilter("ignore", ResourceWarning)
    from parliament import analyze_policy_string

REPO = Path(__file__).resolve().parents[2]
# Tools installed beside the interpreter running the tests (any venv), else on PATH.
VENV_BIN = Path(sys.executable).parent


def _specs() -> dict[str, FederationSpec]:
    acme = load_spec(REPO / "examples" / "acme.yaml")
    okta = yaml.safe_load((REPO / "examples" / "okta.yaml").read_text())
    # The other provisioning principal kind; a policy variable Terraform must not interpolate.
    okta["provisioning_principal"] = {"kind": "role"}
    okta["roles"][0]["inline_policies"] = {
        "OwnPrefix": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::acme-home/${aws:username}/*",
                }
            ],
        }
    }
    okta["roles"][0]["permissions_boundary"] = "arn:aws:iam::aws:policy/PowerUserAccess"
    okta["identity_provider"]["signin_urls"].append("https://us-east-1.signin.aws.amazon.com/saml")
    # Issue 23: trust policies that require a SourceIdentity, exported like any other.
    okta["identity_provider"]["source_identity"] = {"require": True}
    return {"acme": acme, "okta-role": load_spec_text(yaml.safe_dump(okta))}


SPECS = _specs()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both exports of both specs, written through the real CLI."""
    root = tmp_path_factory.mktemp("exports")
    runner = CliRunner()
    for name, spec in SPECS.items():
        spec_file = root / f"{name}.yaml"
        spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
        for kind in ("terraform", "cloudformation"):
            result = runner.invoke(
                app, ["export", kind, "--spec", str(spec_file), "--out", str(root / kind / name)]
            )
            assert result.exit_code == 0, result.output
    return root


def _role_view(role: DesiredRole) -> dict[str, Any]:
    return {
        "path": role.path,
        "description": role.description,
        "max_session_duration": role.max_session_duration,
        "permissions_boundary": role.permissions_boundary,
        "trust_policy": role.trust_policy,
        "managed_policies": sorted(role.managed_policies),
        "inline_policies": role.inline_policies,
        "tags": role.tags,
    }


def _expected(spec: FederationSpec) -> dict[str, dict[str, dict[str, Any]]]:
    """Per account id, per role name: what `keyless plan` wants."""
    return {
        d.account.id: {role.name: _role_view(role) for role in d.roles}
        for d in desired_state(spec, None)
    }


# -- reading HCL back (python-hcl2 keeps literals as written) -----------------------------


def _unescape(text: str) -> str:
    return text.replace("$${", "${").replace("%%{", "%{")


def _hcl(value: Any) -> Any:
    if isinstance(value, dict):
        return {_hcl(k): _hcl(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_hcl(v) for v in value]
    if isinstance(value, str) and value.startswith('"<<-EOT\n'):
        body = value[len('"<<-EOT\n') : -1].rsplit("\n", 1)[0]
        return json.loads(_unescape(textwrap.dedent(body)))
    if isinstance(value, str) and value.startswith('"'):
        return _unescape(json.loads(value))
    return value


def _terraform_roles(directory: Path, spec: FederationSpec) -> dict[str, dict[str, dict[str, Any]]]:
    with (directory / "main.tf").open() as handle:
        parsed = hcl2.load(handle)
    modules = {_hcl(name): _hcl(body) for block in parsed["module"] for name, body in block.items()}
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for account in spec.accounts:
        module = modules[identifier(account.alias)]
        assert module["providers"] == {"aws": f"${{aws.{identifier(account.alias)}}}"}
        assert module["account_alias"] == account.alias
        roles = {}
        for name, role in module["roles"].items():
            roles[name] = {
                "path": role["path"],
                "description": role["description"],
                "max_session_duration": role["max_session_duration"],
                "permissions_boundary": role["permissions_boundary"],
                "trust_policy": role["assume_role_policy"],
                "managed_policies": sorted(role["managed_policy_arns"]),
                "inline_policies": role["inline_policies"],
                "tags": role["tags"],
            }
        result[account.id] = roles
    return result


@pytest.mark.parametrize("name", sorted(SPECS))
def test_terraform_parses_and_matches_plan(exported: Path, name: str) -> None:
    spec = SPECS[name]
    directory = exported / "terraform" / name
    for path in directory.rglob("*.tf"):
        with path.open() as handle:
            hcl2.load(handle)  # every file parses
    assert _terraform_roles(directory, spec) == _expected(spec)

    providers = (directory / "providers.tf").read_text()
    for account in spec.accounts:
        if not account.management:
            assert f'"arn:aws:iam::{account.id}:role/{account.access_role}"' in providers
    management = next(d for d in desired_state(spec, None) if d.account.management)
    main = _hcl(hcl2.loads((directory / "main.tf").read_text()))
    module = next(
        body
        for block in main["module"]
        for key, body in block.items()
        if key == identifier(management.account.alias)
    )
    if spec.provisioning_principal is None:  # group mapping: no API integration, no key
        assert management.users == ()
        assert module.get("provisioning_user") is None
    else:
        user = management.users[0]
        assert module["provisioning_user"]["name"] == user.name
        assert module["provisioning_user"]["policy"] == next(iter(user.inline_policies.values()))
    assert (directory / "README.md").is_file()
    assert (directory / "modules" / "keyless-federation" / "main.tf").is_file()


def test_terraform_alignment_follows_fmt() -> None:
    """Regression: `terraform fmt -check` rejected every exported main.tf, because
    attributes opening a multi-line object were padded into the run of `=` above."""
    text = _attributes(
        {"source": "./m", "account_alias": "a", "tags": {"k": "v"}, "roles": None}, 1
    )
    assert text.splitlines() == [
        '  source        = "./m"',
        '  account_alias = "a"',
        "  tags = {",
        '    k = "v"',
        "  }",
        "  roles = null",
    ]


def test_terraform_okta_app(exported: Path) -> None:
    text = (exported / "terraform" / "okta-role" / "okta.tf").read_text()
    parsed = _hcl(hcl2.loads(text))
    app_block = parsed["resource"][0]["okta_app_saml"]["aws"]
    assert app_block["preconfigured_app"] == "amazon_aws"
    settings = app_block["app_settings_json"]
    assert "identityProviderArn" in settings
    assert "arn:aws:iam::111111111111:saml-provider/Okta" in settings
    # examples/okta.yaml imports roles: group mapping off, its filter and pattern not set.
    for key in ("sessionDuration", "useGroupMapping = false"):
        assert key in settings
    for key in ("groupFilter", "roleValuePattern"):
        assert key not in settings
    assert (
        "okta_app_saml.aws.metadata"
        in (exported / "terraform" / "okta-role" / "variables.tf").read_text()
    )
    assert not (exported / "terraform" / "acme" / "okta.tf").exists()


@pytest.mark.parametrize(
    ("attribute", "expression"),
    [
        (None, "user.login"),  # app_username under the exported app's default template
        ("email_prefix", 'String.substringBefore(user.email, "@")'),
    ],
)
def test_terraform_okta_app_sends_source_identity(
    tmp_path: Path, attribute: str | None, expression: str
) -> None:
    """The exported app sends SourceIdentity as `apply` configures it (issue 23): an
    `attribute_statements` block, as the okta provider's okta_app_saml models it."""
    spec = yaml.safe_load((REPO / "examples" / "okta.yaml").read_text())
    if attribute is not None:
        spec["identity_provider"]["source_identity"] = {"attribute": attribute}
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    out = tmp_path / "tf"
    result = subprocess.run(
        [str(VENV_BIN / "keyless"), "export", "terraform", "-s", str(spec_file), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed = _hcl(hcl2.loads((out / "okta.tf").read_text()))
    app_block = parsed["resource"][0]["okta_app_saml"]["aws"]
    assert app_block["attribute_statements"] == [
        {
            "name": "https://aws.amazon.com/SAML/Attributes/SourceIdentity",
            "namespace": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
            "type": "EXPRESSION",
            "values": [expression],
        }
    ]


# -- CloudFormation, evaluated per account ------------------------------------------------


def _resolve(value: Any, account_id: str, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return refs.get(value["Ref"], account_id)
        return {k: _resolve(v, account_id, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, account_id, refs) for v in value]
    return value


def _condition_true(node: Any, account_id: str) -> bool:
    if "Fn::Equals" in node:
        left, right = node["Fn::Equals"]
        assert left == {"Ref": "AWS::AccountId"}
        return bool(right == account_id)
    if "Fn::Or" in node:
        return any(_condition_true(n, account_id) for n in node["Fn::Or"])
    raise AssertionError(f"unexpected condition {node}")


def _cfn_roles(
    template: dict[str, Any], account_id: str, provider_arn: str
) -> dict[str, dict[str, Any]]:
    conditions = template.get("Conditions", {})
    roles = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        condition = resource.get("Condition")
        if condition and not _condition_true(conditions[condition], account_id):
            continue
        props = _resolve(resource["Properties"], account_id, {"SamlProvider": provider_arn})
        roles[props["RoleName"]] = {
            "path": props["Path"],
            "description": props.get("Description", ""),
            "max_session_duration": props["MaxSessionDuration"],
            "permissions_boundary": props.get("PermissionsBoundary"),
            "trust_policy": props["AssumeRolePolicyDocument"],
            "managed_policies": sorted(props.get("ManagedPolicyArns", [])),
            "inline_policies": {
                p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies", [])
            },
            "tags": {t["Key"]: t["Value"] for t in props["Tags"]},
        }
    return roles


@pytest.mark.parametrize("name", sorted(SPECS))
def test_cloudformation_matches_plan(exported: Path, name: str) -> None:
    spec = SPECS[name]
    directory = exported / "cloudformation" / name
    member = json.loads((directory / "member-accounts.template.json").read_text())
    management = json.loads((directory / "management-account.template.json").read_text())
    actual = {}
    for desired in desired_state(spec, None):
        template = management if desired.account.management else member
        actual[desired.account.id] = _cfn_roles(template, desired.account.id, desired.provider.arn)
        provider = template["Resources"]["SamlProvider"]["Properties"]
        assert provider["Name"] == desired.provider.name
        if desired.users:
            policy = template["Resources"]["ProvisioningUserPolicy"]["Properties"]["PolicyDocument"]
            assert policy == next(iter(desired.users[0].inline_policies.values()))
    assert actual == _expected(spec)
    assert "StackSet" in (directory / "README.md").read_text()
    require = spec.identity_provider.source_identity.require
    for roles in actual.values():
        for role in roles.values():
            for statement in role["trust_policy"]["Statement"]:
                if "Federated" not in statement.get("Principal", {}):
                    continue
                # Issue 23: AWS needs it beside AssumeRoleWithSAML once Okta sends one.
                assert "sts:SetSourceIdentity" in statement["Action"]
                null = statement["Condition"].get("Null")
                assert null == ({"sts:SourceIdentity": "false"} if require else None)


# -- the validators ---------------------------------------------------------------------


def _tool(name: str) -> str:
    path = VENV_BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (pip install {name}); the exports must pass it")
    return found


def test_cfn_lint_passes(exported: Path) -> None:
    templates = sorted(str(p) for p in (exported / "cloudformation").rglob("*.template.json"))
    result = subprocess.run(
        [_tool("cfn-lint"), *templates], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_with_justified_skips_only(exported: Path) -> None:
    result = subprocess.run(
        [
            _tool("checkov"),
            "--directory",
            str(exported),
            "--framework",
            "terraform",
            "cloudformation",
            "--skip-download",  # offline: no policy metadata from the vendor's API
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {r["check_type"] for r in reports} == {"terraform", "cloudformation"}
    for report in reports:
        failed = report["results"]["failed_checks"]
        assert not failed, [(c["check_id"], c["resource"], c["file_path"]) for c in failed]
        assert report["summary"]["passed"] > 0
        assert report["summary"]["parsing_errors"] == 0
        for skipped in report["results"]["skipped_checks"]:
            # Every exception carries its justification next to it.
            comment = skipped.get("check_result", {}).get("suppress_comment") or ""
            assert len(comment) > 20, skipped


def _policies(spec: FederationSpec) -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for desired in desired_state(spec, None):
        for role in desired.roles:
            # A trust policy is a resource policy on the role: parliament reads only the
            # identity-policy grammar, so give each statement its implicit resource.
            trust = json.loads(json.dumps(role.trust_policy))
            for statement in trust["Statement"]:
                statement["Resource"] = role.arn
            documents.append((f"{desired.account.alias} {role.name} trust", trust))
            for name, document in role.inline_policies.items():
                documents.append((f"{desired.account.alias} {role.name} {name}", document))
        for user in desired.users:
            for name, document in user.inline_policies.items():
                documents.append((f"{desired.account.alias} {user.name} {name}", document))
    return documents


@pytest.mark.parametrize("name", sorted(SPECS))
def test_parliament_finds_nothing(name: str) -> None:
    for label, document in _policies(SPECS[name]):
        policy = analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
        # parliament's action table lists only sts:SourceIdentity-style keys for
        # sts:SetSourceIdentity; AWS evaluates it in AssumeRoleWithSAML's request context,
        # SAML:aud included, and documents this very statement (IAM User Guide,
        # id_credentials_temp_control-access_monitor.html, the SAML trust policy example).
        findings = [
            f
            for f in policy.findings
            if not (
                f.issue == "UNKNOWN_CONDITION_FOR_ACTION"
                and "for action sts:SetSourceIdentity" in str(f.detail)
                and "SAML:" in str(f.detail)
            )
        ]
        assert not findings, (label, [(f.issue, f.detail) for f in findings])
