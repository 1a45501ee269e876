"""Run untrusted notebook code in a bubblewrap sandbox with hard resource limits.

What the sandboxed process sees: ``/usr`` and ``/etc`` read-only, fresh ``/proc`` and minimal
``/dev``, a size-limited ``/tmp`` and a size-limited working folder ``/work`` (tmpfs: thrown
away with the sandbox) holding only the job file and the student's notebook, and -- mounted on
top, read-only, each at its own path -- the Python installation that runs the grader
(:class:`PythonEnvironment`: a venv anywhere, a conda environment or the system Python; the
sandbox starts that environment's own interpreter, so it sees the same packages). Not visible: the repository (so neither the source notebooks with the answers and the
hidden tests nor ``lecture_code``), the submissions folder, the grades, the home directories.
No network (own network namespace with only a downed loopback), own PID/IPC/UTS namespaces.

Limits: ``RLIMIT_AS`` (memory), ``RLIMIT_NPROC`` (processes; effective because the code runs as
an unprivileged user id, see below), ``RLIMIT_CORE=0``, and ``RLIMIT_FSIZE`` (set by the runner
itself before the first cell, so that bwrap can still copy a large notebook in); output on
stdout/stderr is counted by the grader and the sandbox is killed past ``max_output`` bytes;
a wall-clock watchdog kills the whole sandbox (SIGKILL to its process group; ``--die-with-parent``
and the PID namespace take every descendant with it).

Users: run as root (a container), bwrap runs privileged without a user namespace and the code
drops to uid/gid 65534 with ``setpriv`` inside (so ``RLIMIT_NPROC`` counts only the sandbox's
processes; root would be exempt from it); parallel sandboxes get uids of their own
(:func:`sandbox_uid`). Run as an ordinary user, bwrap uses an unprivileged
user namespace and the process limit is that user's current count plus ``max_processes``.
If bubblewrap is missing or cannot create the sandbox, :class:`SandboxUnavailable` is raised:
there is no unsandboxed fallback.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import resource
import shutil
import signal
import site
import subprocess
import sys
import threading
import time
from pathlib import Path

SANDBOX_UID = 65534          # nobody: the first (or only) sandbox at a time
SANDBOX_UID_BASE = 200000   # parallel sandboxes 1, 2, ... run as 200001, 200002, ...
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `apt-get install -y bubblewrap`; "
                "Fedora: `dnf install bubblewrap`)")


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made here; grading refuses to run untrusted code without one."""


@dataclasses.dataclass(frozen=True)
class Limits:
    cell_timeout: float = 30.0        # seconds per cell (an alarm inside, then the watchdog)
    call_timeout: float = 10.0        # seconds per call of a student function by a test
    notebook_timeout: float = 180.0   # seconds for the whole run, then SIGKILL
    memory: int = 3 * 1024 ** 3       # bytes of address space
    max_processes: int = 32
    max_output: int = 2 * 1024 ** 2   # bytes printed to stdout/stderr
    max_file: int = 16 * 1024 ** 2    # bytes per file written, and size of /work and /tmp
    max_results: int = 64 * 1024 ** 2  # bytes of results sent back


@dataclasses.dataclass
class RunResult:
    events: list
    output: bytes
    output_truncated: bool
    killed_reason: str | None         # "timeout", "output", "results" or None
    returncode: int | None
    seconds: float
    results_error: str | None = None


#: Run by an interpreter (in this process or another) to say what the sandbox must mount for it.
_DESCRIBE = r"""
import json, os, site, sys
def pth_dirs(sitedir):
    found = []
    try:
        names = sorted(n for n in os.listdir(sitedir) if n.endswith(".pth"))
    except OSError:
        return found
    for name in names:
        try:
            lines = open(os.path.join(sitedir, name), encoding="utf-8").read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            line = line.strip()
            if line and not line.startswith(("#", "import ", "import\t")):
                path = os.path.join(sitedir, line)
                if os.path.isdir(path):
                    found.append(path)
    return found
sites = [p for p in site.getsitepackages() if os.path.isdir(p)]
user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
if user_site and user_site in sys.path and os.path.isdir(user_site):
    sites.append(user_site)
else:
    user_site = None
links, exe = [], sys.executable
while os.path.islink(exe) and len(links) < 40:
    links.append(os.path.dirname(exe))
    exe = os.path.join(os.path.dirname(exe), os.readlink(exe))
links.append(os.path.dirname(os.path.realpath(exe)))
DESCRIPTION = {
    "executable": sys.executable, "prefix": sys.prefix,
    "prefixes": [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix],
    "sites": sites, "pth": [d for s in sites for d in pth_dirs(s)], "links": links,
    "user_base": site.getuserbase() if user_site else None,
    "version": sys.version.split()[0],
}
"""


