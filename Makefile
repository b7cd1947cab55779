# vmm: a minimal KVM virtual machine monitor.
#   make            build build/vmm
#   make run        install deps, build, fetch a guest kernel, boot a demo VM
#   make check      install deps, build, every test below
#   make unit       criterion unit tests (SANITIZE=address,undefined: under
#                   ASan and UBSan, built in build-san/)
#   make fuzz       every libFuzzer target of tests/fuzz for FUZZ_SECONDS
#                   each (default 60; clang, ASan, UBSan, in build-fuzz/)
#   make valgrind   the unit tests under valgrind memcheck
#   make nonroot-check  the guest suites as an unprivileged user
#   make cli-check  bad arguments and input files
#   make img-check  qcow2 and QED images against qemu-img and qemu-io, crash
#                   consistency under SIGKILL (tests/img)
#   make guest-check  the test guest on this machine's /dev/kvm
#   make lab-check  stock-Linux guest tests inside the lab host
#   make lab-pair-check  live migration between two lab hosts over TCP
#                   (tests/lab/migrate-pair, about 70 s)
#   make format     format every C file with .clang-format
#   make format-check  fail when a C file differs from its formatted form
#   make clang-check  build everything with clang as well (build-clang/)
#   make layout-check  the layering: no lower layer includes vmm/ or arch/,
#                   nothing x86-only outside arch/x86/

CC ?= gcc
ARCH ?= x86
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -MMD -MP -D_GNU_SOURCE -I. -iquote arch/$(ARCH)
# liburing and libseccomp linked in: the dynamic loader's work for them
# was 4 to 8 % of vmm's start-up (bench/boot direct, README). json-c (the
# control socket, vmm ctl) likewise, from libjson-c-dev's libjson-c.a.
VMM_LIBS := -luring -lseccomp -lz -ljson-c
override LDLIBS += -lpthread -Wl,-Bstatic $(VMM_LIBS) -Wl,-Bdynamic
BUILD := build
# vmm itself is linked statically: no dynamic loader at exec, and only the
# parts of libc it uses resident (peak RSS less guest RAM 1.7 MiB against
# 2.4 MiB dynamically linked, bench/boot direct). glibc warns that
# getaddrinfo (tcp:HOST:PORT) then loads its NSS modules at run time from
# the glibc it was built with. The sanitizer and fuzzing builds below stay
# dynamic (their runtimes need it).
VMM_LDFLAGS := -static
# SANITIZE=address,undefined: vmm and the unit tests built with those
# sanitizers, in build-san/ (the guest's static init is built plain).
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
override CFLAGS += $(SAN_FLAGS)
BUILD := build-san
VMM_LDFLAGS :=
# The integration suites run this vmm (tests/lib.sh, tests/cli/bad-inputs,
# passed into the lab host by tests/lab/run), without LeakSanitizer: its
# scan at exit ptraces the threads, which their seccomp filters forbid
# (the unit tests and valgrind check leaks).
export VMM := $(BUILD)/vmm
SAN_RUN := ASAN_OPTIONS=detect_leaks=0
endif
# FUZZ=1 (set by `make fuzz`): vmm's objects built by clang ready for
# libFuzzer, with ASan and UBSan, in build-fuzz/.
ifeq ($(FUZZ),1)
CC := clang
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=all
override CFLAGS += $(SAN_FLAGS)
BUILD := build-fuzz
VMM_LDFLAGS :=
endif
# CLANG=1 (set by `make clang-check`): everything built by clang, in
# build-clang/, so a construct only gcc accepts fails `make check` early.
ifeq ($(CLANG),1)
CC := clang
BUILD := build-clang
endif

