"""Who may talk to the Dask clusters aw-tui starts: TLS, loopback, and the dashboard.

A Dask scheduler runs any task a connected client sends, as the user who started it. So a
cluster that aw-tui starts (``[executor] kind = "dask"`` with ``cluster = ...``) is closed to
everybody but this run by default:

- its scheduler, workers and client use TLS with a temporary certificate authority made
  for this run (:meth:`distributed.security.Security.temporary`, needs ``cryptography``):
  a client without this run's certificate cannot connect, encrypted or not;
- a local cluster binds 127.0.0.1 only; a batch-job cluster (Slurm, PBS ...) binds the
  interface its workers reach, and its workers get the certificate through files mode 0600
  in ``cluster_options.shared_temp_directory`` (default ``~``, which the compute nodes
  must see), removed when the run ends;
- the dashboard (off unless ``dashboard`` is set) binds 127.0.0.1 unless an address with a
  host is given (``dashboard = "0.0.0.0:8787"``), and the link printed is the address it
  really listens on.

``tls = false`` in ``[executor]`` turns TLS off (e.g. for a site whose workers cannot get
the certificate); aw-tui then prints a warning when the cluster starts. A scheduler that is
already running (``address``/``scheduler_file``) keeps its own security settings.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from distributed.security import Security

__all__ = ["LOOPBACK", "cluster_security", "dashboard_address", "dashboard_link"]

LOOPBACK = "127.0.0.1"


def _fail(message: str, hint: str) -> ValueError:
    return ValueError(f"[executor] {message}; {hint}")


def dashboard_address(value: Any) -> str | None:
    """Where the dashboard listens: None (off), or ``host:port`` (127.0.0.1 unless given).

    ``true`` is ``127.0.0.1:8787``; a port (``8787``, ``":8787"``) gets host 127.0.0.1; an
    address with a host (``"0.0.0.0:8787"``) is kept as written.

    Raises
    ------
    ValueError
        For anything else.
    """
    if value is None or value is False:
        return None
    if value is True:
        return f"{LOOPBACK}:8787"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 65536:
        return f"{LOOPBACK}:{value}"
    if isinstance(value, str):
        host, sep, port = value.rpartition(":")
        if not sep:
            host, port = "", value
        if port.isdigit() and int(port) < 65536:
            return f"{host or LOOPBACK}:{port}"
    raise _fail(f"dashboard = {value!r}",
                'write dashboard = true (127.0.0.1:8787), a port, or "host:port"')


def cluster_security(config: dict[str, Any], where: str) -> Any:
    """The ``Security`` of a cluster this run starts, or None with ``tls = false``.

    Parameters
    ----------
    config : dict
        The ``[executor]`` table (its ``tls`` key: true by default).
    where : str
        What the cluster is, for the warning printed when TLS is off.

    Raises
    ------
    ValueError
        When ``tls`` is not a boolean, or the ``cryptography`` package is missing.
    """
    tls = config.get("tls", True)
    if not isinstance(tls, bool):
        raise _fail(f"tls = {tls!r}", "write tls = true (default) or tls = false")
    if not tls:
        print(
            f"aw-tui: warning: [executor] tls = false: the Dask scheduler of the {where} "
            "accepts connections without a certificate, and anyone who can reach it can run "
            "code as you. Remove tls = false unless its network is yours alone.",
            file=sys.stderr,
        )
        return None
    try:
        return Security.temporary()
    except ImportError as exc:
        raise _fail(
            f"TLS for the Dask cluster needs the cryptography package ({exc})",
            "pip install 'aw-tui[dask]' (or cryptography), or set tls = false",
        ) from None


def dashboard_link(client: Any, address: str) -> str | None:
    """The URL of the dashboard the scheduler of ``client`` really serves, or None.

    ``address`` is what it was asked to bind (see :func:`dashboard_address`); its port may
    be 0 (any) or taken, so the port comes from the scheduler.
    """
    try:
        port = client.scheduler_info()["services"]["dashboard"]
    except Exception:
        return None
    host = address.rpartition(":")[0] or LOOPBACK
    if host in ("0.0.0.0", "::", "[::]"):
        host = socket.getfqdn()
    return f"http://{host}:{port}/status"
