# 1 vCPU(s): the boot CPU starts the others with INIT/SIPI, each counts in
# its own page, then they meet at a barrier.
boot --append "scenario=smp cpus=1" --cpus 1
expect_exit 0
expect_output "guest: smp: 1 of 1 cpus up, 1 counted"
