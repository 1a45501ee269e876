"""Debian packages that some tests need (the repository installs them; nobody does it by hand)."""
import fcntl
import os
import shutil
import subprocess


def ensure_debian_package(command: str, package: str) -> str | None:
    """Return the path of ``command``, installing Debian's ``package`` first if it is missing.

    Installs only as root with apt-get available (CI and the project's machines); elsewhere the
    caller gets None and fails with its own message naming the package.
    """
    path = shutil.which(command)
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        # Two pytest workers may get here at once: one installs at a time.
        with open("/tmp/lecture_code_apt.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = shutil.which(command)
            if path is None:
                env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
                wait = ["-o", "DPkg::Lock::Timeout=600"]  # and not while another apt runs
                subprocess.run(["apt-get", *wait, "update", "-qq"], check=True, env=env)
                subprocess.run(["apt-get", *wait, "install", "-y", "-qq", package], check=True,
                               env=env)
                path = shutil.which(command)
    return path
