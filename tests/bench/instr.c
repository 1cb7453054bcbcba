// SPDX-License-Identifier: BSD-2-Clause
/*
 * instr.c - instructions per operation, a figure that does not move with
 * the machine's load: wall-clock and CPU-time figures on a shared 2-core
 * VM move by tens of percent from run to run, instruction counts of a
 * fixed number of operations do not.
 *
 * Two methods, named with every figure:
 *   perf       the PMU's instruction counter for this process, user and
 *              kernel (what `perf stat -e instructions` counts), read
 *              around the counted operations only.  Needs a PMU: many VMs
 *              have none (perf_event_open fails, ENOENT or EOPNOTSUPP).
 *   callgrind  valgrind --tool=callgrind --collect-atstart=no
 *              --toggle-collect=bench_counted: user-space instructions of
 *              the counted operations (the kernel's are not seen), the
 *              same from run to run.  run-bench reads the total from the
 *              callgrind output file.
 * `xts-bench instr` says which one this machine has.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

int bench_instr_open(void)
{
	struct perf_event_attr a = {
	    .type = PERF_TYPE_HARDWARE,
	    .size = sizeof(a),
	    .config = PERF_COUNT_HW_INSTRUCTIONS,
	    .disabled = 1,
	    .exclude_hv = 1,
	};
	long fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

/* Not inlined, and named: callgrind collects only while it runs. */
__attribute__((noinline)) uint64_t bench_counted(int pfd, void (*fn)(void *), void *arg)
{
	uint64_t n = 0;

	if (pfd >= 0) {
		ioctl(pfd, PERF_EVENT_IOC_RESET, 0);
		ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0);
	}
	fn(arg);
	if (pfd >= 0) {
		ioctl(pfd, PERF_EVENT_IOC_DISABLE, 0);
		if (read(pfd, &n, sizeof(n)) != (ssize_t)sizeof(n))
			bench_die("read(perf counter)", errno);
	}
	return n;
}

int bench_instr_main(int argc, char **argv)
{
	int fd = bench_instr_open();

	(void)argc;
	(void)argv;
	if (fd >= 0) {
		close(fd);
		printf("perf\n");
		return 0;
	}
	printf("callgrind (perf_event_open instructions: %s)\n", strerror(-fd));
	return 0;
}
