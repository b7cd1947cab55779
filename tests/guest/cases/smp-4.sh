# 4 vCPU(s): the boot CPU starts the others with INIT/SIPI, each counts in
# its own page, then they meet at a barrier.
boot --append "scenario=smp cpus=4" --cpus 4
expect_exit 0
expect_output "guest: smp: 4 of 4 cpus up, 4 counted"
