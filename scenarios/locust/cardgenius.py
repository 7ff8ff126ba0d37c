"""The shipped cardgenius locustfile (harness/locust_support/locustfiles/cardgenius.py), so
`locust -f scenarios/locust/cardgenius.py` keeps working from a checkout."""

from harness.locust_support.locustfiles.cardgenius import *  # noqa: F401,F403 - the user classes and HarnessShape
