"""The shipped spapi locustfile (harness/locust_support/locustfiles/spapi.py), so
`locust -f scenarios/locust/spapi.py` keeps working from a checkout."""

from harness.locust_support.locustfiles.spapi import *  # noqa: F401,F403 - the user classes and HarnessShape
