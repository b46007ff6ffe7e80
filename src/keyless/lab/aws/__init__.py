"""The lab's AWS: moto behind a strict STS and IAM enforcement, in a process of its own.

- :mod:`~keyless.lab.aws.process` starts and stops it (:class:`LabAwsProcess`);
- :mod:`~keyless.lab.aws.server` is what runs inside: moto's WSGI app behind
  :class:`~keyless.lab.aws.server.LabAwsFront`;
- :mod:`~keyless.lab.aws.sts` is the strict ``AssumeRoleWithSAML``;
- :mod:`~keyless.lab.aws.enforce` and :mod:`~keyless.lab.aws.permissions`
  authenticate and authorize every other call;
- :mod:`~keyless.lab.aws.bootstrap` builds the organization,
  :mod:`~keyless.lab.aws.state` keeps it across restarts.
"""

from keyless.lab.aws.bootstrap import BOOTSTRAP_USER, LabAccount, management_of
from keyless.lab.aws.process import LabAwsProcess

__all__ = ["BOOTSTRAP_USER", "LabAccount", "LabAwsProcess", "management_of"]