SRCS := $(wildcard vmm/*.c lib/*.c arch/$(ARCH)/*.c memory/*.c devices/*.c \
	devices/pci/*.c devices/virtio/*.c block/*.c fs9p/*.c)
OBJS := $(SRCS:%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(filter-out $(BUILD)/obj/vmm/main.o,$(OBJS))
# The guest init (below), embedded through vmm/init_blob.S: added here,
# before any rule names LIB_OBJS among its prerequisites (those expand
# where the rule is read; a later += would miss them and race under -j).
GUEST_INIT := $(BUILD)/guest-init
INIT_BLOB := $(BUILD)/obj/vmm/init_blob.o
OBJS += $(INIT_BLOB)
LIB_OBJS += $(INIT_BLOB)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60

# The test guest: freestanding, one static PVH ELF (guest/testguest/).
GUEST_SRCS := $(wildcard guest/testguest/*.c guest/testguest/*.S)
GUEST_OBJS := $(patsubst guest/testguest/%,$(BUILD)/guest/%.o,$(GUEST_SRCS))
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -MMD -MP \
	-ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone \
	-mgeneral-regs-only -fno-asynchronous-unwind-tables -fcf-protection=none
GUEST := $(BUILD)/guest/testguest.elf

all: $(BUILD)/vmm $(GUEST) $(BUILD)/runstat $(BUILD)/kvm-floor \
	$(BUILD)/kvm-hold $(BUILD)/fsops $(BUILD)/stamp-img $(BUILD)/img-writer \
	$(BUILD)/tsc-rate

# tests/img/crash's writer and verifier, on the block layer.
$(BUILD)/img-writer: tests/img/writer.c $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

$(BUILD)/runstat: bench/runstat.c
	$(CC) $(CFLAGS) -o $@ $<

# bench/boot's start-up floor: what any VMM must do, and no more.
$(BUILD)/kvm-floor: bench/kvm-floor.c
	$(CC) $(CFLAGS) -o $@ $<

# bench/blk's disk, whose sectors blkbench verifies.
$(BUILD)/stamp-img: bench/stamp-img.c
	$(CC) $(CFLAGS) -o $@ $<

# The host's TSC rate, which tests/guest/cases/hello.sh holds the test
# guest's calibration to.
$(BUILD)/tsc-rate: tests/guest/tools/tsc-rate.c
	$(CC) $(CFLAGS) -o $@ $<

# Run by the lab host's init before its chroot, hence static.
$(BUILD)/kvm-hold: tests/lab/kvm-hold.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SAN_FLAGS),$(CFLAGS)) -static -o $@ $<

# The 9p conformance transcript (tests/linux/p9lib.sh); static because it
# also runs in the stock-Linux test guest's busybox initramfs.
$(BUILD)/fsops: tests/linux/tools/fsops.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SAN_FLAGS),$(CFLAGS)) -static -o $@ $<

# The guest init of --9p-root and the test rig (guest/init/): static,
# embedded in vmm and in the unit tests through vmm/init_blob.S.
$(GUEST_INIT): guest/init/init.c guest/init/conf.c guest/init/conf.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP -g $(SAN_FLAGS),$(CFLAGS)) -Os -static -s -o $@ \
		guest/init/init.c guest/init/conf.c

$(INIT_BLOB): vmm/init_blob.S $(GUEST_INIT)
	@mkdir -p $(dir $@)
	$(CC) -c -DGUEST_INIT_PATH='"$(GUEST_INIT)"' -o $@ $<

$(GUEST): $(GUEST_OBJS) guest/testguest/link.ld
	$(CC) -nostdlib -static -Wl,-T,guest/testguest/link.ld \
		-Wl,--build-id=none -Wl,--no-warn-rwx-segments -o $@ $(GUEST_OBJS)

$(BUILD)/guest/%.o: guest/testguest/%
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/vmm: $(OBJS)
	@echo "  LD $@"; $(CC) $(CFLAGS) $(LDFLAGS) $(VMM_LDFLAGS) -o $@ $^ \
		$(if $(VMM_LDFLAGS),-lpthread $(VMM_LIBS),$(LDLIBS))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS) -lcriterion

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD $@"; $(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_OBJS) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	$(MAKE) FUZZ=1 fuzz-build
	tests/fuzz/run $(FUZZ_SECONDS)

deps:
	@scripts/install-deps

kernel: deps
	@scripts/get-kernel

unit: $(TEST_BINS)
	@tests/unit/timeouts-check
	@tests/lab/stalled-during-test
	@tests/lab/check-test
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t --jobs 2; done

# The unit tests under valgrind memcheck (slow: about half an hour).
valgrind: $(TEST_BINS)
	tests/valgrind-unit $(TEST_BINS)

# Unprivileged: the test-guest and stock-Linux suites with every vmm run
# as nobody inside the lab host, given access to /dev/kvm
# (tests/lab/as-user). A case whose own set-up needs root there (a 9p
# mount, a device-mapper target: "# harness: root") keeps its harness
# root; only its vmm is nobody's.
nonroot-check: all kernel
	LAB_AS_USER=1 tests/lab/check --suite tests/guest
	LAB_AS_USER=1 tests/lab/check

cli-check: all kernel
	$(SAN_RUN) tests/cli/check

img-check: all
	$(SAN_RUN) tests/img/interop
	$(SAN_RUN) tests/img/qed-interop
	$(SAN_RUN) tests/img/tools
	$(SAN_RUN) WRITER=$(BUILD)/img-writer TRIALS=3 tests/img/crash
	$(SAN_RUN) WRITER=$(BUILD)/img-writer tests/img/events

guest-check: all
	$(SAN_RUN) tests/guest/check

lab-check: all kernel
	$(SAN_RUN) tests/lab/check

lab-pair-check: all kernel
	$(SAN_RUN) tests/lab/migrate-pair

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(C_FILES)

format-check:
	@clang-format --dry-run --Werror $(C_FILES) && \
		echo "format-check: $(words $(C_FILES)) files formatted"

layout-check:
	tests/layout-check

clang-check:
	$(MAKE) CLANG=1 all $(TEST_BINS:$(BUILD)/%=build-clang/%)

check: deps
	$(MAKE) format-check
	$(MAKE) layout-check
	$(MAKE) clang-check
	$(MAKE) SANITIZE= all
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) cli-check
	$(MAKE) img-check
	$(MAKE) guest-check
	$(MAKE) lab-check
	$(MAKE) lab-pair-check

run: deps
	$(MAKE) all
	@scripts/get-kernel
	@scripts/demo

clean:
	rm -rf $(BUILD)/vmm $(BUILD)/obj $(BUILD)/tests $(BUILD)/guest

.PHONY: all deps kernel unit cli-check img-check guest-check lab-check lab-pair-check check run clean \
	format format-check layout-check clang-check fuzz fuzz-build valgrind nonroot-check
-include $(OBJS:.o=.d) $(TEST_BINS:=.d) $(GUEST_OBJS:.o=.d) $(FUZZ_BINS:=.d)
