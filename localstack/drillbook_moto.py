"""drillbook's moto server: moto plus the extensions in drillbook_ext/ (see README.md).

Run: python drillbook_moto.py --host 127.0.0.1 --port PORT [--parent-pid PID] [--dns-port PORT]

--dns-port serves the hosted zones over DNS (UDP and TCP) on --host; 0 picks a port free for
both; without it there is no DNS server (README.md, "DNS server").
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

os.environ.setdefault("MOTO_ENABLE_RECORDING", "true")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple  # noqa: E402

import drillbook_ext  # noqa: E402


def _watch_parent(pid: int) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--parent-pid", type=int, default=0)
    ap.add_argument("--dns-port", type=int, default=None)
    args = ap.parse_args()
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()
    os.environ["MOTO_PORT"] = str(args.port)
    if args.dns_port is not None:
        from drillbook_ext import dns_server

        host, port = dns_server.start(args.host, args.dns_port)
        print(f"dns: serving the hosted zones on {host}:{port} (UDP and TCP)", file=sys.stderr,
              flush=True)
    app = drillbook_ext.app(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    sys.exit(main())
