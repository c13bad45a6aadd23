/* migrate-src: migrates a running runC container to a host running migrate-dst. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "doctor.h"
#include "log.h"
#include "loop.h"
#include "migrate.h"

static void on_signal(int sig)
{
	(void)sig;
	migrate_request_stop();
}

int main(int argc, char **argv)
{
	struct src_opts o;
	struct mig_err *err = NULL;
	log_init("migrate-src", LOG_INFO);
	int rc = cli_parse_src(argc, argv, &o, stdout, &err);
	if (rc == CLI_EXIT)
		return 0;
	if (rc != CLI_OK) {
		log_error("%s (see migrate-src --help)", mig_err_msg(err));
		mig_err_free(&err);
		return EXIT_USAGE;
	}
	log_set_level(o.verbose > 0 ? LOG_DEBUG : o.verbose < 0 ? LOG_ERROR : LOG_INFO);
	if (o.check)
		return doctor_run(&o);
	/* A signal must not kill us between checkpoint and restore: that would lose the
	 * container.  It is noted and acted on at the next step boundary. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	return loop_run(&o);
}
