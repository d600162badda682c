# Runs a command under the system call filter a systemd unit would give it, for the deploy tests: a seccomp
# allow list of the given system calls; any other one fails with the given errno, or kills the process when
# no errno is given (systemd's default when SystemCallErrorNumber= is unset). Needs python3-seccomp.
#   seccomp-exec.py ALLOWED_FILE ERRNO_NAME|kill COMMAND [ARG...]
import errno, os, sys
import seccomp

allowed = open(sys.argv[1]).read().split()
action = seccomp.KILL_PROCESS if sys.argv[2] == "kill" else seccomp.ERRNO(getattr(errno, sys.argv[2]))
f = seccomp.SyscallFilter(defaction=action)
for name in allowed:
    try:
        f.add_rule(seccomp.ALLOW, name)
    except (RuntimeError, ValueError):
        pass  # not a system call on this architecture
f.load()
os.execv(sys.argv[3], sys.argv[3:])
