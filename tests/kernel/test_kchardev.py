"""CharDevices that wait, poll and run timers in konoha.ko (the language
reference §9.1, §9.2) on 6.1 and 6.12, one QEMU boot per kernel
(tests/kernel/guest/kchardev.sh, driven by tests/kernel/guest/kchwait.c;
scripts examples/fifo.k and tests/kernel/scripts/kwait*.k):

- a reader blocked in read(2) until a writer in another process wakes it
  (kwait, fifo, and dd from the shell);
- poll(2), select(2) and epoll (level and edge triggered): an empty queue
  is writable only, a queued byte makes it readable, and a waiter in each
  is woken by a writer in another process;
- a WaitQueue per open file, registered by poll for epoll and poll(2):
  the open files' queues survive a collection, the released ones' are
  freed (KASAN, on the debug kernel, and a WARN watch those frees);
- O_NONBLOCK, at open or by F_SETFL: EAGAIN at once; fifo.k passes the
  checks of its C peer kref_fifo (kchr fifocheck);
- SIGINT during an await: EINTR, not logged; under SA_RESTART the read
  restarts transparently and gets what a writer sends later (the script
  sees two starts, one interruption); an InterruptedException caught by
  the script makes every later await throw at once and its result stands;
- wakeOne wakes exactly one of two waiters, and a waiter queued behind a
  process in epoll_wait on an EPOLLEXCLUSIVE registration; awaitFor:
  false after its timeout, true when woken, 0 ms at once;
- await outside open/read/write/ioctl: "cannot wait here" in the init, a
  sort comparator, seek (EIO), poll (POLLERR), release, a Device's read
  (EIO) and a Timer's function (one run, then cancelled), logged;
- SIGKILL of a process waiting in read(2) and of one running a callback:
  gone at once, the script serves on;
- 8 processes x 10,000 blocking read+write exchanges of 16-byte messages
  through /dev/fifo with 3 messages in flight (at least 5 processes wait
  in read(2) at any time), every message read exactly once;
- a periodic Timer's count against the clock (never more than one tick a
  period, at least half of them under emulation), with a 20 ms period and
  with a 2 ms one, shorter than a jiffy (the periods the delayed work
  missed run late), a reader woken by it, nothing after cancel;
- an open(2) that waits in the script's open: SIGINT gives EINTR, a
  wake-up lets it through;
- unload: EBUSY while a reader waits, and while an open waits (no file
  yet); with timers active (and 20 load/
  unload cycles of a script whose 5 ms timer runs); while a timer's
  function runs (the unload waits for it, and none starts after); at the
  end no live allocation; rmmod with two scripts still loaded, one of them
  in a timer's function, waits for it and leaks nothing;
- the timers a failed init started never fire;
- the kernel log of the whole boot is clean (test_kernel_log).

KCHARDEV_EXCHANGES sets the exchanges per process (default 10,000, the
full count).
"""

import os
import subprocess

import ktest
import qemu
from kimages import IMAGES, compile_scripts, guest_files

SCRIPTS = ["kwait", "kwait_timer", "kwait_spin", "kwait_badinit",
           "kwait_slowinit"]
EXCHANGES = int(os.environ.get("KCHARDEV_EXCHANGES", "10000"))
ENV_FILE = qemu.BUILD / "kernel" / "kchardev.env"


def prepare() -> None:
    """The scripts' images, examples/fifo.k's, the guest tools and the
    guest's settings."""
    compile_scripts(SCRIPTS)
    subprocess.run(["python3", "-m", "ktc.cli", "compile", "examples/fifo.k",
                    "-o", str(IMAGES / "fifo.kbc")], cwd=qemu.REPO, check=True)
    subprocess.run(["make", "-s", "build/kernel/guest/kchwait",
                    "build/kernel/guest/kchr", "build/kernel/guest/kload"],
                   cwd=qemu.REPO, check=True, capture_output=True)
    ENV_FILE.write_text(f"EXCHANGES={EXCHANGES}\n")


SUITE = ktest.GuestSuite(
    "kchardev",
    modules=["konoha/konoha.ko"],
    files={"ktest/bin/kload": "build/kernel/guest/kload",
           "ktest/bin/kchwait": "build/kernel/guest/kchwait",
           "ktest/bin/kchr": "build/kernel/guest/kchr",
           "ktest/images/fifo.kbc": "build/kernel/images/fifo.kbc",
           "ktest/kchardev.env": "build/kernel/kchardev.env",
           **guest_files(SCRIPTS)},
    build_hint="make kernel-suites",
    prepare=prepare,
    timeout=600,
)

test_boot, test_case, test_kernel_log = SUITE.tests()
