"""The linkage server (連携サーバ / 特定通信): the only bridge between the LGWAN and My Number zones.

It carries the messages of allow-listed flows (:mod:`~jichitai.linkage.config`,
:mod:`~jichitai.linkage.flows`) from a zone's outbox to another zone's intake, exactly once across
crashes (:mod:`~jichitai.linkage.server`), sanitizing attachments on their way into the My Number
zone (:mod:`~jichitai.linkage.transform`), and logs every transfer with its hash. It imports only
``jichitai.platform`` and ``jichitai.contracts``.
"""
