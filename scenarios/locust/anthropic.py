"""The shipped anthropic locustfile (harness/locust_support/locustfiles/anthropic.py), so
`locust -f scenarios/locust/anthropic.py` keeps working from a checkout."""

from harness.locust_support.locustfiles.anthropic import *  # noqa: F401,F403 - the user classes and HarnessShape
