// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-reg-hold - stand in for a shard that dies holding the listener
 * registry's lock in the middle of an update, with no hook in xtsd or the
 * shards: map xtsd's control region from outside and do what a writer
 * does, then wait to be SIGKILLed.
 *
 *   xts-reg-hold XTSD_PID PORT
 *
 * The region is xtsd's memfd ("xts-ctl"), mapped MAP_SHARED before it
 * forks the shards; as root, /proc/PID/map_files/ opens that very
 * mapping.  The tool checks the header and the registry (magic, version,
 * sizes), takes the registry's robust mutex (reg_lock), begins an update
 * of a free entry (reg_ent_begin: journal written, gen odd) and writes
 * half of a listener for PORT into it, prints
 *   holding the registry lock: slot S, port PORT
 * and pauses.  Killed there, it leaves the mutex EOWNERDEAD and the
 * journal valid: what a shard SIGKILLed mid-update leaves.  Exit 1 (with
 * a line on stderr) when the region cannot be found, mapped or locked,
 * 2 on usage; a SIGALRM after 120 s ends a hold nobody killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xts_reg.h"
#include "xts_shm.h"

static int die(const char *what, int err)
{
	fprintf(stderr, "xts-reg-hold: %s: %s\n", what, strerror(err));
	return 1;
}

/* xtsd's control region, mapped here: its base and size, or NULL. */
static void *map_region(const char *pid, size_t *size)
{
	char path[128], line[512], range[64];
	unsigned long lo, hi;
	void *base = NULL;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (!base && fgets(line, sizeof(line), f)) {
		if (!strstr(line, "/memfd:xts-ctl") || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		snprintf(range, sizeof(range), "%lx-%lx", lo, hi);
		snprintf(path, sizeof(path), "/proc/%s/map_files/%s", pid, range);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			break;
		*size = hi - lo;
		base = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (base == MAP_FAILED)
			base = NULL;
	}
	fclose(f);
	return base;
}

int main(int argc, char **argv)
{
	const struct xts_shm_hdr *h;
	struct xts_reg *r;
	struct reg_ent *e;
	uint32_t slot;
	size_t size = 0;
	long port;
	int err;

	if (argc != 3 || (port = strtol(argv[2], NULL, 10)) <= 0 || port > 65535) {
		fprintf(stderr, "usage: xts-reg-hold XTSD_PID PORT\n");
		return 2;
	}
	h = map_region(argv[1], &size);
	if (!h)
		return die("xtsd's control region (memfd xts-ctl) in /proc/PID/map_files",
			   errno ? errno : ENOENT);
	if (size < sizeof(*h) || h->magic != XTS_SHM_MAGIC || h->version != XTS_SHM_VERSION ||
	    !h->reg_size || (uint64_t)h->reg_off + h->reg_size > size)
		return die("control region", EINVAL);
	r = (struct xts_reg *)((char *)h + h->reg_off);
	if (reg_check(r, h->reg_size))
		return die("listener registry", EINVAL);
	alarm(120);
	err = reg_lock(r);
	if (err)
		return die("reg_lock", -err);
	for (slot = 0; slot < r->nslots && r->ent[slot].state != REG_FREE; slot++)
		;
	if (slot == r->nslots)
		return die("a free registry entry", ENOSPC);
	e = reg_ent_begin(r, slot);
	e->state = REG_LISTEN;
	e->family = AF_INET;
	e->port = (uint16_t)port; /* and nothing else: half an entry */
	printf("holding the registry lock: slot %u, port %ld\n", slot, port);
	fflush(stdout);
	for (;;)
		pause();
}
