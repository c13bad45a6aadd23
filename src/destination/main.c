/* migrate-dst: receives runC containers migrated by migrate-src and restores them. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "facts.h"
#include "dst.h"
#include "log.h"
#include "mig.h"
#include "server.h"
#include "stop.h"

static int fail(struct mig_err **err, int code)
{
	log_error("%s", mig_err_msg(*err));
	mig_err_free(err);
	return code;
}

int main(int argc, char **argv)
{
	struct dst_config cfg;
	struct mig_err *err = NULL;
	/* The TCP test dump's throwaway process is a copy of this program (facts.h). */
	if (getenv(FACTS_TCP_CHILD_ENV))
		return facts_tcp_child();
	log_init("migrate-dst", LOG_INFO);
	int rc = cli_parse_dst(argc, argv, &cfg, stdout, &err);
	if (rc == CLI_EXIT)
		return 0;
	if (rc != CLI_OK) {
		log_error("%s (see migrate-dst --help)", mig_err_msg(err));
		mig_err_free(&err);
		return EXIT_USAGE;
	}
	log_set_level(cfg.verbose > 0 ? LOG_DEBUG : cfg.verbose < 0 ? LOG_ERROR : LOG_INFO);
	struct dst_ctx d;
	struct dst_listeners l;
	if (dst_ctx_init(&d, &cfg, &err) < 0 || dst_listen(&d, &l, &err) < 0) {
		dst_ctx_free(&d);
		return fail(&err, EXIT_REFUSED);
	}
	const char *shown = l.shown;
	if (d.runc_error)
		log_warn("%s", d.runc_error);
	if (d.criu_error)
		log_warn("%s", d.criu_error);
	if (!d.auth_on)
		log_warn("--insecure: requests are NOT authenticated; anyone who can reach %s "
			 "can make this host run runc as root",
			 shown);
	log_info("listening on %s (base dir %s, runc %s, criu %s)", shown, d.base_dir,
		 d.runc_version ? d.runc_version : "?", d.criu_version ? d.criu_version : "?");
	stop_install();
	rc = dst_serve(&d, &l);
	dst_ctx_free(&d);
	return rc;
}
