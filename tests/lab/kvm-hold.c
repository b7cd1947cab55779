/* kvm-hold: holds one KVM VM (an in-kernel irqchip and one vCPU that never
 * runs) open for the whole life of the lab host (tests/lab/init starts it
 * before the command and powers off with it still running).
 *
 * Why (issue 13): KVM switches its preempt_notifier static key on when the
 * number of VMs goes 0 -> 1 and off at 1 -> 0, i.e. around every guest a
 * lab case runs. Each switch patches a 2-byte nop in the scheduler's
 * finish_task_switch through a temporary int3. QEMU TCG's translation
 * cache can keep that int3 after the kernel removed it: the int3 handler
 * finds no breakpoint and rewinds, forever, and both lab CPUs soft-lock in
 * swapper. With this VM held from before the first case to poweroff, the
 * count never returns to 0 and the key is switched once, at start.
 *
 * Threads: one. The parent forks, the child creates the VM and reports
 * through a pipe, the parent prints the outcome and exits 0 (VM held) or 1;
 * the child then sleeps holding the VM's fds. No shared state, no locks.
 *   kvm-hold [/dev/kvm]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the child reports to the parent: 0, or -errno and the failed step. */
struct hold_result {
	int err;
	char step[32];
};

/* Records which step failed; returns -errno of that step. */
static int step_failed(struct hold_result *r, const char *step)
{
	int err = -errno;

	snprintf(r->step, sizeof(r->step), "%s", step);
	return err;
}

/* Creates the VM, its irqchip and vCPU 0 from the KVM device at path. The
 * fds are deliberately never closed: they are what keeps the VM alive. */
static int hold_vm(const char *path, struct hold_result *r)
{
	int kvm, vm;

	kvm = open(path, O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return step_failed(r, "open");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return step_failed(r, "KVM_CREATE_VM");
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return step_failed(r, "KVM_CREATE_IRQCHIP");
	if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		return step_failed(r, "KVM_CREATE_VCPU");
	return 0;
}

/* The holder keeps nobody's terminal or pipe open: whoever reads the
 * output of the command that started it sees its end. */
static void drop_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	for (int i = 0; i <= 2; i++) {
		if (fd >= 0)
			dup2(fd, i);
		else
			close(i);
	}
	if (fd > 2)
		close(fd);
}

/* The child: holds the VM, reports, and sleeps until the lab powers off. */
static void run_holder(const char *path, int report_fd)
{
	struct hold_result r;

	memset(&r, 0, sizeof(r));
	/* Its own session: a signal to the lab command's process group
	 * (a case's clean-up) never reaches it. */
	setsid();
	r.err = hold_vm(path, &r);
	if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r) || r.err)
		_exit(1);
	close(report_fd);
	drop_stdio();
	for (;;)
		pause();
}

/* The parent: waits for the child's report; 0 when the VM is held. */
static int wait_report(const char *path, pid_t child, int report_fd)
{
	struct hold_result r;
	ssize_t n;

	do
		n = read(report_fd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(r)) {
		fprintf(stderr, "kvm-hold: the holder died before reporting\n");
		waitpid(child, NULL, 0);
		return -EIO;
	}
	if (r.err) {
		r.step[sizeof(r.step) - 1] = '\0';
		fprintf(stderr, "kvm-hold: %s %s: %s\n", path, r.step,
			strerror(-r.err));
		waitpid(child, NULL, 0);
		return r.err;
	}
	printf("kvm-hold: holding one KVM VM (irqchip, 1 vCPU) in pid %d"
	       " until the lab host powers off\n",
	       (int)child);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/kvm";
	int p[2];
	pid_t pid;

	if (pipe(p) < 0) {
		perror("kvm-hold: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("kvm-hold: fork");
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		run_holder(path, p[1]);
	}
	close(p[1]);
	return wait_report(path, pid, p[0]) ? 1 : 0;
}