@dataclasses.dataclass(frozen=True)
class PythonEnvironment:
    """The Python installation a sandbox runs: an interpreter and the directories it reads.

    ``executable`` is the interpreter as invoked -- a virtual environment's ``bin/python``, not
    the base interpreter it links to, which would not know the venv's packages. ``directories``
    are mounted read-only at their own paths: the prefixes (venv, base installation), the
    site-packages folders, the folders that their ``.pth`` files add, and the folders of the
    interpreter's symlink chain. Nothing else of the host is visible.
    """
    executable: str
    prefix: str
    version: str
    directories: tuple[str, ...]
    user_base: str | None = None       # set when packages come from the user site (pip --user)
    aliases: tuple[tuple[str, str], ...] = ()   # (path as used, real path) for symlinked folders

    @classmethod
    def current(cls, hidden=()) -> "PythonEnvironment":
        """The environment running this process (the grader's own)."""
        namespace: dict = {}
        exec(_DESCRIBE, namespace)
        return cls._from(namespace["DESCRIPTION"], hidden)

    @classmethod
    def of(cls, python: str | os.PathLike, hidden=()) -> "PythonEnvironment":
        """The environment of another interpreter (asked in a subprocess)."""
        import json
        script = _DESCRIBE + "\nprint(json.dumps(DESCRIPTION))"
        try:
            done = subprocess.run([os.fspath(python), "-c", script], capture_output=True,
                                  text=True, timeout=60)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start the interpreter {python}: {exc}") from None
        if done.returncode != 0:
            raise SandboxUnavailable(f"the interpreter {python} failed: {done.stderr.strip()}")
        return cls._from(json.loads(done.stdout.splitlines()[-1]), hidden)

    @classmethod
    def _from(cls, d: dict, hidden) -> "PythonEnvironment":
        secret = [os.path.realpath(p) for p in (_repository(), *hidden)]

        def overlaps(path):      # mounting path would show a secret (a venv *inside* is fine)
            return any(s == path or s.startswith(path + os.sep) for s in secret)
        required = {os.path.realpath(p) for p in d["prefixes"] + d["sites"] + d["links"]}
        optional = {os.path.realpath(p) for p in d["pth"]} - required
        dirs = []
        for path in sorted(required | optional):
            if path in ("/", "/usr") or path.startswith("/usr/"):
                continue                                   # /usr is mounted anyway
            if path in ("/tmp", "/work", "/proc", "/dev", "/grader"):
                raise SandboxUnavailable(
                    f"the Python installation uses {path} itself, which the sandbox replaces: "
                    "create the environment in a folder of its own")
            if overlaps(path):
                if path in optional:                       # e.g. the editable install's .pth
                    continue
                raise SandboxUnavailable(
                    f"the Python installation's folder {path} overlaps {_first_overlap(path, secret)}"
                    ", which the sandbox must not see (mounting it would show the answers or "
                    "other submissions): create the environment outside the repository and "
                    "the submissions folder")
            dirs.append(path)
        outermost = [p for p in dirs if not any(p.startswith(o + os.sep) for o in dirs)]
        aliases = {(os.path.abspath(p), os.path.realpath(p)) for p in d["prefixes"] + d["sites"]}
        aliases = sorted((used, real) for used, real in aliases
                         if used != real and os.path.realpath(used) in dirs
                         and not any(used.startswith(o + os.sep) for o in outermost))
        return cls(executable=d["executable"], prefix=d["prefix"], version=d["version"],
                   directories=tuple(outermost), user_base=d.get("user_base"),
                   aliases=tuple(aliases))

    def describe(self) -> str:
        return f"Python {self.version} at {self.prefix} ({self.executable})"


