"""The ``search-init``, ``search-run`` and ``search-ctl`` commands."""
