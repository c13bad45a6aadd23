/* CRIU's own statistics: a decoder for the `stats-dump` and `stats-restore` files CRIU writes
 * at the end of every dump, pre-dump and restore (the numbers podman's --print-stats shows).
 *
 * Where the files are (checked with runc 1.1.15 + CRIU 4.1.1 on the project machine):
 * CRIU writes them into its *work* directory (criu/stats.c opens them relative to its current
 * directory, which is the work dir), not necessarily into the image directory:
 *  - stats-dump: `runc checkpoint` without --work-path gives CRIU the image dir as its work
 *    dir, so the file is IMAGE_DIR/stats-dump (this is how migrate-src checkpoints: BUNDLE/image,
 *    pre-dumps BUNDLE/parent).  With `--work-path W` it is W/stats-dump and the image dir has
 *    none.
 *  - stats-restore: `runc restore --work-path W` puts it in W/stats-restore (migrate-dst: the
 *    `work` argument of restore_container(), BUNDLE/work); the image dir gets none.
 *
 * File format (CRIU 4.1 sources: criu/include/magic.h, criu/image-desc.c, criu/image.c,
 * criu/protobuf.c, images/stats.proto): u32 IMG_SERVICE_MAGIC, u32 STATS_MAGIC, then one
 * protobuf entry as u32 length + that many bytes of `stats_entry`.  The u32s are in the byte
 * order of the host that wrote them (CRIU writes them raw); we read host order, so a file
 * from another byte order fails the magic check instead of decoding to nonsense.
 *
 *   stats_entry         { optional dump_stats_entry dump = 1; optional restore_stats_entry
 *                         restore = 2; }
 *   dump_stats_entry    { freezing_time = 1, frozen_time = 2, memdump_time = 3,
 *                         memwrite_time = 4 (uint32, microseconds); pages_scanned = 5,
 *                         pages_skipped_parent = 6, pages_written = 7 (uint64);
 *                         irmap_resolve = 8 (uint32 us); pages_lazy = 9, page_pipes = 10,
 *                         page_pipe_bufs = 11, shpages_scanned = 12,
 *                         shpages_skipped_parent = 13, shpages_written = 14 (uint64) }
 *   restore_stats_entry { pages_compared = 1, pages_skipped_cow = 2 (uint64); forking_time = 3,
 *                         restore_time = 4 (uint32 us); pages_restored = 5 (uint64) }
 *
 * The files are local, but they are decoded as untrusted input: every length is bounds
 * checked, varints longer than 10 bytes or past 64 bits are refused, fields this decoder does
 * not know are skipped whatever their wire type (groups included, nesting limited), and any
 * inconsistency is an error that names the byte offset.
 *
 * Known CRIU flaw: after a lazy (post-copy) dump, CRIU 4.1.1 writes a stats-dump whose counters
 * are all 0, freezing time 0 and frozen time = the wall clock in microseconds truncated to 32
 * bits (cr_page_server() calls init_stats() again inside the dump, discarding what the dump
 * measured).  CRIU prints the same nonsense with --display-stats.  stats_dump_valid() tells
 * such files apart; the report leaves their numbers out. */
#ifndef MIG_STATS_H
#define MIG_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STATS_DUMP_FILE	   "stats-dump"
#define STATS_RESTORE_FILE "stats-restore"

#define CRIU_IMG_SERVICE_MAGIC 0x55105940u /* head of CRIU's service files (stats, irmap) */
#define CRIU_STATS_MAGIC       0x57093306u

/* A value the file does not carry (older CRIU, or an optional field left out). */
#define STATS_NONE (-1LL)

/* Real files are under 64 bytes; anything over this is not a stats file. */
#define STATS_MAX_FILE 4096

struct criu_dump_stats {
	int present;	       /* the file had a dump entry */
	long long freezing_us; /* freezing the tasks (cgroup freezer or ptrace seize) */
	long long frozen_us;   /* tasks frozen: from frozen until CRIU let them go/killed them */
	long long memdump_us;  /* collecting memory pages (inside the frozen time) */
	long long memwrite_us; /* writing pages out (image or page server) */
	long long irmap_resolve_us;
	long long pages_scanned;
	long long pages_skipped_parent; /* unchanged since the parent (pre-)dump */
	long long pages_written;
	long long pages_lazy; /* left for the lazy-pages daemon (post-copy) */
	long long page_pipes, page_pipe_bufs;
	long long shpages_scanned, shpages_skipped_parent, shpages_written;
};

struct criu_restore_stats {
	int present; /* the file had a restore entry */
	long long pages_compared;
	long long pages_skipped_cow;
	long long forking_us;
	long long restore_us;
	long long pages_restored;
};

/* Decodes a whole stats file held in buf (magics, length, entry).  dump and restore (either
 * may be NULL) are reset to STATS_NONE / present 0 and filled from the entry.  Errors name
 * the byte offset in buf, not a file.  Safe on any input: unit tests and fuzzers call it. */
int stats_decode(const uint8_t *buf, size_t len, struct criu_dump_stats *dump,
		 struct criu_restore_stats *restore, struct mig_err **err);

/* Reads and decodes the stats file at path (a regular file of at most STATS_MAX_FILE bytes);
 * every error message starts with "CRIU stats PATH: ". */
int stats_read_file(const char *path, struct criu_dump_stats *dump,
		    struct criu_restore_stats *restore, struct mig_err **err);

/* DIR/stats-dump, which must hold a dump entry.  dir: the image dir of a `runc checkpoint`
 * without --work-path, else its --work-path (see above). */
int stats_read_dump(const char *dir, struct criu_dump_stats *out, struct mig_err **err);

/* DIR/stats-restore, which must hold a restore entry.  dir: the --work-path of runc restore. */
int stats_read_restore(const char *dir, struct criu_restore_stats *out, struct mig_err **err);

/* 1 when s describes a real dump: present, and CRIU scanned at least one page (any living
 * process has a stack).  0 for CRIU 4.1.1's empty lazy-dump statistics (see above). */
int stats_dump_valid(const struct criu_dump_stats *s);

#endif
