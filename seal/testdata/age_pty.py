# Drives "age -d" through a pseudo-terminal: the age CLI reads passphrases
# from the terminal only. Usage: age_pty.py PASSPHRASE IN.age OUT
import os, pty, sys, time, select
pw, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("age", ["age", "-d", "-o", dst, src])
buf = b""
deadline = time.time() + 30
sent = False
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if fd in r:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
        if not sent and b"passphrase" in buf.lower():
            os.write(fd, pw.encode() + b"\r")
            sent = True
    else:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            sys.exit(os.waitstatus_to_exitcode(status))
_, status = os.waitpid(pid, 0)
sys.stderr.write(buf.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
