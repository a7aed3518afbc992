"""The request: what the operator asked for, checked before any API call.

The roles file and its schema, Heat's port maps, hostnames, image
sources, and the Heat environment written at the end. Nothing here
talks to an OpenStack service.
"""
