// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_sd.c - xtsd's messages to a service manager (sup_sd.h).
 *
 * READY=1 waits for every shard to run, not for the forks: a unit that is
 * "active" then serves every queue, and a shard that cannot start (its
 * queue does not exist, its AF_XDP socket fails) keeps the unit
 * activating until TimeoutStartSec says so, which is what an operator's
 * `systemctl start` should see.  The shards write their state to shared
 * memory, not to xtsd, so until then the loop looks every 20 ms.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sd_notify.h"
#include "sup.h"
#include "sup_sd.h"

#define READY_POLL_MS  20
#define STOP_MARGIN_MS 5000 /* the detach, the socket, a loaded machine */
#define SHARD_KILL_MS  5000 /* sup_stop_shards(): SIGTERM, SIGKILL after 5 s */

static bool managed = true; /* until a send says there is no NOTIFY_SOCKET */
static bool ready, stopping;

static void send_or_log(const char *what, int rc)
{
	if (rc == 0)
		managed = false;
	else if (rc < 0)
		sup_warn("sd_notify %s: %s", what, strerror(-rc));
}

long long sup_sd_run(struct sup *sp, long long now)
{
	unsigned q, up = 0;

	if (!managed || ready || sp->stop_asked)
		return SUP_NEVER;
	for (q = 0; q < sp->cfg->queues; q++) {
		uint32_t st = sup_shard_state(sp, q);

		up += st == XTS_SHARD_RUNNING || st == XTS_SHARD_DRAINING;
	}
	if (up < sp->cfg->queues)
		return now + READY_POLL_MS;
	ready = true;
	send_or_log("READY", xts_sd_notify("READY=1\nSTATUS=%u shards running on %s, "
					   "configuration generation %llu",
					   up, sp->cfg->interface, (unsigned long long)sp->gen));
	if (managed)
		sup_dbg("told the service manager: ready (%u shards running)", up);
	return SUP_NEVER;
}

void sup_sd_reloading(void)
{
	/* before READY=1 the manager is still starting us: nothing to say */
	if (managed && ready)
		send_or_log("RELOADING",
			    xts_sd_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
					  (unsigned long long)xts_sd_monotonic_usec()));
}

void sup_sd_reloaded(uint64_t gen, const char *refused)
{
	if (!managed || !ready)
		return;
	if (refused)
		send_or_log("READY", xts_sd_notify("READY=1\nSTATUS=reload refused, configuration "
						   "generation %llu stays: %s",
						   (unsigned long long)gen, refused));
	else
		send_or_log("READY", xts_sd_notify("READY=1\nSTATUS=configuration generation "
						   "%llu in force",
						   (unsigned long long)gen));
}

void sup_sd_stopping(uint32_t drain_ms)
{
	unsigned long long us =
	    ((unsigned long long)drain_ms + SHARD_KILL_MS + STOP_MARGIN_MS) * 1000;

	if (!managed || stopping)
		return;
	stopping = true;
	send_or_log("STOPPING", xts_sd_notify("STOPPING=1\nEXTEND_TIMEOUT_USEC=%llu\nSTATUS="
					      "draining (at most %u ms), then stopping",
					      us, drain_ms));
}
