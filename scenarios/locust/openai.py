"""The shipped openai locustfile (harness/locust_support/locustfiles/openai.py), so
`locust -f scenarios/locust/openai.py` keeps working from a checkout."""

from harness.locust_support.locustfiles.openai import *  # noqa: F401,F403 - the user classes and HarnessShape
