"""Errors raised while running the embedded services."""


class LocalCloudError(Exception):
    """Base class of every error of the embedded services."""


class ServiceError(LocalCloudError):
    """A service could not be prepared or started, or it exited."""


class WaitTimeout(LocalCloudError):
    """Something did not happen in the time allowed."""


class EnrolmentError(LocalCloudError):
    """Nodes could not be made available."""
