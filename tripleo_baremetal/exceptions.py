"""Exceptions raised by the tripleo-baremetal core.

Every message is meant to be read by an operator: it names the role,
instance, node, field and value involved. None of them carries secrets.
"""


class BaremetalError(Exception):
    """Base class for all errors raised by this package."""


class InvalidInput(BaremetalError, ValueError):
    """The request (roles file, port maps, parameters) is invalid.

    :ivar errors: the list of individual problems, each a full sentence.
    """

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = [errors]
        self.errors = list(errors)
        if len(self.errors) == 1:
            message = self.errors[0]
        else:
            message = '%d problems found:\n%s' % (
                len(self.errors),
                '\n'.join('- %s' % err for err in self.errors))
        super().__init__(message)


class PickingError(BaremetalError):
    """Nodes could not be picked for the request; nothing stays reserved."""


class PlacementError(PickingError):
    """No complete plan exists for the requested instances.

    :ivar report: the per-instance rejection report (text).
    """

    def __init__(self, message, report=None):
        self.report = report
        super().__init__(message)


class ReservationError(PickingError):
    """Ironic refused to reserve the planned nodes."""


class ReservationTimeout(ReservationError):
    """Reserving (re-plans included) did not finish within its timeout."""


class ConfigDriveError(BaremetalError):
    """The config drive cannot be built (for example it is too large)."""


class DeployError(BaremetalError):
    """Deploying an instance failed; the node was cleaned up."""


class DeployTimeout(DeployError):
    """Deploys did not reach ``active`` within the timeout.

    Nodes still deploying are left to finish: a re-run waits for them.
    """


class UndeployError(BaremetalError):
    """Undeploying an instance failed."""


class UndeployTimeout(UndeployError):
    """Undeploys did not finish within the timeout."""


class NodeStateError(BaremetalError):
    """A node of the request is in a state this run must not act on.

    For example a host's node is being rescued or cleaned while it still
    holds the host's allocation: the operator finishes or aborts that
    first. The message names host, node and state.
    """


class PortError(BaremetalError):
    """Neutron refused a port this run asked for.

    The message names host, network and value (subnet, fixed IP); the
    ports this run had created are deleted again before it is raised.
    """


class ApiError(BaremetalError):
    """An API call failed after its retries; names the host and node."""