def _repository() -> str:
    return os.path.realpath(Path(__file__).resolve().parents[2])


def _first_overlap(path: str, secret: list[str]) -> str:
    return next(s for s in secret if s == path or s.startswith(path + os.sep))


def check_available() -> str:
    """Path of ``bwrap``, after checking that a sandbox can actually be created here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed, so student code cannot "
                                 f"be sandboxed and grading refuses to run: {INSTALL_HINT}")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        raise SandboxUnavailable("`setpriv` (util-linux) is needed to drop root in the sandbox")
    _probe_bwrap(bwrap)
    return bwrap


@functools.lru_cache(maxsize=None)
def _probe_bwrap(bwrap: str) -> None:
    probe = subprocess.run(_bwrap_command(bwrap, 1 << 24, environment=_NO_PYTHON) + ["/bin/true"],
                           capture_output=True, timeout=30)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            "bubblewrap is installed but cannot create a sandbox here "
            f"({probe.stderr.decode(errors='replace').strip()}). As an ordinary user it needs "
            "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / "
            "user.max_user_namespaces > 0); in a container, run the grader as root or allow "
            "user namespaces. Grading refuses to run without a sandbox")


_NO_PYTHON = PythonEnvironment(executable="/bin/true", prefix="", version="", directories=())


def sandbox_uid(slot: int = 0) -> int:
    """The user id sandbox ``slot`` runs as. As root, an unprivileged id of its own (one per
    parallel job, so that one job's processes never count against another's process limit);
    as an ordinary user, that user (bwrap maps it into its user namespace)."""
    if os.geteuid() != 0:
        return os.getuid()
    return SANDBOX_UID if slot == 0 else SANDBOX_UID_BASE + slot


def _bwrap_command(bwrap: str, tmp_size: int, files: dict[str, int] | None = None, *,
                   environment: PythonEnvironment, uid: int = SANDBOX_UID) -> list[str]:
    root = os.geteuid() == 0
    cmd = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
           "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if root:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin", "lib32"):
        path = Path("/" + name)
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), "/" + name]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), "/" + name]
    cmd += ["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev",
            "--size", str(tmp_size), "--perms", "1777", "--tmpfs", "/tmp",
            "--size", str(tmp_size), "--perms", "1777", "--tmpfs", "/work"]
    # The Python installation goes on top of the private /tmp and /work (a venv under /tmp
    # stays visible), each folder at its own path, read-only.
    made = {"/tmp", "/work"}

    def parents_of(path: str) -> list[str]:              # the folders to create first
        new = [str(p) for p in list(Path(path).parents)[::-1][1:] if str(p) not in made]
        made.update(new)
        return [arg for p in new for arg in ("--perms", "0755", "--dir", p)]
    for d in environment.directories:
        cmd += parents_of(d) + ["--ro-bind", d, d]
    for used, real in environment.aliases:                 # e.g. /home -> /data/home
        cmd += parents_of(used) + ["--symlink", real, used]
    for dest, fd in (files or {}).items():
        cmd += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
    cmd += ["--chdir", "/work", "--clearenv",
            "--setenv", "HOME", "/work", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
            "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "MKL_NUM_THREADS", "1",
            "--setenv", "MPLBACKEND", "Agg", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "PYTHONHASHSEED", "0", "--setenv", "TMPDIR", "/tmp"]
    if environment.user_base:
        cmd += ["--setenv", "PYTHONUSERBASE", environment.user_base]
    if root:
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return cmd


def python_command(environment: PythonEnvironment) -> list[str]:
    """The interpreter's command line in the sandbox (``-s`` unless packages are in the user
    site, which then comes from the host's read-only copy)."""
    return [environment.executable] + ([] if environment.user_base else ["-s"])


def _count_processes(uid: int) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _limits_preexec(limits: Limits, nproc: int):
    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return apply


