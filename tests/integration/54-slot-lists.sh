#!/bin/bash
# 54-slot-lists.sh - verdicts of entries of up to 2 slots and of more.  A CIDR's
# compiled entry lists the rules that apply to it: its own, then those it
# inherits from the CIDRs that contain it, then the policy's default
# (unless a rule matches everything).  This test fixes what connects and
# datagrams get for entries of 1, 2, 3, 4, 8 and 16 slots, IPv4 /24 and
# IPv6 /64 and host entries (/32, /128) of 3, 8 and 16, under a default
# deny (EPERM) and a default allow (--errno EACCES) policy: every rule's
# port gets the rule's verdict (an own rule before an inherited one for
# the same port), a port no rule names the default, or the full rule's.
# Live edits across the boundary (2 -> 3 -> 4 -> 5 slots, an action changed
# in place, 3 -> 2 -> 1, a CIDR's rules all removed so the address falls
# back to its parent's, added again, host rules) and `apply -f` of the
# policy with other slot counts, each followed by every port's verdict at
# the /24 (/64), a host in it and a sibling outside it.  16 slots are
# accepted (15 rules and the default, or 16 rules one of which matches
# everything); one more, by `allow` on the CIDR itself, on its parent, on
# a host's parent two levels up, or by `apply -f`, is refused with one line
# naming the entry, and the policy and its verdicts stay as they were.
# The kernel keeps an entry's slots beyond two in its list (egress_lists):
# the lists are there, an entry whose list is gone (or of another
# generation) denies, in a default-allow policy too, an edit that would
# read such a policy back from the kernel refuses, and list tables
# live as host tables do (one per generation, the old one until gc, none
# for a generation without lists, one made by the swap of an edit that
# needs it, gone with the policy).
#
# Expected verdicts come from a model of the rules (the documented order:
# longest prefix first, at equal prefix deny before allow, a rule that
# matches everything after the port rules of its action; then the
# default), kept next to every edit; one check per address and state
# compares every probed port's verdict with the model's.
source "$(dirname "$0")/../lib.sh"

KS=(1 2 3 4 8 16 17 21 22 23 30)	# one /16 (/48) per case
ADDRS=()
for k in "${KS[@]}"; do
	ADDRS+=("10.$k.1.10" "10.$k.2.10" "10.$k.1.20" "10.$k.1.21")
	ADDRS+=("2001:db8:$k:1::10" "2001:db8:$k:2::10" "2001:db8:$k:1::20" "2001:db8:$k:1::21")
done
ADDRS+=(2001:db8:250::10)	# under no policy's CIDR (the broken-root check)
setup "${ADDRS[@]}"
# no periodic gc: the checks of what gc leaves and drops are not raced by it
start_egressd --gc-interval 0 || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg pd pa pe

# listeners on every port a rule names and on 7099, which none does
TCP_PORTS=(7001 7002 7003 7004 7005 7006 7007 7008 7009 7010 7011 7012 7013 7014 7015 7099)
UDP_PORTS=(7001 7006)
LISTENERS=()
listen_bg() {	# as lib.sh's listen, without waiting
	nsenter --net="/run/netns/$NS" "$PROBE" listen "$2" "$3" "$4" "$T/count.$1" \
		>"$T/listen.$1.out" 2>"$T/listen.$1.err" &
	BG_PIDS+=($!)
	LISTENERS+=("$1")
}
for p in "${TCP_PORTS[@]}"; do
	listen_bg "t4-$p" tcp 0.0.0.0 "$p"
	listen_bg "t6-$p" tcp :: "$p"
done
for p in "${UDP_PORTS[@]}"; do
	listen_bg "u4-$p" udp 0.0.0.0 "$p"
	listen_bg "u6-$p" udp :: "$p"
done
for l in "${LISTENERS[@]}"; do
	wait_until 10 grep -qx listening "$T/listen.$l.out" ||
		die "listener $l did not start: $(cat "$T/listen.$l.out" "$T/listen.$l.err")"
done

