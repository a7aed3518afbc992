"""Provision TripleO bare metal nodes with Ironic, without Nova and Glance."""