def run(job_json: bytes, notebook_bytes: bytes, limits: Limits, *,
        environment: PythonEnvironment | None = None, slot: int = 0) -> RunResult:
    """Run the sandboxed runner on one job; never raises for anything the student code does.

    ``environment`` is the Python installation to run (default: this process's own);
    ``slot`` numbers concurrent sandboxes (each gets its own user id, see :func:`sandbox_uid`).
    """
    bwrap = check_available()
    environment = environment or PythonEnvironment.current()
    runner = Path(__file__).with_name("_runner.py").read_bytes()
    files, pipes = {}, []
    for dest, data in (("/work/job.json", job_json), ("/work/submission.ipynb", notebook_bytes),
                       ("/grader/runner.py", runner)):
        r, w = map(_high, os.pipe())
        files[dest] = r
        pipes.append((r, w, data))
    results_r, results_w = map(_high, os.pipe())
    uid = sandbox_uid(slot)
    nproc = limits.max_processes + _count_processes(uid)
    cmd = _bwrap_command(bwrap, limits.max_file, files, environment=environment, uid=uid)
    # the runner writes its results to the descriptor it is given (inherited through bwrap)
    cmd += python_command(environment) + ["/grader/runner.py", str(results_w)]
    pass_fds = tuple(sorted(set(files.values()) | {results_w}))
    start = time.monotonic()
    writers = []
    for r, w, data in pipes:
        t = threading.Thread(target=_feed, args=(w, data), daemon=True)
        writers.append(t)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, pass_fds=pass_fds,
                            preexec_fn=_limits_preexec(limits, nproc))
    for r, _, _ in pipes:
        os.close(r)
    os.close(results_w)
    for t in writers:
        t.start()

    state = {"killed": None}
    output = bytearray()
    events: list = []
    results_bytes = [0]
    results_error = [None]

    def kill(reason):
        if state["killed"] is None:
            state["killed"] = reason
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def read_output():
        total = 0
        while True:
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(65536)
            if not chunk:
                break
            total += len(chunk)
            if len(output) < 64 * 1024:
                output.extend(chunk[:64 * 1024 - len(output)])
            if total > limits.max_output:
                kill("output")
                break

    def read_results():
        buffer = b""
        with os.fdopen(results_r, "rb", buffering=0) as f:
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                results_bytes[0] += len(chunk)
                if results_bytes[0] > limits.max_results:
                    kill("results")
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        event = _parse_event(line)
                    except ValueError as exc:
                        results_error[0] = str(exc)
                        continue
                    event["time"] = time.monotonic()
                    events.append(event)

    readers = [threading.Thread(target=read_output, daemon=True),
               threading.Thread(target=read_results, daemon=True)]
    for t in readers:
        t.start()
    deadline = start + limits.notebook_timeout
    while proc.poll() is None:
        now = time.monotonic()
        if now > deadline:
            kill("timeout")
            break
        last = events[-1] if events else None
        if last is not None and last["event"] in ("cell_start", "call_start"):
            allowed = limits.cell_timeout if last["event"] == "cell_start" else limits.call_timeout
            if now - last["time"] > allowed + 2.0:         # the alarm inside did not end it
                kill("timeout")
                break
        time.sleep(0.05)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        kill(state["killed"] or "timeout")
        proc.wait()
    for t in readers:
        t.join(timeout=5)
    return RunResult(events=events, output=bytes(output),
                     output_truncated=state["killed"] == "output", killed_reason=state["killed"],
                     returncode=proc.returncode, seconds=time.monotonic() - start,
                     results_error=results_error[0])


def _high(fd: int) -> int:
    """Move a descriptor to 10 or above, clear of the standard streams and of bwrap's own."""
    import fcntl
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


