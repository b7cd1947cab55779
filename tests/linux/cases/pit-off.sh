# --pit off: stock Linux on a board without the i8254 (as Cloud
# Hypervisor's) takes the TSC frequency from kvmclock and times with the
# LAPIC: it boots to init, its clocksource is kvm-clock and its clock
# event device the LAPIC timer (one-shot "lapic" in the lab, whose
# emulated CPU has no TSC-deadline timer; "lapic-deadline" where the host
# has one), a 1 s sleep takes a second, and it leaves by the exit port.
# The same with the PIT (the default board), for comparison.
line() {
	tr -d '\r' <"$out" | grep -qxE -- "$1" ||
		fail "--pit $pit: no line '$1': $(grep guest: "$out" | tr '\n' '|')"
}
for pit in off on; do
	boot --append "vmmtest.script=timers" --memory 256M --pit "$pit"
	expect_exit 0
	line "guest: clocksource kvm-clock"
	line "guest: clockevent lapic(-deadline)?"
	line "guest: slept 1 s ok"
	echo "  --pit $pit: $(grep -E 'guest: (clock|slept)' "$out" | tr '\n' ' ')"
done
