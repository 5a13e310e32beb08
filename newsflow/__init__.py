"""The operator's command line: ``newsflow up``, ``newsflow import``, ``newsflow db upgrade``.

It is the composition root: the one place that knows every service, so the services need
not know each other.
"""
