/* SPDX-License-Identifier: BSD-2-Clause */
/* SIOCOUTQ's DPU part from the DPU socket's TCP_INFO (pl_outq.c) */
#ifndef PL_OUTQ_H
#define PL_OUTQ_H

#include <stddef.h>
#include <stdint.h>

void pl_outq_dpu(const void *ti, size_t len, uint64_t *unacked, uint64_t *notsent);

#endif
