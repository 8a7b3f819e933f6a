"""trafilatura's own command line, with the bench's host names resolved in-process.

    python -m bench.speed_peer_shim HOSTS_JSON  <trafilatura CLI arguments...>

trafilatura (courlan) refuses bare IP hosts and ``localhost`` as link hosts, so the
peer needs dotted names that resolve to loopback. Without ``--edit-hosts`` (which
writes them into /etc/hosts), this shim maps ``{name: 127.0.0.N}`` from HOSTS_JSON
inside the process and refuses to resolve any other name that is not a loopback
address, then runs ``trafilatura.cli.main`` unchanged: same code path as the
``trafilatura`` script, and no traffic can leave 127.0.0.0/8.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys

_real_getaddrinfo = socket.getaddrinfo


def _install(hosts: dict[str, str]) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        target = hosts.get((name or "").lower().rstrip("."), name)
        try:
            loopback = ipaddress.ip_address(target).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise socket.gaierror(socket.EAI_NONAME, f"bench: {name} is not a loopback host")
        return _real_getaddrinfo(target, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


if __name__ == "__main__":
    if len(sys.argv) < 2 or not sys.argv[1].startswith("{"):
        sys.exit(__doc__.split("\n\n")[1])
    _install(json.loads(sys.argv[1]))
    from trafilatura.cli import main

    sys.argv = ["trafilatura", *sys.argv[2:]]
    sys.exit(main())
