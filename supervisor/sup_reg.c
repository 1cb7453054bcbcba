// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_reg.c - the listener registry's area in xtsd's shared region.
 *
 * xts_shm_format() lays out the control plane and leaves the registry's
 * offset after the last part; xtsd sizes the region with sup_reg_bytes()
 * more and, before it forks, formats the registry there (the mutex is
 * initialised once, process-shared and robust: see include/xts_reg.h).
 * Its size is fixed for xtsd's life: limits.listeners per queue.
 */
#include <errno.h>

#include "sup.h"
#include "xts_reg.h"

static uint32_t reg_slots(const struct cfg *c)
{
	uint64_t n = (uint64_t)c->queues * (c->run.listeners ? c->run.listeners : 1);

	return n > 1u << 20 ? 1u << 20 : (uint32_t)n;
}

uint64_t sup_reg_bytes(const struct cfg *c)
{
	return (reg_size(reg_slots(c)) + XTS_SHM_CACHELINE - 1) &
	       ~(uint64_t)(XTS_SHM_CACHELINE - 1);
}

int sup_reg_format(void *shm, const struct cfg *c)
{
	struct xts_shm_hdr *h = shm;
	int err;

	err = reg_format((struct xts_reg *)((char *)shm + h->reg_off), reg_slots(c));
	if (err)
		return err;
	h->reg_size = (uint32_t)sup_reg_bytes(c);
	h->size = h->reg_off + h->reg_size;
	return 0;
}
