/* The `vmm run` command line: an option table (name, argument, help,
 * parser) turned into a struct vm_config. */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stdio.h>

#include "vm.h"

enum cli_result { CLI_OK, CLI_EXIT_OK, CLI_USAGE_ERROR };

/* Parses argv (argv[0] is "run"). On CLI_USAGE_ERROR one line naming the
 * bad argument has been printed; CLI_EXIT_OK means --help was handled. */
enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg);

void cli_usage_run(FILE *out);

/* Frees what cli_parse_run allocated (device configurations). */
void cli_free(struct vm_config *cfg);

#endif
