# The peer matrix shared by zcat-net-nc.bats and zcat-net-socat.bats.

# peer_cmd PEER ROLE FAM ADDR DATA: prints the peer command line (one word
# a line). ROLE listen|connect; ADDR a port or a socket path; DATA
# send|recv is what the peer does with the bytes.
peer_cmd() {
	local peer=$1 role=$2 fam=$3 addr=$4 data=$5
	case $peer in
	nc)
		echo nc
		echo -N
		[ "$role" = listen ] && echo -l
		case $fam in
		tcp4) echo 127.0.0.1; echo "$addr" ;;
		tcp6) echo ::1; echo "$addr" ;;
		unix) echo -U; echo "$addr" ;;
		esac
		;;
	socat)
		local a
		case $fam/$role in
		tcp4/listen) a=TCP4-LISTEN:$addr,bind=127.0.0.1,reuseaddr ;;
		tcp6/listen) a=TCP6-LISTEN:$addr,bind=[::1],reuseaddr ;;
		unix/listen) a=UNIX-LISTEN:$addr ;;
		tcp4/connect) a=TCP4:127.0.0.1:$addr ;;
		tcp6/connect) a=TCP6:[::1]:$addr ;;
		unix/connect) a=UNIX-CONNECT:$addr ;;
		esac
		echo socat
		echo -u
		if [ "$data" = send ]; then
			echo STDIN
			echo "$a"
		else
			echo "$a"
			echo STDOUT
		fi
		;;
	esac
}

# xfer PEER FAM ROLE DIR SIZE: zcat-net in ROLE (client: it connects to
# the peer; server: it listens) moves SIZE random bytes in DIR (send:
# from its stdin to the peer; recv: from the peer to its stdout).
xfer() {
	local peer=$1 fam=$2 role=$3 dir=$4 size=$5
	local pdata zin zout pin pout addr spec try
	local -a pcmd zcmd

	head -c "$size" /dev/urandom > "$T/data"
	if [ "$dir" = send ]; then
		pdata=recv zin=$T/data zout=$T/zout pin=/dev/null pout=$T/got
	else
		pdata=send zin=/dev/null zout=$T/got pin=$T/data pout=$T/pout
	fi
	rm -f "$T/got" "$T/zout" "$T/pout" "$T/s"

	if [ "$role" = client ]; then
		for try in 1 2 3 4 5; do
			if [ "$fam" = unix ]; then
				addr=$T/s
			else
				addr=$(random_port)
			fi
			mapfile -t pcmd < <(peer_cmd "$peer" listen "$fam" \
			    "$addr" "$pdata")
			IN=$pin OUT=$pout bg peer 20 "${pcmd[@]}"
			if [ "$fam" = unix ]; then
				wait_unix "$addr" && break
			else
				wait_tcp "$addr" peer && break
			fi
			reap peer
		done
		# nc -l stops sending once its client half-closes (Debian
		# nc 1.219 drops the rest of its input), so when nc sends,
		# zcat-net does not read its stdin (-d, no half-close).
		zcmd=()
		[ "$peer/$dir" = nc/recv ] && zcmd=(-d)
		case $fam in
		tcp4) zcmd+=(127.0.0.1 "$addr") ;;
		tcp6) zcmd+=("[::1]:$addr") ;;
		unix) zcmd+=(-U "$addr") ;;
		esac
		status=0
		timeout 20 "$ZCAT_NET" "${zcmd[@]}" < "$zin" > "$zout" \
		    2> "$T/zcn.err" || status=$?
		reap peer
		[ "$status" -eq 0 ] || { echo "zcat-net: $status $(cat "$T/zcn.err")"; return 1; }
		[ "$(rc_of peer)" -eq 0 ] || { echo "peer: $(cat "$T/peer.err")"; return 1; }
	else
		case $fam in
		tcp4) zcmd=(-l 127.0.0.1 0) ;;
		tcp6) zcmd=(-l "[::1]:0") ;;
		unix) zcmd=(-lU "$T/s") ;;
		esac
		IN=$zin OUT=$zout bg zcn 20 "$ZCAT_NET" -v "${zcmd[@]}"
		if [ "$fam" = unix ]; then
			zlistening zcn
			addr=$T/s
		else
			addr=$(zport zcn)
		fi
		mapfile -t pcmd < <(peer_cmd "$peer" connect "$fam" "$addr" \
		    "$pdata")
		status=0
		timeout 20 "${pcmd[@]}" < "$pin" > "$pout" 2> "$T/peer.err" ||
		    status=$?
		reap zcn
		[ "$status" -eq 0 ] || { echo "peer: $status $(cat "$T/peer.err")"; return 1; }
		[ "$(rc_of zcn)" -eq 0 ] || { echo "zcat-net: $(cat "$T/zcn.err")"; return 1; }
		# The summary counts every byte.
		grep -q "received $([ "$dir" = recv ] && echo "$size" || echo 0) bytes" "$T/zcn.err"
	fi
	[ "$(sum_of "$T/got")" = "$(sum_of "$T/data")" ] ||
	    { echo "$peer $fam $role $dir $size: bytes differ"; return 1; }
	# Nothing came the other way.
	if [ "$dir" = send ]; then
		[ ! -s "$T/zout" ]
	else
		[ ! -s "$T/pout" ]
	fi
}

matrix() {
	local s
	if [ "$2" = tcp6 ] && ! have_ipv6; then
		skip "no ::1 on this host"
	fi
	for s in 0 1 1048577; do
		xfer "$@" "$s"
	done
}
