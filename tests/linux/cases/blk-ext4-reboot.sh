# mkfs.ext4 on vda, files written, the guest reboots (vmm exits 0, through
# Linux's default reboot: the reset vector's i8042 pulse); a new VM on the
# same image mounts it and reads the files back.
truncate -s 128M "$WORK/d.img"
boot --append "vmmtest.script=blk-ext4-make vmmtest.action=reboot" --disk "$WORK/d.img"
expect_status 0
expect_stopped_by i8042-reset
expect_output "guest: ext4 made, files written"
boot --append vmmtest.script=blk-ext4-check --disk "$WORK/d.img"
expect_exit 0
expect_output "guest: greeting 'written before the reboot'"
expect_output "guest: files read back"
