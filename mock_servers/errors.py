"""The mock servers' own exceptions (bad profiles, bad overrides)."""


class MockError(Exception):
    """Base class for the mock servers' errors."""


class ProfileError(MockError):
    """A profile file or override is invalid; the message names the field and value."""
