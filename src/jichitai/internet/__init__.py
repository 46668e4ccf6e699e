"""The internet zone (インターネット接続系): the resident portal, the submission store, the pull API.

Nothing here can decrypt what residents send: submissions are stored as JWE to the tenant's
submission key, whose private half lives only in the LGWAN zone. Application management pulls them
through the receiving API (:mod:`jichitai.internet.receiving_api`).

- :mod:`jichitai.internet.submissions`: submit, receiving-side and resident-side use cases
- :mod:`jichitai.internet.receiving_api`: the FastAPI router under ``/api/v1/``
- :mod:`jichitai.internet.retention`: purge of acknowledged ciphertext
- :mod:`jichitai.internet.web`: ``register(app, storage)``
"""
