# Test-guest suite: the freestanding guest, scenario chosen on the cmdline.
KERNEL=${KERNEL:-build/guest/testguest.elf}
INITRD=""
BASE_CMDLINE=""
