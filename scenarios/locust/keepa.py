"""The shipped keepa locustfile (harness/locust_support/locustfiles/keepa.py), so
`locust -f scenarios/locust/keepa.py` keeps working from a checkout."""

from harness.locust_support.locustfiles.keepa import *  # noqa: F401,F403 - the user classes and HarnessShape
