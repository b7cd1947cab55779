# vmm: a minimal KVM virtual machine monitor.
#   make            build build/vmm
#   make run        install deps, build, fetch a guest kernel, boot a demo VM
#   make check      install deps, build, unit tests, guest tests (lab host)
#   make unit       criterion unit tests only
#   make lab-check  stock-Linux guest tests inside the lab host only

CC ?= gcc
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -MMD -MP -D_GNU_SOURCE
LDLIBS += -lpthread
BUILD := build

SRCS := $(wildcard vmm/*.c memory/*.c devices/*.c)
OBJS := $(SRCS:%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(filter-out $(BUILD)/obj/vmm/main.o,$(OBJS))
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BUILD)/vmm

$(BUILD)/vmm: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS) -lcriterion

deps:
	@scripts/install-deps

kernel: deps
	@scripts/get-kernel

unit: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t --jobs 2; done

lab-check: all kernel
	tests/lab/check

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) lab-check

run: deps
	$(MAKE) all
	@scripts/get-kernel
	@scripts/demo

clean:
	rm -rf $(BUILD)/vmm $(BUILD)/vmm.d $(BUILD)/tests $(OBJS) $(OBJS:.o=.d)

.PHONY: all deps kernel unit lab-check check run clean
-include $(OBJS:.o=.d) $(TEST_BINS:=.d)
