"""Start-up: from process spawn to the first ``getUpdates``, ``yishi run`` against a bare
PTB application, both against one Bot API emulator running in a process of its own.

    python bench/startup.py [--runs N] [--quick] [--json] [--importtime] [--before REV]

Series, interleaved (each run of the loop starts one process of each, in a rotating
order, so that a slow moment of the shared machine is spread over all of them):

- ``bare``: a PTB ``Application`` with one handler, ``run_polling()`` (getMe,
  deleteWebhook, getUpdates); its source is :data:`BARE_APP`.
- ``migrated``: ``python -m bot.cli run`` (long polling) on a temporary SQLite database
  already at the newest schema (a copy of one migrated before the runs, untimed).
- ``fresh``: the same on a database that does not exist yet (migrated at start).
- ``before`` (with ``--before REV``): ``migrated`` with the code as it was at git REV.

Each process is spawned in an empty directory (no developer's ``.env``), the clock
starts just before the spawn, and stops when the emulator receives the process's first
``getUpdates`` (the emulator notes the ``time.monotonic()`` of every request it receives
on a pipe; on Linux that clock is system-wide). Then the process gets SIGTERM and must
exit with status 0, without a traceback, within :data:`STOP_BOUND` seconds.

Targets: every process reached ``getUpdates`` and stopped cleanly (correctness: exit
status 1 otherwise); ``migrated`` median < 2 × ``bare`` median (timing: reported only).
``--importtime`` also runs one ``bare`` and one ``migrated`` process with ``-X
importtime`` and prints the modules that cost most.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common import Target, log, print_targets, targets_json

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:TEST-yishi-emulator-token"
REACH_BOUND = 60.0  # seconds a process may take to reach getUpdates
STOP_BOUND = 20.0  # seconds it may take to exit after SIGTERM
TARGET_RATIO = 2.0


@dataclass(frozen=True)
class Spec:
    """One series: the bare app, or ``yishi run`` from the checkout at ``root`` on a
    database at head (``migrated``) or not yet created."""

    name: str
    bare: bool = False
    migrated: bool = True
    root: Path = ROOT


SPECS = (Spec("bare", bare=True), Spec("migrated"), Spec("fresh", migrated=False))

# The baseline: what a minimal PTB bot does to start polling. One handler, as a bot has
# at least one; nothing else imported.
BARE_APP = """\
import sys
from telegram.ext import ApplicationBuilder, CommandHandler

async def start(update, context):
    await update.effective_message.reply_text("hello")

app = ApplicationBuilder().token(sys.argv[1]).base_url(sys.argv[2]).build()
app.add_handler(CommandHandler("start", start))
app.run_polling()
"""


# --- the emulator's process ---------------------------------------------------------------


async def _serve_emulator() -> None:
    """The emulator, noting every Bot API request it receives as one line on stdout:
    ``<time.monotonic()> <method>``. Serves until stdin reaches end of file."""
    from aiohttp import web

    from emulator import BotApiEmulator

    class Noting(BotApiEmulator):
        async def _handle(self, request: web.Request) -> web.Response:
            # Noted on arrival, before the request is parsed or answered.
            sys.stdout.write(f"{time.monotonic():.6f} {request.match_info['method']}\n")
            sys.stdout.flush()
            return await super()._handle(request)

    emulator = Noting(TOKEN)
    await emulator.start()
    print(json.dumps({"base_url": emulator.base_url}), flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.read()  # end of file: the benchmark is done (or died)
    await emulator.stop()


class Emulator:
    """The emulator's process, and the requests it noted."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self.calls: list[tuple[float, str]] = []
        self._arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Emulator:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--phase", "emulator",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert self.proc.stdout is not None
        ready = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if not ready:
            raise RuntimeError("the emulator's process exited before it listened")
        self.base_url = json.loads(ready)["base_url"]
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            at, method = line.decode().split()
            self.calls.append((float(at), method))
            self._arrived.set()

    async def first(self, method: str, since: int, bound: float) -> float | None:
        """When the emulator received ``method`` among the requests after index ``since``
        (None: not within ``bound`` seconds)."""
        deadline = time.monotonic() + bound
        while True:
            for at, name in self.calls[since:]:
                if name == method:
                    return at
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def __aexit__(self, *exc_info: object) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()


# --- one start-up -------------------------------------------------------------------------


@dataclass
class Run:
    series: str
    seconds: float | None  # spawn -> first getUpdates; None: never reached it
    calls: dict[str, float] = field(default_factory=dict)  # first call of each method, s
    cpu: float = 0.0  # CPU seconds (user + system) of the whole process, start to exit
    # CPU seconds it had used when its first getUpdates arrived (Linux: /proc, 10 ms
    # ticks): less swayed than wall time by other work on a shared machine.
    cpu_to_poll: float | None = None
    exit_code: int | None = None
    clean: bool = False  # exited 0 after SIGTERM, within the bound, without a traceback
    problem: str = ""