# ---------------------------------------------------------------- the model
# RULES["POL CIDR"]: " ACTION:PROTO:PORT ..." (PROTO tcp|udp|any, PORT N|any)
declare -A RULES DFLT DENIED ERRNO_OPT
DFLT=([pd]=deny [pa]=allow [pe]=deny)
DENIED=([pd]=EPERM [pa]=EACCES [pe]=EPERM)
ERRNO_OPT=([pd]="" [pa]="--errno EACCES" [pe]="")

model_del() {	# model_del POL CIDR PROTO PORT
	local k="$1 $2" t out=""
	for t in ${RULES[$k]:-}; do
		[ "${t#*:}" = "$3:$4" ] || out+=" $t"
	done
	if [ -n "$out" ]; then RULES[$k]="$out "; else unset "RULES[$k]"; fi
}
model_set() {	# model_set POL ACTION CIDR PROTO PORT (a rule of the same key changes its action)
	model_del "$1" "$3" "$4" "$5"
	RULES["$1 $3"]="${RULES[$1 $3]:- }$2:$4:$5 "
}
model_clear() {	# model_clear POL
	local k
	for k in "${!RULES[@]}"; do
		[ "${k%% *}" = "$1" ] && unset "RULES[$k]"
	done
}
# verdict POL PROTO PORT CIDR...: the action for PROTO/PORT at an address
# whose containing CIDRs (those with rules or not) are CIDR..., innermost first
verdict() {
	local pol=$1 proto=$2 port=$3 c set act t
	shift 3
	for c in "$@"; do
		set=${RULES[$pol $c]:-}
		[ -n "$set" ] || continue
		for act in deny allow; do
			for t in "$act:$proto:$port" "$act:any:$port" "$act:$proto:any" "$act:any:any"; do
				case $set in *" $t "*) echo "$act"; return ;; esac
			done
		done
	done
	echo "${DFLT[$pol]}"
}
# slots POL CIDR...: the slots of the entry that decides for that address
slots() {
	local pol=$1 c n=0 set
	shift
	for c in "$@"; do
		set=${RULES[$pol $c]:-}
		[ -n "$set" ] || continue
		n=$((n + $(wc -w <<<"$set")))
		case $set in *":any:any "*) echo $n; return ;; esac
	done
	echo $((n + 1))
}
# words ACTION CIDR PROTO PORT: egressctl's words for the rule
words() {
	printf '%s\n' "$1" "$2"
	[ "$3" = any ] || printf '%s\n' --proto "$3"
	[ "$4" = any ] || printf '%s\n' --port "$4"
}
# policy_file POL: the model's rules of POL as a policy file
policy_file() {
	local k t a c p q
	echo "policy add $1 --default ${DFLT[$1]} ${ERRNO_OPT[$1]}"
	for k in "${!RULES[@]}"; do
		[ "${k%% *}" = "$1" ] || continue
		c=${k#* }
		for t in ${RULES[$k]}; do
			IFS=: read -r a p q <<<"$t"
			echo "$(words "$a" "$c" "$p" "$q" | tr '\n' ' ')--policy $1"
		done
	done
}

# ---------------------------------------------------------------- addresses
# net FAM K: P (the /16 or /48), C (the /24 or /64 in it), H (a host in C);
# TGT an address of C, HT H's address, HS another address of C, SIB an
# address of P outside C; their chains of containing CIDRs
net() {
	local k=$2
	if [ "$1" = v4 ]; then
		P=10.$k.0.0/16 C=10.$k.1.0/24 H=10.$k.1.20/32
		TGT=10.$k.1.10 SIB=10.$k.2.10 HT=10.$k.1.20 HS=10.$k.1.21
	else
		P=2001:db8:$k::/48 C=2001:db8:$k:1::/64 H=2001:db8:$k:1::20/128
		TGT=2001:db8:$k:1::10 SIB=2001:db8:$k:2::10 HT=2001:db8:$k:1::20 HS=2001:db8:$k:1::21
	fi
}
chain() {	# chain tgt|sib|ht|hs: the CIDRs that contain it, innermost first (after net)
	case $1 in
	tgt | hs) echo "$C $P" ;;
	sib) echo "$P" ;;
	ht) echo "$H $C $P" ;;
	esac
}
addr() {
	case $1 in
	tgt) echo "$TGT" ;; sib) echo "$SIB" ;; ht) echo "$HT" ;; hs) echo "$HS" ;;
	esac
}

