"""The core every feature stands on: the workspace and its unit of work, storage, keys and their rotation,
the Individual Number cipher, credentials, the audit chain, approvals, permissions, paging, policy and the words table.

Nothing here imports a feature package (``tests/test_layers.py``).
"""