def _feed(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError:
        pass


def _parse_event(line: bytes) -> dict:
    import json
    try:
        event = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable result line ({exc.__class__.__name__})") from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise ValueError("malformed result line")
    return event


#: What the sandboxed runner and the assignments import.
NEEDED_MODULES = ("torch", "numpy", "IPython")

_PROBE = r"""
import json, sys
report = {"executable": sys.executable, "prefix": sys.prefix, "modules": {}}
for name in MODULES:
    try:
        module = __import__(name)
        if getattr(module, "__file__", None) is None:   # an unreadable folder imports empty
            raise ImportError("it imports as an empty namespace package")
        report["modules"][name] = {"version": getattr(module, "__version__", "?")}
    except BaseException as exc:
        report["modules"][name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
try:
    import numpy, torch
    x = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    report["computation"] = float(numpy.trace((x @ x.T).numpy()))
except BaseException as exc:
    report["computation_error"] = f"{type(exc).__name__}: {exc}"[:300]
print("PROBE " + json.dumps(report))
"""
_PROBE_ANSWER = 55.0     # trace of x xᵀ for x = [[0, 1, 2], [3, 4, 5]]


def check_environment(environment: PythonEnvironment | None = None,
                      modules: tuple[str, ...] = NEEDED_MODULES,
                      limits: Limits | None = None) -> str:
    """Prove that the sandbox can grade: run ``environment``'s interpreter inside it, import
    ``modules`` there and compute one small tensor product.

    Returns a one-paragraph report; raises :class:`SandboxUnavailable` naming what is missing
    and why: not installed in that environment, installed but not visible (or not readable) in
    the sandbox, or a different interpreter started there.
    """
    import json
    bwrap = check_available()
    environment = environment or PythonEnvironment.current()
    limits = limits or Limits()
    # 1. on the host, with the same interpreter: is each module installed at all?
    where = subprocess.run(
        [environment.executable, "-c", "import importlib.util as u, json, sys; print(json.dumps("
         "{m: (s.origin if (s := u.find_spec(m)) else None) for m in sys.argv[1:]}))", *modules],
        capture_output=True, text=True, timeout=120)
    if where.returncode != 0:
        raise SandboxUnavailable(f"the interpreter {environment.executable} does not run: "
                                 f"{where.stderr.strip()[-300:]}")
    origins = json.loads(where.stdout)
    missing = [m for m in modules if origins[m] is None]
    if missing:
        raise SandboxUnavailable(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed in the "
            f"Python environment {environment.describe()}: install the "
            f"requirements there (`{environment.executable} -m pip install -r requirements.txt`)"
            " or run the grader with the interpreter that has them")
    # 2. in the sandbox
    script = f"MODULES = {tuple(modules)!r}\n" + _PROBE
    cmd = (_bwrap_command(bwrap, limits.max_file, environment=environment,
                          uid=sandbox_uid())
           + python_command(environment) + ["-c", script])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          preexec_fn=_limits_preexec(limits, limits.max_processes + 64))
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("PROBE ")), None)
    mounted = ", ".join(environment.directories) or "(none)"
    if line is None:
        raise SandboxUnavailable(
            f"the interpreter {environment.executable} could not run in the sandbox (exit code "
            f"{done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}); the sandbox "
            f"mounts {mounted}")
    report = json.loads(line[len("PROBE "):])
    if os.path.realpath(report["prefix"]) != os.path.realpath(environment.prefix):
        raise SandboxUnavailable(
            f"wrong interpreter in the sandbox: it ran {report['executable']} (environment "
            f"{report['prefix']}) instead of {environment.executable} ({environment.prefix})")
    for name in modules:
        error = report["modules"][name].get("error")
        if error is None:
            continue
        origin = os.path.realpath(origins[name])
        if not any(origin.startswith(d + os.sep) for d in environment.directories + ("/usr",)):
            why = (f"it is installed at {origins[name]}, outside the folders the sandbox mounts "
                   f"({mounted})")
        else:
            why = (f"it is installed at {origins[name]}, which the sandbox mounts but cannot read "
                   f"as an unprivileged user ({error}); make the environment world-readable "
                   f"(`chmod -R a+rX {environment.prefix}`)")
        raise SandboxUnavailable(f"{name} is not visible in the sandbox: {why}")
    if report.get("computation") != _PROBE_ANSWER:
        raise SandboxUnavailable("the sandbox imported torch and numpy but a small tensor "
                                 "computation failed there: "
                                 f"{report.get('computation_error', report.get('computation'))}")
    versions = ", ".join(f"{m} {report['modules'][m]['version']}" for m in modules)
    return (f"sandbox OK: bubblewrap {bwrap}; {environment.describe()}; in the sandbox "
            f"{versions} imported and a tensor computation gave the right result")
