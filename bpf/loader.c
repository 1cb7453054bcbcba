// SPDX-License-Identifier: BSD-2-Clause
/*
 * loader.c - attach, find and detach the XTS XDP program (xts_xdp_loader.h).
 *
 * No bpffs pinning: `ip netns exec` mounts a fresh /sys for each namespace,
 * so a pin made in one shell is not seen from another.  The program that is
 * attached to the interface is the shared state instead: whoever comes
 * second (xtsd after a restart, a second host process) finds it with
 * bpf_xdp_query_id() and reaches its maps through the program's map ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xts_xdp_loader.h"
#include "xts_xdp.skel.h"

/* libbpf 1.1 (Debian 12) has no bpf_prog_get_info_by_fd() and
 * bpf_map_get_info_by_fd() yet; the generic call does the same. */
#define prog_info(fd, info, len) bpf_obj_get_info_by_fd(fd, info, len)
#define map_info(fd, info, len)	 bpf_obj_get_info_by_fd(fd, info, len)

/* read_stats() reads the per-CPU values straight into an array of these:
 * the kernel lays each CPU's value out 8-byte aligned. */
_Static_assert(sizeof(struct xts_xdp_stats) % 8 == 0,
	       "struct xts_xdp_stats must be a multiple of 8 bytes");

/* Native mode only: generic XDP on veth would hide the real behaviour of
 * the rings (and the host/DPU NICs of a deployment support native XDP). */
#define XTS_XDP_MODE XDP_FLAGS_DRV_MODE

/* Both maps have a handful of companions at most (.rodata, .bss if the
 * program ever grows globals); more than this is not our program. */
#define MAX_PROG_MAPS 16

static void maps_init(struct xts_xdp_maps *maps)
{
	maps->xsks_map_fd = -1;
	maps->stats_map_fd = -1;
	maps->prog_id = 0;
}

void xts_xdp__maps_close(struct xts_xdp_maps *maps)
{
	if (!maps)
		return;
	if (maps->xsks_map_fd >= 0)
		close(maps->xsks_map_fd);
	if (maps->stats_map_fd >= 0)
		close(maps->stats_map_fd);
	maps_init(maps);
}

/* The program id attached in native mode on @ifindex; 0 when none. */
static int attached_id(int ifindex, __u32 *id)
{
	int err;

	*id = 0;
	err = bpf_xdp_query_id(ifindex, XTS_XDP_MODE, id);
	return err < 0 ? err : 0;
}

/* Open program @id and check that it is xts_xdp: -ENOENT if it went away
 * meanwhile, -EBUSY if it is someone else's program. */
static int open_ours(__u32 id, int *prog_fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd, err;

	/* libbpf 1.x returns -errno itself. */
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	err = prog_info(fd, &info, &len);
	if (err < 0)
		goto out_fd;
	if (info.type != BPF_PROG_TYPE_XDP ||
	    strncmp(info.name, XTS_XDP_PROG_NAME, sizeof(info.name)) != 0) {
		err = -EBUSY;
		goto out_fd;
	}
	*prog_fd = fd;
	return 0;

out_fd:
	close(fd);
	return err;
}

/* Fill @maps from the map ids of the program behind @prog_fd. */
static int maps_from_prog(int prog_fd, struct xts_xdp_maps *maps)
{
	__u32 map_ids[MAX_PROG_MAPS];
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	__u32 i, nr;
	int err;

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = MAX_PROG_MAPS;
	info.map_ids = (__u64)(unsigned long)map_ids;
	err = prog_info(prog_fd, &info, &len);
	if (err < 0)
		return err;
	maps->prog_id = info.id;

	/* The kernel reports how many maps there are, even past our buffer. */
	nr = info.nr_map_ids < MAX_PROG_MAPS ? info.nr_map_ids : MAX_PROG_MAPS;
	for (i = 0; i < nr; i++) {
		struct bpf_map_info minfo;
		__u32 mlen = sizeof(minfo);
		int *slot = NULL;
		int fd;

		fd = bpf_map_get_fd_by_id(map_ids[i]);
		if (fd < 0) {
			err = fd;
			goto out_maps;
		}
		memset(&minfo, 0, sizeof(minfo));
		err = map_info(fd, &minfo, &mlen);
		if (err < 0) {
			close(fd);
			goto out_maps;
		}
		if (minfo.type == BPF_MAP_TYPE_XSKMAP &&
		    !strncmp(minfo.name, XTS_XDP_XSKMAP, sizeof(minfo.name)))
			slot = &maps->xsks_map_fd;
		else if (minfo.type == BPF_MAP_TYPE_PERCPU_ARRAY &&
			 !strncmp(minfo.name, XTS_XDP_STATSMAP, sizeof(minfo.name)))
			slot = &maps->stats_map_fd;
		if (!slot || *slot >= 0) {
			close(fd);
			continue;
		}
		*slot = fd;
	}
	if (maps->xsks_map_fd < 0 || maps->stats_map_fd < 0) {
		/* Named xts_xdp but without our maps: not our program. */
		err = -EBUSY;
		goto out_maps;
	}
	return 0;

out_maps:
	xts_xdp__maps_close(maps);
	return err;
}

