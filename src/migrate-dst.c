/* migrate-dst: receives runC containers migrated by migrate-src and restores them. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dst.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct dst_opts o;
	struct mig_err *err = NULL;
	log_init("migrate-dst", LOG_INFO);
	int rc = cli_parse_dst(argc, argv, &o, stdout, &err);
	if (rc == CLI_EXIT)
		return 0;
	if (rc != CLI_OK) {
		log_error("%s (see migrate-dst --help)", mig_err_msg(err));
		mig_err_free(&err);
		return EXIT_USAGE;
	}
	log_set_level(o.verbose > 0 ? LOG_DEBUG : o.verbose < 0 ? LOG_ERROR : LOG_INFO);
	struct dst_ctx d;
	if (dst_ctx_init(&d, &o, &err) < 0) {
		dst_ctx_free(&d);
		log_error("%s", mig_err_msg(err));
		mig_err_free(&err);
		return EXIT_REFUSED;
	}
	rc = dst_serve(&d);
	dst_ctx_free(&d);
	return rc;
}
