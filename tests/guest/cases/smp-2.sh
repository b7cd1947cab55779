# 2 vCPU(s): the boot CPU starts the others with INIT/SIPI, each counts in
# its own page, then they meet at a barrier.
boot --append "scenario=smp cpus=2" --cpus 2
expect_exit 0
expect_output "guest: smp: 2 of 2 cpus up, 2 counted"
