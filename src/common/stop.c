/* SIGINT/SIGTERM as a stop request (stop.h). */
#include "stop.h"

#include <string.h>

static volatile sig_atomic_t stop_flag_value;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag_value = 1;
}

void stop_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: see stop.h */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	stop_flag_value = 0;
}

int stop_requested(void)
{
	return stop_flag_value != 0;
}

void stop_request(void)
{
	stop_flag_value = 1;
}

volatile sig_atomic_t *stop_flag(void)
{
	return &stop_flag_value;
}
