/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fifo.h - a slot-index intrusive FIFO: a list of elements of one array
 * (a connection table, a socket table), linked through a struct
 * xts_fifo_node inside each element, in O(1) and no memory of its own.
 * An element is on a given list at most once; pushing it again is a no-op,
 * which is what "this connection owes something" lists want.
 *
 *	struct conn { ...; struct xts_fifo_node ready; };
 *	struct xts_fifo q = XTS_FIFO_INIT;
 *
 *	xts_fifo_push(&q, conns, ready, slot);	     // to the tail, once
 *	while (!xts_fifo_empty(&q)) {
 *		__u32 slot = xts_fifo_head(&q);
 *		if (!work(&conns[slot]))
 *			break;			     // stays first
 *		xts_fifo_pop(&q, conns, ready);
 *	}
 *
 * Indexes are stored + 1, so 0 means "none" and every index of the array,
 * 0 included, may be linked; a node's next is 0 exactly when its element
 * is on no list (XTS_FIFO_END marks the last one).  Header-only: both ends
 * of a queue use it, and it is too small to be worth a call.
 */
#ifndef XTS_FIFO_H
#define XTS_FIFO_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct xts_fifo {
	__u32 head, tail; /* index + 1; 0: empty */
};

struct xts_fifo_node {
	__u32 next; /* 0: on no list; XTS_FIFO_END: last; else index + 1 */
};

#define XTS_FIFO_INIT ((struct xts_fifo){0, 0})
#define XTS_FIFO_END  0xffffffffu

/* The node of element @i of an array: base, element size, node offset. */
static inline struct xts_fifo_node *xts_fifo__node(void *base, size_t size, size_t off, __u32 i)
{
	return (struct xts_fifo_node *)((char *)base + (size_t)i * size + off);
}

static inline bool xts_fifo_empty(const struct xts_fifo *q)
{
	return !q->head;
}

/* Index of the first element; only when not empty. */
static inline __u32 xts_fifo_head(const struct xts_fifo *q)
{
	return q->head - 1;
}

/* Index of the last element (e.g. to stop a round robin after one pass);
 * only when not empty. */
static inline __u32 xts_fifo_tail(const struct xts_fifo *q)
{
	return q->tail - 1;
}

static inline bool xts_fifo_linked(const struct xts_fifo_node *n)
{
	return n->next != 0;
}

/* Append element @i unless it is on the list already.  true: appended. */
static inline bool xts_fifo__push(struct xts_fifo *q, void *base, size_t size, size_t off, __u32 i)
{
	struct xts_fifo_node *n = xts_fifo__node(base, size, off, i);

	if (n->next)
		return false;
	n->next = XTS_FIFO_END;
	if (q->tail)
		xts_fifo__node(base, size, off, q->tail - 1)->next = i + 1;
	else
		q->head = i + 1;
	q->tail = i + 1;
	return true;
}

/* Unlink the first element and return its index; only when not empty. */
static inline __u32 xts_fifo__pop(struct xts_fifo *q, void *base, size_t size, size_t off)
{
	__u32 i = q->head - 1;
	struct xts_fifo_node *n = xts_fifo__node(base, size, off, i);

	q->head = n->next == XTS_FIFO_END ? 0 : n->next;
	if (!q->head)
		q->tail = 0;
	n->next = 0;
	return i;
}

/* Empty the list, unlinking every element on it (O(length)). */
static inline void xts_fifo__clear(struct xts_fifo *q, void *base, size_t size, size_t off)
{
	while (q->head)
		xts_fifo__pop(q, base, size, off);
}

/* The typed forms: @arr is the array, @member the node's field name. */
#define XTS_FIFO_ARGS(arr, member)	 (arr), sizeof(*(arr)), offsetof(__typeof__(*(arr)), member)
#define xts_fifo_push(q, arr, member, i) xts_fifo__push((q), XTS_FIFO_ARGS(arr, member), (i))
#define xts_fifo_pop(q, arr, member)	 xts_fifo__pop((q), XTS_FIFO_ARGS(arr, member))
#define xts_fifo_clear(q, arr, member)	 xts_fifo__clear((q), XTS_FIFO_ARGS(arr, member))

#endif
