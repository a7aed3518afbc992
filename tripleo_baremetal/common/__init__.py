"""What every stage shares: the grammars of the values a request holds.

Node capabilities and the requirements matched against them, root
device hints and policies, image references, and how messages show a
value (``messages``). The request checks these values, picking matches
them against nodes and provisioning writes them to Ironic, so they live
below all three: stages import ``common``, never each other's checks
(``tests/unit/test_layout.py``). Nothing here calls an API.
"""