def _command(spec: Spec, emulator: Emulator, extra: list[str]) -> list[str]:
    if spec.bare:
        return [sys.executable, *extra, "-c", BARE_APP, TOKEN, emulator.base_url]
    return [sys.executable, *extra, "-m", "bot.cli", "run"]


def _environment(spec: Spec, emulator: Emulator, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YISHI_")}
    env.update(
        YISHI_TELEGRAM_TOKEN=TOKEN,
        YISHI_TELEGRAM_BASE_URL=emulator.base_url,
        YISHI_DATABASE_URL=database_url,
        # First on the path, so ahead of the editable install's finder: --before's
        # checkout is the one imported.
        PYTHONPATH=str(spec.root),
    )
    return env


async def start_once(
    spec: Spec, emulator: Emulator, workdir: Path, database_url: str, extra: list[str]
) -> tuple[Run, str]:
    """Spawn one process, time it to its first getUpdates, stop it; (the run, its stderr)."""
    since = len(emulator.calls)
    # Children's CPU is added here when they are reaped; the emulator's only at its end.
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *_command(spec, emulator, extra),
        cwd=workdir,
        env=_environment(spec, emulator, database_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    errors = asyncio.create_task(proc.stderr.read())
    exited = asyncio.create_task(proc.wait())
    reaching = asyncio.create_task(emulator.first("getUpdates", since, REACH_BOUND))
    await asyncio.wait({exited, reaching}, return_when=asyncio.FIRST_COMPLETED)
    if not reaching.done():  # it exited first: a failed start, no point waiting
        await asyncio.sleep(0.2)  # a request it made just before may still be on the pipe
        reaching.cancel()
    reached = None if reaching.cancelled() else reaching.result()
    run = Run(spec.name, None if reached is None else reached - started)
    if reached is not None:
        run.cpu_to_poll = _cpu_so_far(proc.pid)
    for at, method in emulator.calls[since:]:
        run.calls.setdefault(method, round(at - started, 4))
    if reached is None:
        run.problem = (
            f"exited ({proc.returncode}) before getUpdates"
            if exited.done()
            else f"no getUpdates within {REACH_BOUND:.0f} s"
        )
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(exited, STOP_BOUND)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        run.problem = run.problem or f"still running {STOP_BOUND:.0f} s after SIGTERM"
    stderr = (await errors).decode(errors="replace")
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    run.exit_code = proc.returncode
    run.clean = proc.returncode == 0 and "Traceback" not in stderr and not run.problem
    if not run.clean and not run.problem:
        run.problem = f"exit status {proc.returncode}" + (
            ", traceback on stderr" if "Traceback" in stderr else ""
        )
    return run, stderr


def _cpu_so_far(pid: int) -> float | None:
    """User + system CPU seconds of a running process, from /proc (None elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 3
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


# --- the benchmark ------------------------------------------------------------------------


def _checkout(revision: str, target: Path) -> Path:
    """The project's files as they were at git ``revision``, unpacked into ``target``
    (``git archive``: the repository and the working tree are left alone). Its database
    must be at the same schema as today's: the runs copy one migrated by today's code."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _migrated_template(directory: Path) -> Path:
    """A SQLite database at the newest schema, to copy for each ``migrated`` run."""
    from storage.migrate import upgrade

    template = directory / "template.sqlite3"
    asyncio.run(upgrade(f"sqlite:///{template}"))
    return template


async def bench(specs: list[Spec], runs: int, template: Path, scratch: Path) -> list[Run]:
    results: list[Run] = []
    async with Emulator() as emulator:
        for i in range(runs):
            shift = i % len(specs)
            for spec in specs[shift:] + specs[:shift]:
                workdir = scratch / f"{spec.name}-{i}"
                workdir.mkdir()
                database = workdir / "yishi.sqlite3"
                if spec.migrated:
                    shutil.copyfile(template, database)
                run, stderr = await start_once(spec, emulator, workdir, f"sqlite:///{database}", [])
                results.append(run)
                took = "—" if run.seconds is None else f"{run.seconds:.3f} s"
                state = "ok" if run.clean else run.problem
                log(f"run {i + 1}/{runs} {spec.name:9} {took} cpu {run.cpu:.3f} s  {state}")
                if not run.clean:
                    log(stderr[-3000:])
    return results


async def importtimes(template: Path, scratch: Path) -> dict[str, list[tuple[int, str]]]:
    """One ``bare`` and one ``migrated`` start under ``-X importtime``: the top-level
    imports' cumulative microseconds (their sum is the whole import time), costliest first."""
    found: dict[str, list[tuple[int, str]]] = {}
    async with Emulator() as emulator:
        for spec in SPECS[:2]:
            workdir = scratch / f"importtime-{spec.name}"
            workdir.mkdir()
            database = workdir / "yishi.sqlite3"
            shutil.copyfile(template, database)
            _, stderr = await start_once(
                spec, emulator, workdir, f"sqlite:///{database}", ["-X", "importtime"]
            )
            found[spec.name] = _top_level_imports(stderr)
    return found


def _top_level_imports(stderr: str) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        if not name.startswith("  "):  # " name": imported by the program, not by a module
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)


def _median(runs: list[Run], series: str, attribute: str = "seconds") -> float:
    values = [getattr(r, attribute) for r in runs if r.series == series]
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else float("nan")


def _median_calls(runs: list[Run], series: str) -> dict[str, float]:
    methods: dict[str, list[float]] = {}
    for run in runs:
        if run.series == series and run.seconds is not None:
            for method, at in run.calls.items():
                methods.setdefault(method, []).append(at)
    ordered = sorted(methods.items(), key=lambda item: statistics.median(item[1]))
    return {method: statistics.median(ats) for method, ats in ordered}


def report(
    specs: list[Spec],
    runs: list[Run],
    imports: dict[str, list[tuple[int, str]]],
    as_json: bool,
    quick: bool,
) -> int:
    names = [spec.name for spec in specs]
    medians = {name: _median(runs, name) for name in names}
    cpu = {name: _median(runs, name, "cpu") for name in names}
    cpu_to_poll = {name: _median(runs, name, "cpu_to_poll") for name in names}
    ratios = {name: medians[name] / medians["bare"] for name in names}
    ratio = ratios["migrated"]
    unclean = [r for r in runs if not r.clean]
    targets = [
        Target(
            "every process reached getUpdates and stopped cleanly on SIGTERM",
            not unclean,
            "; ".join(f"{r.series}: {r.problem}" for r in unclean) or f"{len(runs)} processes",
        ),
        Target(
            f"yishi run (database at head) < {TARGET_RATIO:g}× bare",
            ratio < TARGET_RATIO,
            f"{ratio:.2f}× (medians)" + (" — quick: too few runs to judge" if quick else ""),
            correctness=False,
        ),
    ]
    if as_json:
        figures = {
            "medians_s": medians,
            "cpu_s": cpu,
            "cpu_to_poll_s": cpu_to_poll,
            "ratios": ratios,
            "calls_s": {name: _median_calls(runs, name) for name in names},
            "runs": [asdict(r) for r in runs],
            "importtime_us": imports,
            "targets": targets_json(targets),
        }
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return 1 if unclean else 0
    count = len([r for r in runs if r.series == "bare"])
    print(
        f"start-up to the first getUpdates, {count} runs a series (s; the machine's load varies):"
    )
    print(
        f"  {'series':9} {'median':>7} {'min':>7} {'max':>7}  {'ratio':>6}"
        f"  {'cpu→poll':>8} {'ratio':>6}  {'cpu':>6}"
    )
    for name in names:
        values = [r.seconds for r in runs if r.series == name and r.seconds is not None]
        if not values:
            print(f"  {name:9}   never reached getUpdates")
            continue
        print(
            f"  {name:9} {medians[name]:7.3f} {min(values):7.3f} {max(values):7.3f}"
            f"  {ratios[name]:5.2f}×  {cpu_to_poll[name]:8.3f}"
            f" {cpu_to_poll[name] / cpu_to_poll['bare']:5.2f}×  {cpu[name]:6.3f}"
        )
    print(
        "  (medians; ratio: ÷ bare's; cpu→poll: CPU s used by the first getUpdates;"
        " cpu: CPU s of the whole process, to its exit)"
    )
    print("first call of each Bot API method after spawn (median s):")
    for name in names:
        calls = _median_calls(runs, name)
        print(f"  {name:9} " + ", ".join(f"{m} {at:.3f}" for m, at in calls.items()))
    for name, rows in imports.items():
        total = sum(us for us, _ in rows) / 1e6
        print(f"imports of {name} under -X importtime: {total:.3f} s; costliest:")
        for us, module in rows[:12]:
            print(f"  {us / 1e6:7.3f} s  {module}")
    return print_targets(targets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per series (default 7)")
    parser.add_argument("--quick", action="store_true", help="2 runs a series: for CI")
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    parser.add_argument(
        "--importtime", action="store_true", help="also profile imports (-X importtime)"
    )
    parser.add_argument(
        "--before",
        metavar="REV",
        help="also time `yishi run` (database at head) as the code was at git REV",
    )
    parser.add_argument("--phase", choices=["emulator"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "emulator":
        asyncio.run(_serve_emulator())
        return 0
    specs = list(SPECS)
    runs = 2 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="yishi-bench-startup-") as tmp:
        scratch = Path(tmp)
        if args.before is not None:
            specs.append(Spec("before", root=_checkout(args.before, scratch / "before")))
        template = _migrated_template(scratch)
        log(f"{runs} runs of each of {', '.join(s.name for s in specs)}, interleaved")
        results = asyncio.run(bench(specs, runs, template, scratch))
        imports = asyncio.run(importtimes(template, scratch)) if args.importtime else {}
    return report(specs, results, imports, args.json, args.quick)


if __name__ == "__main__":
    sys.exit(main())