# define POL FAM K LEVEL:ACTION:PROTO:PORT...: rules into the model.  LEVEL
# h (H), c (C) or p (P); ACTION allow, deny, O (the opposite of POL's
# default) or D (POL's default)
define() {
	local pol=$1 t lvl a p q o
	net "$2" "$3"
	shift 3
	o=allow
	[ "${DFLT[$pol]}" = allow ] && o=deny
	for t in "$@"; do
		IFS=: read -r lvl a p q <<<"$t"
		case $a in O) a=$o ;; D) a=${DFLT[$pol]} ;; esac
		case $lvl in h) lvl=$H ;; c) lvl=$C ;; p) lvl=$P ;; esac
		model_set "$pol" "$a" "$lvl" "$p" "$q"
	done
}

# ---------------------------------------------------------------- checks
word() {	# word POL ACTION: what the probe prints
	if [ "$2" = allow ]; then echo ok; else echo "${DENIED[$1]}"; fi
}
# verify NAME POL FAM K WHO PROBE...: from POL's cgroup, each PROBE
# (PROTO/PORT) to WHO (tgt|sib|ht|hs) of case K gets the model's verdict
verify() {
	local n=$1 pol=$2 who=$5 pp a ch want got bad="" s
	net "$3" "$4"
	shift 5
	a=$(addr "$who")
	ch=$(chain "$who")
	# shellcheck disable=SC2086
	s=$(slots "$pol" $ch)
	for pp in "$@"; do
		# shellcheck disable=SC2086
		want=$(word "$pol" "$(verdict "$pol" "${pp%/*}" "${pp#*/}" $ch)")
		got=$(probe_as "$CGROOT/$pol" nobody "${pp%/*}" "$a" "${pp#*/}" 2>"$T/stderr.last")
		[ "$got" = "$want" ] || bad+="$pp expected $want, got '$got' $(cat "$T/stderr.last"); "
	done
	if [ -z "$bad" ]; then
		pass "$n/$who-${s}slots"
	else
		fail "$n/$who-${s}slots" "$a (${s} slots: $(for c in $ch; do printf '%s[%s] ' "$c" "${RULES[$pol $c]:-}"; done)): $bad"
	fi
}
tcp_ports() {	# tcp_ports FIRST LAST: tcp/FIRST .. tcp/LAST and tcp/7099
	local p
	for ((p = $1; p <= $2; p++)); do
		echo "tcp/$p"
	done
	echo tcp/7099
}

# ---------------------------------------------------------------- entries of 1 to 16 slots
# K: the case's rules (same for every policy and family), the addresses it
# probes and the ports
declare -A RULESET WHO PORTS_OF
RULESET[1]="c:O:any:any"					# 1 slot: a full rule
RULESET[2]="c:O:tcp:7001"					# 2: a rule, the default
RULESET[3]="c:O:tcp:7001 p:O:tcp:7002"			# 3: one inherited
RULESET[4]="c:O:tcp:7001 c:O:tcp:7002 p:O:tcp:7003"	# 4
# 8: an own rule for 7005 (the default's action) before the parent's
# opposite one; a udp rule
RULESET[8]="c:O:tcp:7001 c:O:tcp:7002 c:O:tcp:7003 c:D:tcp:7005 p:O:tcp:7004 p:O:tcp:7005 p:O:udp:7006"
# 16: 15 rules and the default
RULESET[16]="$(for p in 7001 7002 7003 7004 7005 7006 7007; do printf 'c:O:tcp:%s ' $p; done) c:D:tcp:7009
	$(for p in 7008 7009 7010 7011 7012 7013 7014; do printf 'p:O:tcp:%s ' $p; done)"
# 16 rules, no default: the parent's last one matches everything
RULESET[17]="$(for p in 7001 7002 7003 7004 7005 7006 7007; do printf 'c:deny:tcp:%s ' $p; done) c:allow:tcp:7009
	$(for p in 7008 7009 7010 7011 7012 7013 7014; do printf 'p:deny:tcp:%s ' $p; done) p:allow:any:any"
