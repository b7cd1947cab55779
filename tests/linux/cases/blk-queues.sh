# queues=2 with two vCPUs: the guest drives two virtqueues (two iothreads)
# and the data is right.
truncate -s 16M "$WORK/d.img"
boot --append vmmtest.script=blk-info --cpus 2 --disk "$WORK/d.img,queues=2"
expect_exit 0
expect_output "guest: vda sectors 32768 ro 0 queues 2"
boot --append vmmtest.script=blk-write --cpus 2 --disk "$WORK/d.img,queues=2"
expect_exit 0
expect_output "guest: pattern written and read back"
