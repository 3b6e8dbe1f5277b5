"""The host name a task reports (``[core] hostname_callable``) on a Celery worker of the tests.

Every worker of a test stack runs on this one machine; each is given its own name, as each
container of a deployment has its own hostname, so the task instances tell which ran where.
"""

import os
import socket

WORKER_NAME_VARIABLE = "SCHEDULER_TEST_WORKER_NAME"


def hostname() -> str:
    return os.environ.get(WORKER_NAME_VARIABLE) or socket.getfqdn()
