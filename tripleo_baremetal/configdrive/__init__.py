"""Config drives: their contents, the ISO image, and network data.

:mod:`.contents` decides what the drive holds, :mod:`.iso` writes it as
an ISO 9660 image and packs it for Ironic, :mod:`.network_data` builds
``network_data.json`` from the instance's ports.
"""
