"""Ironic's provision and allocation state names, and the sets we act on.

Every state the core compares against is named here, once, so that the
convergence rule (``doc/source/convergence.md``) reads as sets of states rather
than as strings scattered over the modules.
"""

# Node provision states (Ironic's ``ironic/common/states.py`` names).
ACTIVE = 'active'
AVAILABLE = 'available'
MANAGEABLE = 'manageable'
ENROLL = 'enroll'
DEPLOYING = 'deploying'
DEPLOYWAIT = 'wait call-back'
DEPLOYHOLD = 'deploy hold'
DEPLOYFAIL = 'deploy failed'
ERROR = 'error'
DELETING = 'deleting'
CLEANING = 'cleaning'
CLEANWAIT = 'clean wait'
CLEANFAIL = 'clean failed'
REBUILDING = 'rebuilding'
INSPECTING = 'inspecting'
INSPECTWAIT = 'inspect wait'
VERIFYING = 'verifying'
ADOPTING = 'adopting'
ADOPTFAIL = 'adopt failed'

# Provision targets (verbs) of ``PUT /v1/nodes/<node>/states/provision``.
DELETED = 'deleted'
ADOPT = 'adopt'

# Allocation states.
ALLOCATING = 'allocating'
ALLOCATION_ACTIVE = 'active'
ALLOCATION_ERROR = 'error'

#: A deploy was requested and has not ended yet: wait for it.
DEPLOY_IN_PROGRESS = frozenset([DEPLOYING, DEPLOYWAIT, DEPLOYHOLD])

#: A deploy ended badly: the node must be undeployed before reuse.
DEPLOY_FAILED = frozenset([DEPLOYFAIL, ERROR])

#: Undeploy is under way; the node comes back by itself.
UNDEPLOY_IN_PROGRESS = frozenset([DELETING, CLEANING, CLEANWAIT])

#: States from which ``adopt`` takes over a running server.
ADOPTABLE = frozenset([MANAGEABLE, ADOPTFAIL])

#: States from which a node takes no undeploy (nothing is deployed).
NOT_DEPLOYED = frozenset([AVAILABLE, MANAGEABLE, ENROLL])
