/* The fixed PC platform around the vCPUs: COM1, the RTC, the i8042 reset
 * line, ACPI power ports and the exit/boot-marker ports, plus the firmware
 * tables (ACPI, MP table) that describe vCPUs and interrupt routing. */
#ifndef VMM_BOARD_H
#define VMM_BOARD_H

#include "vmm/vm.h"

/* Attaches every platform device to vm's buses, in one table. Guest serial
 * output goes to console_out. 0 or -errno. */
int board_attach(struct vm *vm, int console_out);

/* Writes ACPI and MP tables for vm->nr_vcpus vCPUs into guest RAM. */
int board_write_tables(struct vm *vm);

void board_destroy(struct vm *vm);

#endif
