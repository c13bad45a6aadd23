/* libFuzzer target for CRIU's statistics decoder (src/stats.c): a stats file is read from an
 * image or work dir the peer's rsync wrote into, so it is input like any other.
 *
 * Each input is decoded from a buffer that ends right before an unreadable page (an
 * over-read faults even where ASan would not see it), with both outputs, with each alone,
 * and with none; a decoded entry must give the same numbers every time.
 *
 *   make fuzz            runs it after fuzz_proto (FUZZ_STATS_SECONDS, default 20)
 *   build/fuzz/fuzz_stats CRASHFILE reproduce one input */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"
#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A copy of data whose last byte is the last readable one. */
static uint8_t *fenced_copy(const uint8_t *data, size_t size, void **map, size_t *map_len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (size + page - 1) / page + 1;
	*map_len = pages * page;
	*map = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*map == MAP_FAILED)
		abort();
	uint8_t *guard = (uint8_t *)*map + (pages - 1) * page;
	if (mprotect(guard, page, PROT_NONE) < 0)
		abort();
	uint8_t *buf = guard - size;
	if (size)
		memcpy(buf, data, size);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *map;
	size_t map_len;
	uint8_t *buf = fenced_copy(data, size, &map, &map_len);
	struct criu_dump_stats d1, d2;
	struct criu_restore_stats r1, r2;
	struct mig_err *e = NULL;
	int a = stats_decode(buf, size, &d1, &r1, &e);
	mig_err_free(&e);
	int b = stats_decode(buf, size, &d2, NULL, &e);
	mig_err_free(&e);
	int c = stats_decode(buf, size, NULL, &r2, &e);
	mig_err_free(&e);
	int n = stats_decode(buf, size, NULL, NULL, &e);
	mig_err_free(&e);
	if (a != b || a != c || a != n)
		abort();
	/* field by field: the structs have padding */
	if (a == 0 && (d1.present != d2.present || d1.frozen_us != d2.frozen_us ||
		       d1.pages_scanned != d2.pages_scanned ||
		       d1.pages_written != d2.pages_written || r1.present != r2.present ||
		       r1.restore_us != r2.restore_us || r1.pages_restored != r2.pages_restored))
		abort();
	(void)stats_dump_valid(&d1);
	munmap(map, map_len);
	return 0;
}
