/* `vmm run --incoming URI`: waits for one migration stream on URI
 * (uri.h), receives it into the VM (vmstate.h: RAM straight into guest
 * RAM, the rest kept), and once the state is applied tells the source it
 * has taken over. Nothing runs the guest before the whole stream has
 * arrived and checked out. Main thread, before the vCPUs start. */
#ifndef VMM_INCOMING_H
#define VMM_INCOMING_H

#include "vmstate.h"

struct vm;

/* Listens on uri, accepts one connection (SIGINT/SIGTERM on sig_fd end
 * the wait: -EINTR) and reads the stream to its END into l. Returns the
 * connection (for incoming_takeover) or -errno / -EPROTO after one log
 * line. */
int incoming_receive(const char *uri, int sig_fd, struct vmstate_load *l);
/* The state is applied: tells the source, closes the connection. 0, or
 * -errno when the source could not be told (it will resume the guest, so
 * this side must not run it). */
int incoming_takeover(int sock);

#endif
