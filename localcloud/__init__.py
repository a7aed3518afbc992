"""Embedded services for the demo and the functional tests.

Real PostgreSQL, Ironic (fake-hardware) and Mistral processes started on
127.0.0.1 from the interpreter's own environment, each in its own process
group with its logs in a directory of the caller's choosing, and always
stopped again. Nothing here is meant for production.
"""