# hosts: 3 slots (own, the /24's, default), 8 (3 own, 2, 2, default; an own
# rule for 7004 before the /24's), 16 (6 own, 5, 4, default)
RULESET[21]="h:O:tcp:7001 c:O:tcp:7002"
RULESET[22]="h:O:tcp:7001 h:O:tcp:7002 h:D:tcp:7004 c:O:tcp:7003 c:O:tcp:7004 p:O:tcp:7005 p:O:tcp:7006"
RULESET[23]="$(for p in 7001 7002 7003 7004 7005; do printf 'h:O:tcp:%s ' $p; done) h:D:tcp:7007
	$(for p in 7006 7007 7008 7009 7010; do printf 'c:O:tcp:%s ' $p; done)
	$(for p in 7011 7012 7013 7014; do printf 'p:O:tcp:%s ' $p; done)"
for k in 1 2 3 4 8 16 17; do WHO[$k]="tgt sib"; done
for k in 21 22 23; do WHO[$k]="ht hs sib"; done
PORTS_OF[1]="tcp/7001 tcp/7099 udp/7001"
PORTS_OF[2]="$(tcp_ports 7001 7002) udp/7001"
PORTS_OF[3]=$(tcp_ports 7001 7003)
PORTS_OF[4]=$(tcp_ports 7001 7004)
PORTS_OF[8]="$(tcp_ports 7001 7006) udp/7006 udp/7001"
PORTS_OF[16]=$(tcp_ports 7001 7015)
PORTS_OF[17]=$(tcp_ports 7001 7015)
PORTS_OF[21]=$(tcp_ports 7001 7003)
PORTS_OF[22]=$(tcp_ports 7001 7007)
PORTS_OF[23]=$(tcp_ports 7001 7015)

for pol in pd pa; do
	for fam in v4 v6; do
		for k in 1 2 3 4 8 16 17 21 22 23; do
			# shellcheck disable=SC2086
			define "$pol" "$fam" "$k" ${RULESET[$k]}
		done
	done
	policy_file "$pol" >"$T/$pol.policy"
done
cat "$T/pd.policy" "$T/pa.policy" >"$T/initial.policy"
ectl apply -f "$T/initial.policy" >/dev/null 2>"$T/err" || die "apply: $(cat "$T/err")"
ectl_ok setup attach "$CGROOT/pd" --policy pd || die "attach pd"
ectl_ok setup attach "$CGROOT/pa" --policy pa || die "attach pa"
check_json setup/rules-loaded \
	"[.[] | select(.name == \"pd\" or .name == \"pa\") | .rules] == [$(grep -c -- '--policy pd$' "$T/pd.policy"), $(grep -c -- '--policy pa$' "$T/pa.policy")]" \
	"$(ectl policy list --json 2>&1 | jq -c 'sort_by(.name != "pd")')"

verify_case() {	# verify_case NAME POL FAM K
	local w
	for w in ${WHO[$4]}; do
		# shellcheck disable=SC2086
		verify "$1" "$2" "$3" "$4" "$w" ${PORTS_OF[$4]}
	done
}
for pol in pd pa; do
	for fam in v4 v6; do
		for k in 1 2 3 4 8 16 17 21 22 23; do
			verify_case "$pol/$fam/case$k" "$pol" "$fam" "$k"
		done
	done
done