int xts_xdp__find(int ifindex, struct xts_xdp_maps *maps)
{
	int prog_fd, err;
	__u32 id;

	if (!maps)
		return -EINVAL;
	maps_init(maps);
	err = attached_id(ifindex, &id);
	if (err)
		return err;
	if (!id)
		return -ENOENT;
	err = open_ours(id, &prog_fd);
	if (err)
		return err;
	err = maps_from_prog(prog_fd, maps);
	close(prog_fd);
	return err;
}

/*
 * The program, loaded as frags-capable (what SEC("xdp.frags") would do;
 * the flag is set here so that the fallback can load the same program
 * without it): on veth that lets the MTU of the link go past one page,
 * and multi-buffer frames reach the AF_XDP socket whole.  NULL, errno
 * set, when the kernel refuses.
 */
static struct xts_xdp_skel *open_load(bool frags)
{
	struct xts_xdp_skel *skel;
	int err;

	skel = xts_xdp_skel__open();
	if (!skel)
		return NULL;
	err = frags ? bpf_program__set_flags(skel->progs.xts_xdp,
					     bpf_program__flags(skel->progs.xts_xdp) |
						 BPF_F_XDP_HAS_FRAGS)
		    : 0;
	if (!err)
		err = xts_xdp_skel__load(skel);
	if (err) {
		xts_xdp_skel__destroy(skel);
		errno = -err;
		return NULL;
	}
	return skel;
}

int xts_xdp__attach(int ifindex, struct xts_xdp_maps *maps)
{
	struct xts_xdp_skel *skel;
	int prog_fd, err;

	if (!maps)
		return -EINVAL;
	maps_init(maps);

	/* Cheap path, and the common one for the second user of a link. */
	err = xts_xdp__find(ifindex, maps);
	if (err != -ENOENT)
		return err;

	skel = open_load(true);
	if (!skel) /* a kernel without XDP frags (before 5.18) */
		skel = open_load(false);
	if (!skel)
		return errno ? -errno : -EINVAL;
	prog_fd = bpf_program__fd(skel->progs.xts_xdp);

	/*
	 * UPDATE_IF_NOEXIST: two processes may race from the find above to
	 * here; the kernel lets exactly one attach and tells the other EBUSY
	 * (EEXIST from older kernels), which then uses the winner's program
	 * and maps.  The loser's own program and maps go away with its
	 * skeleton.
	 */
	err = bpf_xdp_attach(ifindex, prog_fd, XTS_XDP_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err == -EBUSY || err == -EEXIST) {
		xts_xdp_skel__destroy(skel);
		return xts_xdp__find(ifindex, maps);
	}
	if (err)
		goto out_skel;

	/*
	 * The interface now holds the program and the program its maps, so
	 * they outlive the skeleton; the caller gets its own fds by going
	 * through the same path as any later user.
	 */
	err = maps_from_prog(prog_fd, maps);
	if (err) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog_fd);

		/* Only our own program, should another have replaced it. */
		bpf_xdp_detach(ifindex, XTS_XDP_MODE | XDP_FLAGS_REPLACE, &opts);
	}

out_skel:
	xts_xdp_skel__destroy(skel);
	return err;
}

int xts_xdp__detach(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	int prog_fd, err;
	__u32 id;

	err = attached_id(ifindex, &id);
	if (err)
		return err;
	if (!id)
		return 0;
	err = open_ours(id, &prog_fd);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;

	/*
	 * XDP_FLAGS_REPLACE with old_prog_fd: the kernel detaches only if the
	 * program we just checked is still the attached one, so we never
	 * remove a program that replaced ours meanwhile.
	 */
	opts.old_prog_fd = prog_fd;
	err = bpf_xdp_detach(ifindex, XTS_XDP_MODE | XDP_FLAGS_REPLACE, &opts);
	close(prog_fd);
	return err;
}

int xts_xdp__read_stats(const struct xts_xdp_maps *maps, __u32 queue, struct xts_xdp_stats *out)
{
	struct xts_xdp_stats *percpu;
	int ncpus, i, err;

	if (!maps || !out || maps->stats_map_fd < 0)
		return -EINVAL;
	if (queue >= XTS_XDP_MAX_QUEUES)
		return -ERANGE;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0)
		return ncpus;

	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	err = bpf_map_lookup_elem(maps->stats_map_fd, &queue, percpu);
	if (err < 0)
		goto out_free;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < ncpus; i++) {
		out->xts_frames += percpu[i].xts_frames;
		out->xts_bytes += percpu[i].xts_bytes;
		out->no_socket += percpu[i].no_socket;
		out->redirect_err += percpu[i].redirect_err;
		out->passed += percpu[i].passed;
	}
	err = 0;

out_free:
	free(percpu);
	return err;
}
