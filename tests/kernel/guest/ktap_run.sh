#!/bin/sh
# KTAP runner for guest suites (busybox sh).
#
#   sh ktap_run.sh SUITE.sh
#
# A suite is a shell file defining one function per test case, named
# kt_<case>() and written as `kt_<case>() {` at the start of a line; the
# cases run in the order they are defined, in this shell (so a case sees
# what the previous ones did). A case passes when its function returns 0,
# is skipped when it returns 77 (its last output line is the reason), and
# fails otherwise. Everything a case prints becomes KTAP diagnostic lines
# ("# ...") just before its result line, for the host to show on failure.
#
# Helpers for suites: expect_eq GOT WANT WHAT, run CMD... (echoes the
# command, runs it, reports its status), skip REASON.

expect_eq() {
	if [ "$1" = "$2" ]; then
		return 0
	fi
	echo "$3: got '$1', want '$2'"
	return 1
}

run() {
	echo "\$ $*"
	"$@"
	_rc=$?
	if [ $_rc -ne 0 ]; then
		echo "exit status $_rc: $*"
	fi
	return $_rc
}

skip() {
	echo "$*"
	return 77
}

# The runner's own variables start with _kt_: suites share this shell.
_kt_suite=$1
. "$_kt_suite"

_kt_cases=$(sed -n 's/^kt_\([A-Za-z0-9_]*\)() *{.*/\1/p' "$_kt_suite")
_kt_total=0
for _kt_c in $_kt_cases; do
	_kt_total=$((_kt_total + 1))
done

echo "KTAP version 1"
echo "1..$_kt_total"
_kt_n=0
_kt_out=/tmp/ktap_case.out
for _kt_c in $_kt_cases; do
	_kt_n=$((_kt_n + 1))
	"kt_$_kt_c" >"$_kt_out" 2>&1 </dev/null
	_kt_rc=$?
	sed 's/^/# /' "$_kt_out"
	_kt_last=$(tail -n 1 "$_kt_out")
	if [ $_kt_rc -eq 0 ]; then
		echo "ok $_kt_n $_kt_c"
	elif [ $_kt_rc -eq 77 ]; then
		echo "ok $_kt_n $_kt_c # SKIP $_kt_last"
	else
		echo "not ok $_kt_n $_kt_c # exit status $_kt_rc"
	fi
done
