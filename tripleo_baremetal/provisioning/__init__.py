"""Provisioning: from reserved nodes to active instances, and back.

What earlier runs left (``existing``), the Neutron ports, starting a
deploy on one node, waiting for many with bulk polling, undeploying,
and the sequence that ties them into ``deploy_instances``.
"""