# ---------------------------------------------------------------- 16 slots, and no more
for pol in pd pa; do
	for fam in v4 v6; do
		n=$pol/$fam/limit
		o=allow
		[ "${DFLT[$pol]}" = allow ] && o=deny
		# 16 slots by an edit: case 16's last own rule and case 17's
		# (the 16th rule) removed and added again
		net "$fam" 16
		check "$n/case16-remove" ectl remove "$C" --proto tcp --port 7007 --policy "$pol"
		model_del "$pol" "$C" tcp 7007
		verify "$n/case16-15slots" "$pol" "$fam" 16 tgt tcp/7007 tcp/7008 tcp/7099
		check "$n/case16-readd" ectl "$o" "$C" --proto tcp --port 7007 --policy "$pol"
		model_set "$pol" "$o" "$C" tcp 7007
		net "$fam" 17
		check "$n/case17-remove" ectl remove "$C" --proto tcp --port 7009 --policy "$pol"
		model_del "$pol" "$C" tcp 7009
		verify "$n/case17-15rules" "$pol" "$fam" 17 tgt tcp/7009 tcp/7099
		check "$n/case17-16th-rule" ectl allow "$C" --proto tcp --port 7009 --policy "$pol"
		model_set "$pol" allow "$C" tcp 7009
		# an action changed in place at 16 slots: the count stays
		net "$fam" 16
		check "$n/case16-flip" ectl deny "$P" --proto tcp --port 7014 --policy "$pol"
		model_set "$pol" deny "$P" tcp 7014
		verify "$n/case16-flipped" "$pol" "$fam" 16 tgt tcp/7013 tcp/7014 tcp/7099
		check "$n/case16-flip-back" ectl "$o" "$P" --proto tcp --port 7014 --policy "$pol"
		model_set "$pol" "$o" "$P" tcp 7014

		# one more: refused, one line naming the entry, nothing changed
		# (check_bad compares the export of every policy)
		net "$fam" 16
		check_bad "$n/case16-own-17th" ectl "$o" "$C" --proto tcp --port 7015 --policy "$pol"
		check "$n/case16-own-17th-names-entry" grep -qF -- "$C" "$T/bad.err"
		check_bad "$n/case16-parent-17th" ectl "$o" "$P" --proto tcp --port 7015 --policy "$pol"
		check "$n/case16-parent-17th-names-entry" grep -qF -- "$C" "$T/bad.err"
		check_bad "$n/case16-udp-17th" ectl "$o" "$C" --proto udp --port 7001 --policy "$pol"
		net "$fam" 17
		check_bad "$n/case17-17th-rule" ectl deny "$C" --proto tcp --port 7015 --policy "$pol"
		check "$n/case17-17th-names-entry" grep -qF -- "$C" "$T/bad.err"
		net "$fam" 23
		check_bad "$n/case23-host-17th" ectl "$o" "$H" --proto tcp --port 7015 --policy "$pol"
		check "$n/case23-host-17th-names-entry" grep -qF -- "$H" "$T/bad.err"
		check_bad "$n/case23-grandparent-17th" ectl "$o" "$P" --proto tcp --port 7015 --policy "$pol"
		check "$n/case23-grandparent-17th-names-host" grep -qF -- "$H" "$T/bad.err"
		# the file with one more rule, whole
		net "$fam" 16
		{ policy_file pd; policy_file pa; words "$o" "$C" tcp 7015 | tr '\n' ' '; echo "--policy $pol"; } >"$T/17.policy"
		check_bad "$n/apply-17th" ectl apply -f "$T/17.policy"
		check "$n/apply-17th-names-entry" grep -qF -- "$C" "$T/bad.err"
		for k in 16 17 23; do
			verify_case "$n/unchanged/case$k" "$pol" "$fam" "$k"
		done
	done
done

# ---------------------------------------------------------------- live edits and apply
ectl_ok setup policy add pe --default deny || die "policy add pe"
ectl_ok setup attach "$CGROOT/pe" --policy pe || die "attach pe"
EDIT_PROBES=$(tcp_ports 7001 7006)
after() {	# after NAME: every port's verdict at the /24, the host in it, a sibling
	local w
	for w in tgt ht sib; do
		# shellcheck disable=SC2086
		verify "$1" pe "$FAM" 30 "$w" $EDIT_PROBES
	done
}
# edit NAME allow|deny|remove c|p|h PROTO PORT: an egressctl edit of pe, in
# the model too, then after
edit() {
	local n=$1 a=$2 lvl=$3 proto=$4 port=$5 cidr w
	net "$FAM" 30
	case $lvl in h) cidr=$H ;; c) cidr=$C ;; p) cidr=$P ;; esac
	mapfile -t w < <(words "$a" "$cidr" "$proto" "$port")
	check "$n/edit" ectl "${w[@]}" --policy pe
	if [ "$a" = remove ]; then model_del pe "$cidr" "$proto" "$port"; else model_set pe "$a" "$cidr" "$proto" "$port"; fi
	after "$n"
}
# whole NAME RULE...: `apply -f` of pe as the model's rules after define
whole() {
	local n=$1
	shift
	model_clear pe
	define pe "$FAM" 30 "$@"
	policy_file pe >"$T/pe.policy"
	check "$n/apply" ectl apply -f "$T/pe.policy"
	after "$n"
}

