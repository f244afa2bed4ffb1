"""``python -m mxlite.testing.cudasim --asan [pytest args]``: run pytest with every cudasim
module built with AddressSanitizer (the ASan runtime preloaded, leak checks off)."""

import argparse
import subprocess
import sys

from . import asan_environment, asan_runtime


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mxlite.testing.cudasim", description=__doc__)
    parser.add_argument("--asan", action="store_true", required=True, help="sanitize every cudasim module")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest, e.g. tests/test_kernels_cpu.py")
    args = parser.parse_args(argv)
    if asan_runtime() is None:
        print("the AddressSanitizer runtime (libasan) is not installed; Debian/Ubuntu: apt-get install libasan8",
              file=sys.stderr)
        return 2
    pytest_args = [a for a in args.pytest_args if a != "--"]
    return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], env=asan_environment())


if __name__ == "__main__":
    sys.exit(main())
