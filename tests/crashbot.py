"""A factory of real `balie run` processes for crash tests.

Importing aiogram and Balie takes seconds on these machines; this process does it once and then
forks a fresh bot process per request, so a test can kill -9 a real bot at hundreds of moments
cheaply. Each child is `balie run` in all but its first line: it builds the app from the config
file, pins today and now (tests never read the real clock) and long-polls until killed or
stopped.

Protocol on stdin/stdout, one line each: `spawn CONFIG TODAY NOW LOG` → the child's pid.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import date, datetime
from pathlib import Path


def _child(config_path: str, today: str, now: str, log_path: str) -> None:
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    from bot import logs
    from bot.app import build_app, run_polling
    from bot.config import load_config

    logs.setup("INFO")
    pinned, moment = date.fromisoformat(today), datetime.fromisoformat(now)

    async def serve() -> None:
        app = await build_app(load_config(Path(config_path)))
        app.services.today = lambda: pinned  # type: ignore[method-assign]
        app.services.now = lambda: moment  # type: ignore[method-assign]
        await run_polling(app)

    asyncio.run(serve())


def main() -> None:
    import bot.app
    import bot.cli  # noqa: F401
    from knowledge.dates import warm_up

    warm_up()  # dateparser's data, loaded once for every child

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "spawn":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    _child(*words[1:5])
                except BaseException:
                    import traceback

                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            print(pid, flush=True)


if __name__ == "__main__":
    main()
