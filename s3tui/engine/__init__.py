"""The upload engine: planning, spooling, the worker pool, retries and the progress model.

Nothing here imports Textual; the only module that talks to S3 is ``remote``.
"""
