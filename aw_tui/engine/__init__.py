"""The seed's run loop: steps, signals, errors, and the executors (serial, threads, Dask).

- ``loop``: :class:`~aw_tui.engine.loop.RunEngine`, the seed's rules and the run directory's
  records; it knows executors only through the ``Executor`` protocol;
- ``call``: one step's picklable call and its outcome (what an executor runs);
- ``executors``: the ``Executor`` protocol, ``LocalExecutor`` (threads) and the ``[executor]``
  table; ``dask_cluster`` (lazy, optional) the ``DaskExecutor``, with ``dask_security`` (TLS,
  loopback, dashboard) and ``output_echo``;
- ``steps``, ``errors``, ``signals``: steps, the run's exceptions, SIGTERM/SIGHUP.

Imports only :mod:`aw_tui.rundir` and :mod:`aw_tui.base`; it calls step functions through the
pipeline and never imports a tool, a project file or the TUI.
"""
