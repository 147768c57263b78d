"""The inventory's storage: what AI was used, by whom, when. Models, migrations, engines,
the idempotent batch insert and read queries, rollups, the writer with its journal and spool,
and retention. It stores and reads records; decisions about services belong to
``proxy.governance``, reports to ``proxy.reports``, API tokens to ``proxy.auth``. It imports
metrics, settings and the file-mode helper, nothing else of ours.
"""