for FAM in v4 v6; do
	n=pe/$FAM
	whole "$n/00-start" h:allow:tcp:7005 c:allow:tcp:7001
	edit "$n/01-grow-2-to-3" allow c tcp 7002
	edit "$n/02-grow-3-to-4-inherited" allow p tcp 7003
	edit "$n/03-grow-4-to-5-own-before-inherited" deny c tcp 7003
	edit "$n/04-action-in-place" deny c tcp 7002
	edit "$n/05-action-back" allow c tcp 7002
	edit "$n/06-shrink-5-to-4" remove c tcp 7003
	edit "$n/07-shrink-4-to-3" remove p tcp 7003
	edit "$n/08-shrink-3-to-2" remove c tcp 7002
	edit "$n/09-full-rule-drops-inherited" allow c any any
	edit "$n/10-shrink-2-to-1" remove c tcp 7001
	edit "$n/11-grow-1-to-2" deny c tcp 7002
	edit "$n/12-parent-rule-hidden-by-full" allow p tcp 7004
	edit "$n/13-parent-rule-2" deny p tcp 7001
	edit "$n/14-remove-port-rule" remove c tcp 7002
	edit "$n/15-remove-last-falls-back-to-parent" remove c any any
	edit "$n/16-readd" allow c tcp 7001
	edit "$n/17-readd-grow" allow c tcp 7002
	edit "$n/18-readd-grow-more" allow c tcp 7003
	edit "$n/19-host-own-before-inherited" deny h tcp 7002
	edit "$n/20-host-grow" allow h tcp 7006
	edit "$n/21-host-shrink" remove h tcp 7005
	edit "$n/22-host-shrink-more" remove h tcp 7006
	edit "$n/23-host-gone" remove h tcp 7002
	# the whole policy replaced: the /24 at 8 slots, the host at 11
	whole "$n/24-apply-8" h:deny:tcp:7001 h:allow:tcp:7005 h:allow:udp:7006 \
		c:allow:tcp:7001 c:allow:tcp:7002 c:allow:tcp:7003 c:deny:tcp:7004 \
		p:allow:tcp:7004 p:allow:tcp:7005 p:allow:tcp:7006
	verify "$n/24-apply-8/udp" pe "$FAM" 30 ht udp/7006 udp/7001
	# at 3, then at 2 (the host at 3), then 1
	whole "$n/25-apply-3" c:deny:tcp:7002 p:allow:tcp:7002
	whole "$n/26-apply-2" h:allow:tcp:7004 c:allow:tcp:7003
	whole "$n/27-apply-1" h:allow:tcp:7004 c:allow:any:any
done

# ---------------------------------------------------------------- the lists in the kernel
# Entries of more than two slots keep their slots in the generation's list
# table (egress_lists, slot policy * 2 + parity, keyed by the entry's CIDR
# as a trie key); an entry whose list is missing denies (fail closed)
pid_of() { ectl status --json 2>/dev/null | jq -r ".policies[] | select(.name == \"$1\") | .id"; }
# the map ids of the list tables of policy $1 (both parities)
list_tables() {
	local id
	id=$(pid_of "$1")
	bpftool -j map dump pinned "$PIN/maps/egress_lists" 2>/dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    k = int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little")
    if k // 2 == int(sys.argv[1]):
        print(int.from_bytes(bytes(int(x, 16) for x in e["value"]), "little"))' "$id"
}
nlists=0
for m in $(list_tables pd); do
	nlists=$((nlists + $(bpftool -j map dump id "$m" | jq length)))
