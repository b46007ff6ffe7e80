"""The lab's AWS: moto behind a strict STS and IAM enforcement, in a process of its own.

- :mod:`~keyless_lab.aws.process` starts and stops it (:class:`LabAwsProcess`);
- :mod:`~keyless_lab.aws.server` is what runs inside: moto's WSGI app behind
  :class:`~keyless_lab.aws.server.LabAwsFront`;
- :mod:`~keyless_lab.aws.sts` is the strict ``AssumeRoleWithSAML``;
- :mod:`~keyless_lab.aws.enforce` and :mod:`~keyless_lab.aws.permissions`
  authenticate and authorize every other call;
- :mod:`~keyless_lab.aws.bootstrap` builds the organization,
  :mod:`~keyless_lab.aws.state` keeps it across restarts.
"""

from keyless_lab.aws.bootstrap import BOOTSTRAP_USER, LabAccount, management_of
from keyless_lab.aws.process import LabAwsProcess

__all__ = ["BOOTSTRAP_USER", "LabAccount", "LabAwsProcess", "management_of"]
