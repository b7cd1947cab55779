# The test rig boots the bzImage as the PVH ELF inside it: unpacked by the
# first run into the kernel cache, taken from there by the next. The entry
# must be byte for byte what scripts/extract-vmlinux gives. A damaged entry
# is unpacked again; off boots the bzImage; a kernel the rig cannot unpack
# (no xz in PATH) boots as it is, saying why, and --unpack-kernel on then
# fails instead. Outside the rig, on has to be asked for.
. tests/linux/riglib.sh
export XDG_CACHE_HOME=$WORK/cache
unpacked='vmm: stats: kernel booted as PVH ELF unpacked from the bzImage \(unpacked now\)'
cached='vmm: stats: kernel booted as PVH ELF unpacked from the bzImage \(kernel cache hit\)'
rig -- true
expect_status 0
expect_stderr_line "$unpacked"
set -- "$WORK"/cache/vmm/kernels/vmlinux-*
[ $# = 1 ] && [ -f "$1" ] || fail "cache entries: $*"
entry=$1
cmp -s "$entry" build/kernel/vmlinux || fail "$entry differs from build/kernel/vmlinux"
rig -- sh -c 'exit 3'
expect_status 3
expect_stderr_line "$cached"
truncate -s 4096 "$entry"
rig -- true
expect_status 0
expect_stderr_line "$unpacked"
cmp -s "$entry" build/kernel/vmlinux || fail "the damaged entry was not unpacked again"
rig --unpack-kernel off -- true
expect_status 0
expect_stderr_line 'vmm: stats: kernel booted as bzImage'
# A PATH with timeout but no xz, and a fresh cache.
mkdir "$WORK/bin"
ln -s "$(command -v timeout)" "$WORK/bin/timeout"
export XDG_CACHE_HOME=$WORK/cache2
nox="the payload is xz-compressed and xz is not in PATH \(Debian package xz-utils\)"
PATH=$WORK/bin rig -- /bin/true
expect_status 0
expect_stderr_line "vmm: kernel $KERNEL: booting the bzImage itself, which is slower: $nox"
expect_stderr_line 'vmm: stats: kernel booted as bzImage'
[ ! -e "$WORK/cache2/vmm/kernels" ] || [ -z "$(ls -A "$WORK/cache2/vmm/kernels")" ] ||
	fail "a failed unpack left files: $(ls -A "$WORK/cache2/vmm/kernels")"
PATH=$WORK/bin rig --unpack-kernel on -- /bin/true
expect_status 2
expect_stderr_line "vmm: kernel $KERNEL: --unpack-kernel on: $nox"
# Outside the rig: the bzImage unless asked (the first cache is warm).
export XDG_CACHE_HOME=$WORK/cache
boot --append vmmtest.exit=5
expect_exit 5
expect_stderr_line 'vmm: stats: kernel booted as bzImage'
boot --append vmmtest.exit=6 --unpack-kernel on
expect_exit 6
expect_stderr_line "$cached"
