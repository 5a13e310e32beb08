"""Partner webhooks per the Standard Webhooks specification (standardwebhooks.com, v1.0.0).

- ``secretbox``: signing secrets (``whsec_…``), kept encrypted at rest; the signature.
- ``endpoints``: a partner's endpoints: add, list, remove, rotate the secret, enable.
- ``payload``: the JSON body of one change event.
- ``dispatch``: change-log rows to deliveries, exactly once per endpoint, in order.
- ``deliveries``: claiming an attempt, recording its outcome (retries, disabling), the log,
  resending, and the sweep for due retries the scheduler runs.

Pure store functions: no Flask, no Celery, no HTTP; the worker (render.webhooks) makes the
requests and the CLI (newsflow.partner_cli) manages endpoints.
"""
