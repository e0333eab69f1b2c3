"""``molmtl serve``: a web page and JSON API over the methods (the network, GFN2-xTB, DFT, QM9's labels).

:func:`molmtl.app.main.create_app` builds the FastAPI application from
:class:`~molmtl.app.settings.ServerSettings`: one router per area (``routers/``), resources (QM9,
the network's method, the job store, the job runner) made once in the lifespan and injected with
``Depends``. The network answers in the request; xTB and DFT run as durable jobs (SQLite,
``jobstore.py``) in Dask worker processes (``workers.py``, ``tasks.py``). ``docs/web.md`` is the
user's guide. Nothing is imported here.
"""
