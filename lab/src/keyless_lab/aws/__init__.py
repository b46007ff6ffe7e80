"""The lab's AWS: moto behind a strict STS and IAM enforcement, in a process of its own.

- :mod:`~keyless_lab.aws.process` starts and stops it (:class:`LabAwsProcess`);
- :mod:`~keyless_lab.aws.server` is what runs inside: moto's WSGI app behind
  :class:`~keyless_lab.aws.server.LabAwsFront`;
- :mod:`~keyless_lab.aws.request` reads each request once, and
  :mod:`~keyless_lab.aws.derive` turns that reading into what IAM decides: actions,
  resource ARNs, the resource's owner and policy;
- :mod:`~keyless_lab.aws.sts` is the strict ``AssumeRoleWithSAML`` (and ``AssumeRole``,
  with session policies, tags and source identity), which reads
  the provider's metadata (:mod:`~keyless_lab.aws.saml_provider`) and verifies the
  response itself (:mod:`~keyless_lab.aws.saml_response`);
- :mod:`~keyless_lab.aws.enforce` and :mod:`~keyless_lab.aws.permissions`
  authenticate and authorize every other call (AWS's evaluation flowchart, with a
  hook for organization policies), with IAM's condition operators as
  :mod:`~keyless_lab.aws.conditions` reads them;

Everything here is written from AWS's documentation and never imports keyless's
SAML, policy, plan, service, adapter or core code (an import-linter contract):
the lab is the oracle keyless is tested against, and must not share its bugs.
- :mod:`~keyless_lab.aws.bootstrap` builds the organization,
  :mod:`~keyless_lab.aws.state` keeps it across restarts.
"""

from keyless_lab.aws.bootstrap import BOOTSTRAP_USER, LabAccount, management_of
from keyless_lab.aws.process import LabAwsProcess

__all__ = ["BOOTSTRAP_USER", "LabAccount", "LabAwsProcess", "management_of"]
