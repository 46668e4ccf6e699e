"""Application management (申請管理), LGWAN zone: pull, verify, identify, review, hand over.

- :mod:`~jichitai.lgwan.pull`: the pull worker (``pull_once``, ``run_scheduler``) that fetches new
  submissions from the portal's receiving API, verifies them again and stores them encrypted;
- :mod:`~jichitai.lgwan.service`: the staff back office's use cases (inbox, accept, correction,
  reject, hand over, bulk actions, CSV export);
- :mod:`~jichitai.lgwan.handlers`: intake of LINK_TABLE and CASE_RESULT messages from the linkage
  server;
- :mod:`~jichitai.lgwan.web`: ``register(app, storage)`` for the back-office screens;
- :mod:`~jichitai.lgwan.cli`: ``build_cli(get_storage)`` for ``jichitai lgwan pull|configure|push``.
"""
