"""Run LocalStack on the host (no Docker) with an optional parent-pid watchdog.

Usage: python localstack_run.py PARENT_PID   (0 = no watchdog)
Configuration comes from the environment (GATEWAY_LISTEN, SERVICES, ...), set by ./emulator.
"""
import os
import runpy
import sys
import threading
import time


def _watch(pid: int) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
        time.sleep(0.5)


def _py312_compat() -> None:
    """localstack-core 4.14.0 imports warnings.deprecated (Python >= 3.13) unconditionally
    (localstack/utils/tagging.py, used by KMS and others); on 3.12 every such call failed with
    InternalError. typing_extensions (a LocalStack dependency) has the same decorator."""
    import warnings

    if not hasattr(warnings, "deprecated"):
        from typing_extensions import deprecated

        warnings.deprecated = deprecated


if __name__ == "__main__":
    _py312_compat()
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if parent:
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    sys.argv = ["localstack.runtime.main"]
    runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)
