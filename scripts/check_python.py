"""Can the interpreter running this make the book's venv, on this machine?

Run by the Makefile (through scripts/find-python.sh) with each candidate interpreter. Exit status:
0, silently, when it can; 3 when this interpreter cannot but another one may (wrong version, no
venv module, PyPy, 32 bits); 4 when no interpreter can on this machine (PyTorch ships no wheels
for it). On 3 and 4 it prints one line: what was found, what is supported, what to do. (Not 1
or 2: those are what an interpreter that cannot run this file at all exits with.)

Written to run under old Pythons too (no f-strings, no annotations) so that it can say what is
wrong with them.
"""

import glob
import os
import platform
import subprocess
import sys

SUPPORTED_PYTHON = "CPython 3.11 (3.11.5 or later), 3.12 or 3.13"
LOWEST, BEYOND = (3, 11, 5), (3, 14)
LINUX_MACHINES = ("x86_64", "aarch64")
GLIBC = (2, 28)  # PyTorch's Linux wheels are manylinux_2_28
MACOS = (14, 0)  # and its macOS wheels macosx_14_0_arm64
INTERPRETER, MACHINE = 3, 4  # exit statuses: another Python may do; none will here
ELSEWHERE = "read it on the web, or run its notebooks on Colab or Binder (README: Set-up)"


def version_tuple(text):
    """'2.36' or '14.5.1' -> (2, 36) or (14, 5, 1); None when it is not one."""
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return None


def glibc_version():
    """The running C library's glibc version; "musl" on a musl system (Alpine); None when unknown."""
    found = None
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION")  # 'glibc 2.36'
    except (AttributeError, OSError, ValueError):
        try:  # old interpreters lack the confstr name
            import ctypes

            version = ctypes.CDLL(None).gnu_get_libc_version
            version.restype = ctypes.c_char_p
            found = "glibc " + version().decode("ascii")
        except (AttributeError, OSError, ImportError):
            found = None
    if found and found.startswith("glibc "):
        return version_tuple(found.split()[1])
    if glob.glob("/lib/ld-musl-*.so.1"):
        return "musl"
    return None


def apple_silicon():
    """Whether this Mac has an arm64 processor, whatever the interpreter was built for."""
    try:
        out = subprocess.check_output(["/usr/sbin/sysctl", "-n", "hw.optional.arm64"], stderr=subprocess.STDOUT)
    except (OSError, subprocess.CalledProcessError):
        return False
    return out.strip() == b"1"


def has_venv():
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        return False
    return True


def facts():
    """What the checks look at, from the running interpreter and machine."""
    return {
        "executable": sys.executable or "this Python",
        "implementation": platform.python_implementation(),
        "version": tuple(sys.version_info[:3]),
        "bits": 64 if sys.maxsize > 2**32 else 32,
        "system": platform.system(),
        "machine": platform.machine(),
        "glibc": glibc_version() if platform.system() == "Linux" else None,
        "macos": version_tuple(platform.mac_ver()[0]) if platform.system() == "Darwin" else None,
        "apple_silicon": apple_silicon() if platform.system() == "Darwin" else False,
        "has_venv": has_venv(),
    }


def dotted(numbers):
    return ".".join(str(n) for n in numbers)


def problem(f):
    """(status, message) for the facts f: (0, '') when the venv can be made."""
    system, machine = f["system"], f["machine"]
    where = "%s %s" % ({"Darwin": "macOS"}.get(system, system), machine)
    # The machine first: no other interpreter fixes it.
    if system == "Windows" or system.startswith(("CYGWIN", "MSYS", "MINGW")):
        return MACHINE, (
            "this is Windows (%s): the Makefile runs on Linux and macOS. Use WSL 2 (README: On Windows) "
            "and run the same commands there" % system
        )
    if system == "Linux":
        if machine not in LINUX_MACHINES:
            return MACHINE, "PyTorch ships Linux wheels for %s only, not for %s; %s" % (
                " and ".join(LINUX_MACHINES),
                machine,
                ELSEWHERE,
            )
        if f["glibc"] == "musl":
            return MACHINE, (
                "this Linux's C library is musl (Alpine?), not glibc: PyTorch's Linux wheels need glibc %s "
                "or later. Use a glibc distribution (Debian, Ubuntu, Fedora) or a container of one" % dotted(GLIBC)
            )
        if isinstance(f["glibc"], tuple) and f["glibc"] < GLIBC:
            return (
                MACHINE,
                "glibc %s: PyTorch's Linux wheels need glibc %s or later (Debian 10, Ubuntu 18.10 on); %s"
                % (
                    dotted(f["glibc"]),
                    dotted(GLIBC),
                    ELSEWHERE,
                ),
            )
    elif system == "Darwin":
        if machine != "arm64":
            if f["apple_silicon"]:
                return INTERPRETER, (
                    "%s is an x86_64 build running under Rosetta 2: PyTorch ships macOS wheels for arm64 "
                    "only. Use an arm64 (native) Python, for example from python.org or Homebrew in /opt/homebrew"
                    % f["executable"]
                )
            return (
                MACHINE,
                "macOS on an Intel (x86_64) Mac: PyTorch ships macOS wheels for Apple silicon (arm64) only; %s"
                % (ELSEWHERE),
            )
        if f["macos"] is not None and f["macos"] < MACOS:
            return MACHINE, "macOS %s: PyTorch's macOS wheels need macOS %s (Sonoma) or later; update macOS, or %s" % (
                dotted(f["macos"]),
                dotted(MACOS),
                ELSEWHERE,
            )
    else:
        return (
            MACHINE,
            "PyTorch ships no wheels for %s; the book installs on Linux, macOS (Apple silicon) and WSL; %s"
            % (
                where,
                ELSEWHERE,
            ),
        )
    # Then the interpreter: another one may do.
    found = "%s is %s %s (%d-bit)" % (f["executable"], f["implementation"], dotted(f["version"]), f["bits"])
    if f["implementation"] != "CPython" or not (LOWEST <= f["version"] < BEYOND) or f["bits"] != 64:
        return INTERPRETER, "%s; the book needs 64-bit %s" % (found, SUPPORTED_PYTHON)
    if not f["has_venv"]:
        return INTERPRETER, "%s but has no venv module (on Debian and Ubuntu: apt-get install python%d.%d-venv)" % (
            found,
            f["version"][0],
            f["version"][1],
        )
    return 0, ""


def main():
    status, message = problem(facts())
    if status:
        sys.stderr.write(message + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
