"""Picking nodes: which Ironic node serves which instance.

Node capabilities and filters say which nodes could serve an instance
and why the others cannot; the placement finds one plan for every
instance at once; the reservation turns the plan into Ironic
allocations, re-planning when another run wins a node.
"""
