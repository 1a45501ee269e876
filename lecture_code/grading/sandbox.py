"""Run untrusted notebook code in a bubblewrap sandbox with hard resource limits.

What the sandboxed process sees: ``/usr`` and ``/etc`` read-only, the Python installation
read-only (the directories of ``sys.prefix``/``sys.base_prefix`` and the site-packages), fresh
``/proc`` and minimal ``/dev``, a size-limited ``/tmp`` and a size-limited working folder
``/work`` (a tmpfs: thrown away with the sandbox) holding only the job file and the student's
notebook. Not visible: the repository (so neither the source notebooks with the answers and the
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
processes; root would be exempt from it). Run as an ordinary user, bwrap uses an unprivileged
user namespace and the process limit is that user's current count plus ``max_processes``.
If bubblewrap is missing or cannot create the sandbox, :class:`SandboxUnavailable` is raised:
there is no unsandboxed fallback.
"""
from __future__ import annotations

import dataclasses
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

SANDBOX_UID = 65534
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


def _python_dirs() -> list[str]:
    dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for p in site.getsitepackages() + [site.getusersitepackages()]:
        if os.path.isdir(p):
            dirs.add(os.path.realpath(p))
    dirs.add(os.path.dirname(os.path.realpath(sys.executable)))
    # keep only the outermost directories, and nothing that is (or holds) the repository
    repo = os.path.realpath(Path(__file__).resolve().parents[2])
    out = []
    for d in sorted(dirs):
        if any(d.startswith(o + os.sep) for o in out) or d in ("/", "/usr"):
            continue
        if repo.startswith(d + os.sep) or d == repo:
            raise SandboxUnavailable(f"the Python installation {d} contains the repository {repo}: "
                                     "mounting it would show the answers to the sandbox")
        out.append(d)
    return out


def check_available() -> str:
    """Path of ``bwrap``, after checking that a sandbox can actually be created here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed, so student code cannot "
                                 f"be sandboxed and grading refuses to run: {INSTALL_HINT}")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        raise SandboxUnavailable("`setpriv` (util-linux) is needed to drop root in the sandbox")
    probe = subprocess.run(_bwrap_command(bwrap, 1 << 24) + ["/bin/true"],
                           capture_output=True, timeout=30)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            "bubblewrap is installed but cannot create a sandbox here "
            f"({probe.stderr.decode(errors='replace').strip()}). As an ordinary user it needs "
            "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / "
            "user.max_user_namespaces > 0); in a container, run the grader as root or allow "
            "user namespaces. Grading refuses to run without a sandbox")
    return bwrap


def _bwrap_command(bwrap: str, tmp_size: int, files: dict[str, int] | None = None) -> list[str]:
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
    cmd += ["--ro-bind", "/etc", "/etc"]
    made = set()
    for d in _python_dirs():
        if d.startswith("/usr/"):
            continue
        parents = list(Path(d).parents)[::-1][1:]     # without "/"
        for parent in parents:
            if str(parent) not in made:
                cmd += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        cmd += ["--ro-bind", d, d]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--size", str(tmp_size), "--perms", "1777", "--tmpfs", "/tmp",
            "--size", str(tmp_size), "--perms", "1777", "--tmpfs", "/work"]
    for dest, fd in (files or {}).items():
        cmd += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
    cmd += ["--chdir", "/work", "--clearenv",
            "--setenv", "HOME", "/work", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
            "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "MKL_NUM_THREADS", "1",
            "--setenv", "MPLBACKEND", "Agg", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "PYTHONHASHSEED", "0", "--setenv", "TMPDIR", "/tmp"]
    if root:
        cmd += ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return cmd


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


def run(job_json: bytes, notebook_bytes: bytes, limits: Limits) -> RunResult:
    """Run the sandboxed runner on one job; never raises for anything the student code does."""
    bwrap = check_available()
    runner = Path(__file__).with_name("_runner.py").read_bytes()
    files, pipes = {}, []
    for dest, data in (("/work/job.json", job_json), ("/work/submission.ipynb", notebook_bytes),
                       ("/grader/runner.py", runner)):
        r, w = map(_high, os.pipe())
        files[dest] = r
        pipes.append((r, w, data))
    results_r, results_w = map(_high, os.pipe())
    if os.geteuid() == 0:
        nproc = limits.max_processes + _count_processes(SANDBOX_UID)
    else:
        nproc = limits.max_processes + _count_processes(os.getuid())
    cmd = _bwrap_command(bwrap, limits.max_file, files)
    cmd += [os.path.realpath(sys.executable), "-s", "/grader/runner.py"]
    # fd 3 inside = the results pipe (dup2'ed there after fork; 3 must be in the keep-list)
    pass_fds = tuple(sorted(set(files.values()) | {results_w, 3}))
    start = time.monotonic()
    writers = []
    for r, w, data in pipes:
        t = threading.Thread(target=_feed, args=(w, data), daemon=True)
        writers.append(t)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, pass_fds=pass_fds,
                            preexec_fn=_dup_results(results_w, _limits_preexec(limits, nproc)))
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


def _dup_results(fd: int, then):
    def preexec():
        then()
        os.dup2(fd, 3)
        os.set_inheritable(3, True)
    return preexec


def _high(fd: int) -> int:
    """Move a descriptor to 10 or above, so that it cannot collide with the child's fd 3."""
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
