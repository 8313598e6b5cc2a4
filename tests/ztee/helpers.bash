# Shared by the ztee bats files. ZTEE may point at /usr/bin/tee to check
# the tests themselves; GNU_TEE is the reference for differential tests.

: "${ZTEE:?ZTEE is not set}"
GNU_TEE=${GNU_TEE:-/usr/bin/tee}
SOCKIO="$BATS_TEST_DIRNAME/sockio.py"

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}

# Skips tests of ztee's own features when ZTEE is GNU tee.
need_ztee() {
	"$ZTEE" --version | head -n1 | grep -q '(zerocopy)' ||
		skip "not ztee"
}

sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# Fails unless every named file has the bytes of the first.
same() {
	local want f
	want=$(sha "$1")
	shift
	for f in "$@"; do
		[ -f "$f" ] || { echo "missing: $f"; return 1; }
		[ "$(sha "$f")" = "$want" ] ||
			{ echo "differs: $f ($(stat -c %s "$f") bytes)"; return 1; }
	done
}

lines() {
	wc -l <"$1" | tr -d ' '
}

# Starts a sockio.py listener in the background; sets PORT (tcp).
listener() {
	local kind=$1 addr=$2 out=$3 i
	shift 3
	rm -f "$out.ready"
	timeout 60 python3 "$SOCKIO" listen "$kind" "$addr" "$out" \
	    "$out.ready" "$@" &
	PIDS+=($!)
	for i in $(seq 100); do
		[ -f "$out.ready" ] && break
		sleep 0.05
	done
	[ -f "$out.ready" ] || { echo "listener did not start"; return 1; }
	PORT=$(cat "$out.ready")
}

# Waits for the last listener to have written its file and exited.
wait_listeners() {
	local p
	for p in "${PIDS[@]}"; do
		wait "$p" || return 1
	done
	PIDS=()
}

# A reader of FIFO that takes one block and goes away, like GNU's tests.
read_one_block() {
	timeout 10 dd count=1 if="$1" of=/dev/null status=none &
	PIDS+=($!)
}

# Runs "yes | TEE ARGS >fifo" against a reader that takes one block;
# sets ST (exit status) and ERRS (stderr lines).
yes_to_gone_reader() {
	local tee=$1
	shift
	rm -f fifo
	mkfifo fifo
	read_one_block fifo
	ST=0
	yes | timeout 10 "$tee" "$@" 2>err >fifo || ST=$?
	ERRS=$(lines err)
}
