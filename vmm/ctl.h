/* `vmm ctl PATH COMMAND [KEY=VALUE...]`: the control socket's client
 * (docs/api.md). Main thread; no state outside the call. */
#ifndef VMM_CTL_H
#define VMM_CTL_H

/* argv[0] is "ctl". Returns the process exit status: 0 with the reply's
 * "return" object printed on stdout as one JSON line; 1 after one
 * "vmm ctl: ..." line on stderr (an error reply, or no reply); 2 for a
 * bad command line. */
int ctl_command(int argc, char **argv);

#endif
