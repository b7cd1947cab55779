/* Tests create guest RAM with the build's own architecture layout, as
 * vm_create does. */
#ifndef TESTS_UNIT_GUEST_RAM_H
#define TESTS_UNIT_GUEST_RAM_H

#include "arch/arch.h"
#include "memory/memory.h"

static inline int test_mem_create(struct guest_mem *m,
				  const struct mem_config *cfg)
{
	struct mem_region layout[MEM_MAX_REGIONS];

	return mem_create(m, cfg, layout, arch_mem_layout(cfg->size, layout));
}

#endif
