"""What a deploy of the expanded instances will carry, found beforehand.

The largest value a ``deploy_roles`` run hands from one step to the next
grows with its hosts: the last step's (``wait_for_deploy``'s) input, the
deployed hosts' records and the environment (doc/source/scale.md). A
request with more hosts than that value holds under Mistral's field size
limit would be refused by Mistral only then, after every node is
deployed, and again on each re-run. ``deployed_bytes`` finds, from the
expansion alone, a size that value is sure to reach, so that such a
request can be refused at its start, before any API call.
"""

import json

from tripleo_baremetal import model
from tripleo_baremetal.request import environment
from tripleo_baremetal import states

#: Stands for the node and allocation UUIDs a deploy will give each
#: host: every UUID has this length.
_SOME_UUID = '00000000-0000-0000-0000-000000000000'


def deployed_record(instance):
    """The record ``instance`` will travel as once deployed (a lower bound).

    ``Deployment.to_dict(brief=True)`` with a node and an allocation of a
    UUID's length and ``provision_state`` active. Left out, so that the
    record is never larger than the real one: the node's name (unknown
    yet), the VIFs attached, and the ports still to be created (their
    addresses are unknown until Neutron gives them).
    """
    reservation = model.Reservation(hostname=instance.hostname,
                                    node=_SOME_UUID, allocation=_SOME_UUID)
    return model.Deployment(instance=instance.without_secrets(),
                            reservation=reservation,
                            provision_state=states.ACTIVE).to_dict(
                                brief=True)


def deployed_bytes(instances, env):
    """At least how many bytes ``wait_for_deploy``'s input will take.

    :param instances: the ``model.Instance`` records to deploy, as
        ``expand_roles`` makes them (Heat's ports assigned).
    :param env: the environment ``expand_roles`` returns with them.
    :returns: the size of that input for ``instances`` all deployed
        (the environment, their records and the port map entries of the
        ports already known) in characters of JSON, which Mistral's
        measure (the size of the value's text) is never under.
    """
    value = {'environment': env,
             'instances': [deployed_record(inst) for inst in instances],
             'failed': [],
             'node_port_map': {
                 inst.hostname: entries for inst in instances
                 for entries in [environment.known_port_entries(inst)]
                 if entries}}
    return len(json.dumps(value, ensure_ascii=False))
