"""The WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app`."""

import gc

from app import create_app

app = create_app()
# What the app made at start lives as long as the process: keep it out of the cyclic
# collector's full passes, which would otherwise walk it again and again under load
# (a pause of tens of milliseconds now and then, in the slowest requests).
gc.freeze()