done
# pd's entries of more than two slots: cases 3, 4, 8, 16, 17 (/24, /64) and 21-23 (hosts), both families
check "kernel/pd-lists-in-table" test "$nlists" -ge 16
# case 3's /24 (own allow tcp 7001, its /16's allow tcp 7002, the default): its list deleted, the
# addresses under it denied even on the ports its rules allow (looked up: not the cached decision);
# an apply puts the list back
net v4 3
check_eq kernel/case3-before ok "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7001)"
# the level's decision cache holds its last allowed connect on each CPU (a
# map changed by hand is no policy change): the last one on every CPU made
# elsewhere
for ((cpu = 0; cpu < $(nproc); cpu++)); do
	check_eq "kernel/case3-sibling-before-cpu$cpu" ok "$(run_as "$CGROOT/pd" nobody taskset -c "$cpu" "$PROBE" tcp "$SIB" 7002)"
done
key="56 0 0 0 4 0 0 0 10 3 1 0 0 0 0 0 0 0 0 0 0 0 0 0"
deleted=0
for m in $(list_tables pd); do
	# shellcheck disable=SC2086
	bpftool map delete id "$m" key $key 2>/dev/null && deleted=$((deleted + 1))
done
check_eq kernel/case3-list-deleted 1 "$deleted"
check_eq kernel/case3-no-list-denies EPERM "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7001)"
check_eq kernel/case3-no-list-denies-inherited EPERM "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7002)"
# such a denial is no rule's and not the default's: counted as broken, its
# event says so (an operator applies the policy again)
check kernel/case3-broken-counted test "$(ectl status --json | jq .broken_denials)" -ge 2
check kernel/case3-status-says-broken grep -q "^BROKEN: " <(ectl status)
broken_event() { events_matching ".dst == \"$TGT\" and .dport == 7001 and .rule == \"broken policy maps\"" | grep -q .; }
check kernel/case3-event-says-broken wait_until 5 broken_event
# a list of another generation counts as none: case 4's /24 (own allow tcp
# 7001 and 7002, its /16's allow tcp 7003), its list's generation changed
net v4 4
key4="56 0 0 0 4 0 0 0 10 4 1 0 0 0 0 0 0 0 0 0 0 0 0 0"
changed=0
for m in $(list_tables pd); do
	val=$(bpftool -j map lookup id "$m" key $key4 2>/dev/null | python3 -c '
import json, sys
v = [int(x, 16) for x in json.load(sys.stdin)["value"]]
v[0] ^= 0xff
print(" ".join(str(x) for x in v))' 2>/dev/null) || continue
	# shellcheck disable=SC2086
	bpftool map update id "$m" key $key4 value $val && changed=$((changed + 1))
done
check_eq kernel/case4-list-gen-changed 1 "$changed"
check_eq kernel/case4-other-gen-denies EPERM "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7001)"
check_eq kernel/case4-other-gen-denies-inherited EPERM "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7003)"
# the default-allow policy: case 3's /24 denies tcp 7001 and its /16 tcp
# 7002 (errno EACCES); with the /24's list gone its addresses are denied
# every port, not allowed by the default
net v4 3
for ((cpu = 0; cpu < $(nproc); cpu++)); do
	check_eq "kernel/pa-sibling-before-cpu$cpu" ok "$(run_as "$CGROOT/pa" nobody taskset -c "$cpu" "$PROBE" tcp "$SIB" 7099)"
done
deleted=0
for m in $(list_tables pa); do
	# shellcheck disable=SC2086
	bpftool map delete id "$m" key $key 2>/dev/null && deleted=$((deleted + 1))
done
check_eq kernel/pa-case3-list-deleted 1 "$deleted"
check_eq kernel/pa-case3-no-list-denies-default-port EACCES "$(probe_as "$CGROOT/pa" nobody tcp "$TGT" 7099)"
check_eq kernel/pa-case3-no-list-denies EACCES "$(probe_as "$CGROOT/pa" nobody tcp "$TGT" 7001)"
# without its store an edit reads the policy back from the kernel: with a
# list missing it refuses in one line (rules read back without the list
# would lose the /24's denies, and the edit would write them away)
rm "$PIN/store/$(pid_of pa)" || fail kernel/pa-store-rm "cannot remove the store pin"
check_bad kernel/pa-edit-without-store-refused ectl allow 10.99.0.0/16 --policy pa
check kernel/pa-edit-without-store-says grep -q "cannot read policy 'pa' back" "$T/bad.err"
check_eq kernel/pa-edit-without-store-still-denied EACCES "$(probe_as "$CGROOT/pa" nobody tcp "$TGT" 7001)"
{ policy_file pd; policy_file pa; } >"$T/back.policy"
check kernel/apply-again ectl apply -f "$T/back.policy"
verify_case kernel/case3-after-apply pd v4 3
verify_case kernel/case4-after-apply pd v4 4
verify_case kernel/pa-case3-after-apply pa v4 3
# a trie without its IPv6 root (every trie has /0 roots: only tampering
# removes one; the IPv4 root, which socket creation reads, stays): an
# address under no other entry finds none, denied, and named broken too
# (the default-allow policy would have allowed it); an apply puts it back
pa_trie=$(printf '%d' "0x$(bpftool -j map lookup pinned "$PIN/maps/egress_policies" key "$(pid_of pa)" 0 0 0 |
	jq -r '.value | map(ltrimstr("0x")) | reverse | join("")')")
check kernel/pa-v6-root-deleted bpftool map delete id "$pa_trie" key 32 0 0 0 6 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
check_eq kernel/pa-no-entry-denies EPERM "$(probe_as "$CGROOT/pa" nobody tcp 2001:db8:250::10 7001)"
no_entry_event() { events_matching '.dst == "2001:db8:250::10" and .rule == "broken policy maps"' | grep -q .; }
check kernel/pa-no-entry-event-says-broken wait_until 5 no_entry_event
policy_file pa >"$T/pa.policy"
check kernel/pa-apply-again ectl apply -f "$T/pa.policy"
check_eq kernel/pa-root-back-default-allows ok "$(probe_as "$CGROOT/pa" nobody tcp 2001:db8:250::10 7001)"

# list tables across generations, as host tables: the apply above made a
# generation whose table is in the other slot, the old one stays until gc
check_eq kernel/tables-after-swap 2 "$(list_tables pd | wc -l)"
check kernel/gc ectl gc
check_eq kernel/tables-after-gc 1 "$(list_tables pd | wc -l)"
# a generation without lists clears its slot; gc drops the old one
net v4 3
{ echo "policy add pd --default deny"; echo "allow $C --proto tcp --port 7001 --policy pd"; } >"$T/nolists.policy"
check kernel/apply-no-lists ectl apply -f "$T/nolists.policy"
check kernel/gc-again ectl gc
check_eq kernel/no-tables 0 "$(list_tables pd | wc -l)"
check_eq kernel/no-lists-allowed ok "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7001)"
check_eq kernel/no-lists-default EPERM "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7002)"
# an edit that needs a list in a generation without a table: swapped in
# whole, with one (nothing written before: the plan is checked first)
check kernel/edit-needs-list ectl allow "$P" --proto tcp --port 7002 --policy pd
check_eq kernel/edit-made-table 1 "$(list_tables pd | wc -l)"
check_eq kernel/edit-own ok "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7001)"
check_eq kernel/edit-inherited ok "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7002)"
check_eq kernel/edit-default EPERM "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7003)"
# and the next one in place, into that table
check kernel/edit-in-place ectl deny "$P" --proto tcp --port 7003 --policy pd
check_eq kernel/edit-in-place-same-table 1 "$(list_tables pd | wc -l)"
check_eq kernel/edit-in-place-denied EPERM "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7003)"
check_eq kernel/edit-in-place-kept ok "$(probe_as "$CGROOT/pd" nobody tcp "$TGT" 7002)"
PD_ID=$(pid_of pd)
ectl_ok teardown detach "$CGROOT/pd"
check kernel/delete ectl policy delete pd
check_eq kernel/delete-no-tables 0 "$(bpftool -j map dump pinned "$PIN/maps/egress_lists" | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little") // 2 == int(sys.argv[1])))' "$PD_ID")"

finish
