/* Entry point: the subcommand table. Main thread. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "lifecycle.h"
#include "lib/log.h"
#include "run.h"
#include "serve9p.h"
#include "img.h"

#ifndef VMM_VERSION
#define VMM_VERSION "0.1"
#endif

static int cmd_img(int argc, char **argv, uint64_t start_ns)
{
	(void)start_ns;
	return img_command(argc, argv);
}

static int cmd_ctl(int argc, char **argv, uint64_t start_ns)
{
	(void)start_ns;
	return ctl_command(argc, argv);
}

static int cmd_run(int argc, char **argv, uint64_t start_ns)
{
	struct vm_config cfg;
	int status;

	switch (cli_parse_run(argc, argv, &cfg)) {
	case CLI_EXIT_OK: status = 0; break;
	case CLI_USAGE_ERROR: status = EXIT_USAGE; break;
	default: status = vm_run(&cfg, start_ns); break;
	}
	cli_free(&cfg);
	return status;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, uint64_t start_ns);
	const char *help;
} commands[] = {
	{ "run", cmd_run, "boot a kernel in a new VM (vmm run --help)" },
	{ "9p-serve", serve9p_command,
	  "serve a directory over 9P2000.L on a socket (vmm 9p-serve --help)" },
	{ "img", cmd_img,
	  "create, inspect and convert disk images (vmm img --help)" },
	{ "ctl", cmd_ctl,
	  "send a command to a running vmm's --api socket (vmm ctl --help)" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: vmm COMMAND [options]\n       vmm --help | "
		     "--version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	uint64_t start_ns = monotonic_ns();

	if (argc < 2) {
		log_error("no command given (see vmm --help)");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vmm %s\n", VMM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1, start_ns);
	log_error("unknown command '%s' (see vmm --help)", argv[1]);
	return EXIT_USAGE;
}
