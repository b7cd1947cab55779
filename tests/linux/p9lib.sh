# Helpers of the 9p cases, sourced by them after tests/lib.sh.
FSOPS=${FSOPS:-build/fsops}

# fsops_reference: the transcript of tests/linux/tools/fsops on a local
# directory of the lab host (ext4, user xattrs): the tree in $REF, the
# transcript in $REF_OUT. It needs root (device nodes, chown): a suite run
# as an unprivileged user gets the one tests/lab/as-user made as root
# before dropping privileges ($FSOPS_REF_DIR).
fsops_reference() {
	if [ -n "${FSOPS_REF_DIR:-}" ]; then
		REF=$FSOPS_REF_DIR/ref REF_OUT=$FSOPS_REF_DIR/ref.out
		[ -s "$REF_OUT" ] || fail "no reference transcript in $FSOPS_REF_DIR"
		return
	fi
	REF=$WORK/ref REF_OUT=$WORK/ref.out
	mkdir -p "$REF"
	"$FSOPS" "$REF" >"$REF_OUT" ||
		fail "fsops failed on the local reference directory: $(grep FAILED "$REF_OUT")"
}

# expect_guest_transcript: the guest's fsops transcript (between its marker
# lines on the console) is the local reference's, line for line.
expect_guest_transcript() {
	tr -d '\r' <"$out" | sed -n '/^guest: fsops begin$/,/^guest: fsops end$/p' |
		sed '1d;$d' >"$WORK/guest.out"
	[ -s "$WORK/guest.out" ] || fail "no fsops transcript in the guest output"
	expect_same_transcript "$WORK/guest.out"
}

# expect_same_transcript FILE: FILE is the local reference's transcript,
# but for one line: Linux 6.1's v9fs leaves its superblock's s_time_gran at
# one second, so the client itself truncates utimensat's nanoseconds before
# Tsetattr (seen in the lab: a time set on the host with nanoseconds reads
# back exact through the client, one set through the client arrives whole;
# 9p-serve-unix checks the first half). The reference's explicit times are
# cut to whole seconds for the comparison; everything else must match.
expect_same_transcript() {
	sed -E '/^a\/f1 times: /s/\.[0-9]{9}/.000000000/g' "$REF_OUT" >"$WORK/ref.9p"
	diff -u "$WORK/ref.9p" "$1" >"$WORK/diff" ||
		fail "the 9p transcript differs from the local one:
$(head -40 "$WORK/diff")"
}

# expect_same_tree DIR: the host's view of DIR is the local reference's.
expect_same_tree() {
	"$FSOPS" --tree "$REF" >"$WORK/ref.tree"
	"$FSOPS" --tree "$1" >"$WORK/share.tree"
	diff -u "$WORK/ref.tree" "$WORK/share.tree" >"$WORK/diff" ||
		fail "the host's tree differs from the local one:
$(head -40 "$WORK/diff")"
}

# xattr_of FILE NAME: prints the host xattr's value (hex for binary).
xattr_of() {
	python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).hex())' "$1" "$2"
}

# expect_mapped_tree DIR USER: on the host, security=mapped kept the
# client's owners and file types out of DIR: every file belongs to USER
# (the server's), and there are only plain files and directories.
expect_mapped_tree() {
	local owners
	owners=$(find "$1" -printf '%u\n' | sort -u)
	[ "$owners" = "$2" ] || fail "host files are owned by: $owners"
	[ -z "$(find "$1" ! -type f ! -type d)" ] ||
		fail "the host holds something other than plain files and directories"
}
