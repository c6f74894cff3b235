# crash_v2: the runtime SIGKILLed by strace at sampled system calls of
# create, delete --force, run -d, pause and update under cgroup v2 (the
# device eBPF program, cgroup.kill, cgroup.freeze, the v2 limit files,
# nested cgroup creation), and after every kill the clean-up invariants.
# Sourced by tests.sh (busybox sh); the host-side twin on cgroup v1 is
# tests/crash_syscalls.rs, whose method this follows:
#
# strace's injection counts per syscall *name* and per process, so one
# counting run (strace -f) gives, per name, the most calls one process of
# the command made, and each kill run is
# `--inject=NAME:signal=SIGKILL:when=N` for one (NAME, N) pair. A run kills
# at a sample of the pairs: the first and last of each name always, and
# every k-th of the rest from an offset that changes per run (printed;
# CRASH_V2_OFFSET repeats it), to a few kills per command (crash_plan:
# which names always get their first and last, and the budgets).
#
# After each kill:
# - `state` reads one of the statuses the command may leave (or "does not
#   exist" / "being created"), never a damaged record;
# - the command's promise: a killed pause leaves a container that resume
#   (or nothing) leaves running and not frozen (cgroup.events); a killed
#   update one that a second update updates (memory.max, cpu.max,
#   pids.max read back);
# - `delete --force` exits 0 or says the container does not exist;
# - every process strace traced is gone (strace has exited), no process
#   carries the container's marker (VMCRASH_MARK in its environment, which
#   the runtime, its init and the container's process all have), no
#   cgroup directory under the test's parent, nothing new in the runtime's
#   root;
# - no device program attached to the parent, /vmtest or the root cgroup,
#   and the kernel holds no more programs than before (probe bpf-count);
# - the same id can be created again at once (and deleted).
#
# The control (first): a container killed after create recorded it, with
# the delete --force left out, fails these checks: its cgroup, state dir,
# marked process and attached device program are all seen.

CRT=/run/rt-crash

crash_rt() {
    VMCRASH_MARK=1 "$RUNTIME" --root "$CRT" "$@"
}

# "name max" per syscall name from a strace -f log: the most calls one
# process made, a process counting up to an execve of something that is
# not the runtime (the container's application).
crash_counts() { # log
    awk -v bin="$RUNTIME" 'NR > 1 {
        pid = $1; rest = substr($0, length($1) + 1); sub(/^ +/, "", rest)
        i = index(rest, "("); if (i < 2) next
        name = substr(rest, 1, i - 1)
        if (name !~ /^[a-z0-9_]+$/ || (pid in gone)) next
        c[pid " " name]++
        if (name == "execve" && index(rest, "execve(\"" bin "\"") != 1) gone[pid] = 1
    } END {
        for (k in c) { split(k, a, " "); if (c[k] > m[a[2]]) m[a[2]] = c[k] }
        for (n in m) print n, m[n]
    }' "$1" | sort
}

# Per command: the syscall names whose first and last call are always
# killed (the cgroup v2 paths: the device program's load and attach and
# the cgroup's mkdir in create and run -d; cgroup.kill's write, the init's
# pidfd signal and the cgroup's rmdir in delete (of a container in the
# VM's pid namespace: with a pid namespace of its own only the init is
# killed, by pidfd); the cgroup.freeze write in pause; the limit
# files' writes in update), and the kills per command, to keep the test
# under 90 s under TCG (~2.9 s a round for create and run -d, ~1.6 s for
# the others; the counting runs and the control take ~25 s).
# CRASH_V2_BUDGET and CRASH_V2_KEY override both for every command.
crash_plan() { # cmd -> sets plan_budget, plan_key
    case $1 in
    create | run) plan_budget=5 plan_key="bpf mkdir" ;;
    delete) plan_budget=7 plan_key="rmdir write pidfd_send_signal" ;;
    pause) plan_budget=6 plan_key="write" ;;
    update) plan_budget=6 plan_key="write" ;;
    esac
    plan_budget=${CRASH_V2_BUDGET:-$plan_budget}
    plan_key=${CRASH_V2_KEY:-$plan_key}
}

# The (name, n) pairs to kill at, one "name n" a line. CRASH_V2_EVERY=1:
# all of them. Else the first and last call of each key name, then every
# k-th of the other pairs from the offset, k such that the whole is about
# the budget. The first and last of *every* name, as on the host, is 100+
# kills for create (66 names): several minutes under TCG, so the rest
# rotates with the offset from run to run.
crash_sample() { # counts-file budget offset key
    if [ "${CRASH_V2_EVERY:-}" = 1 ]; then
        awk '{ for (n = 1; n <= $2; n++) print $1, n }' "$1"
        return
    fi
    awk -v budget="$2" -v off="$3" -v key=" $4 " '{ name[NR] = $1; max[NR] = $2 }
    END {
        for (r = 1; r <= NR; r++) {
            if (index(key, " " name[r] " ")) {
                print name[r], 1; taken++
                if (max[r] > 1) { print name[r], max[r]; taken++ }
            } else total += max[r]
        }
        left = budget - taken; if (left < 1) left = 1
        k = int((total + left - 1) / left); if (k < 1) k = 1
        i = 0
        for (r = 1; r <= NR; r++) {
            if (index(key, " " name[r] " ")) continue
            for (n = 1; n <= max[r]; n++) { if ((i + off) % k == 0) print name[r], n; i++ }
        }
    }' "$1"
}

crash_status() { # id
    if crash_rt state "$1" >"$OUT/crash.state" 2>&1; then
        sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p' "$OUT/crash.state" | head -n1
    elif grep -q "does not exist" "$OUT/crash.state"; then
        echo absent
    elif grep -q "being created" "$OUT/crash.state"; then
        echo creating
    else
        echo "broken($(errline "$OUT/crash.state"))"
    fi
}

# Pids of live processes whose command line holds the path.
crash_pids_with() { # path
    probe procs "$1" | cut -d: -f1
}

# Live processes carrying the container's marker, with their command lines.
crash_marked() {
    probe procs VMCRASH_MARK=1 | cut -c1-100
}

# strace -f -D: the command is this shell's child (its status is real),
# strace a grandchild that exits once every process it traced is gone.
crash_traced() { # log extra-args... -- runtime-args...
    log=$1
    shift
    VMCRASH_MARK=1 timeout "$STEP_TIMEOUT" strace -f -D -o "$log" "$@" </dev/null >"$OUT/crash.out" 2>"$OUT/crash.err"
    trc=$?
}

# Waits up to 5 s for the strace writing LOG to exit; prints what it still
# traces otherwise (and ends it).
crash_wait_tracer() { # log
    i=0
    while [ $i -lt 50 ]; do
        [ -z "$(crash_pids_with "$1")" ] && return
        sleep 0.1
        i=$((i + 1))
    done
    for t in $(crash_pids_with "$1"); do
        for p in /proc/[0-9]*; do
            grep -q "^TracerPid:[[:space:]]*$t\$" "$p/status" 2>/dev/null &&
                echo "traced:${p#/proc/}:$(tr '\0' ' ' 2>/dev/null <"$p/cmdline" | cut -c1-80)"
        done
        kill "$t" 2>/dev/null
    done
}

# What is left after a round, on stdout ("" when nothing). $crash_base is
# the runtime root's listing and $crash_loaded the program count before
# the first round.
crash_leftovers() { # id log
    left=""
    tr=$(crash_wait_tracer "$2")
    [ -n "$tr" ] && left="$left processes-outlived-delete:[$tr]"
    m=$(crash_marked | tr '\n' ' ')
    [ -n "$m" ] && left="$left marked-processes:[$m]"
    d=$(find "$CG/vmtest/crash_v2" -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
    [ -n "$d" ] && left="$left cgroup:[$d]"
    [ -e "$CRT/$1" ] && left="$left state-dir:$CRT/$1"
    now=$(ls -A "$CRT" 2>/dev/null | tr '\n' ' ')
    [ "$now" != "$crash_base" ] && left="$left runtime-root:[$now] (was [$crash_base])"
    # A cgroup's programs go when the kernel frees the cgroup, shortly
    # after its rmdir: poll the count a little.
    i=0
    while :; do
        b=$(probe bpf-count "$CG/vmtest/crash_v2/ctr" "$CG/vmtest/crash_v2" "$CG/vmtest" "$CG")
        case $b in
        "loaded=$crash_loaded $CG/vmtest/crash_v2/ctr=err:2 $CG/vmtest/crash_v2=0 $CG/vmtest=0 $CG=0") break ;;
        esac
        if [ $i = 30 ]; then
            left="$left bpf:[$b] (want loaded=$crash_loaded, none attached)"
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "$left"
}

# Cleans up by hand after a failed round, so that the next starts clean.
crash_scrub() { # id
    crash_rt delete --force "$1" >/dev/null 2>&1
    ctr=$CG/vmtest/crash_v2/ctr
    [ -e "$ctr/cgroup.kill" ] && echo 1 >"$ctr/cgroup.kill"
    sleep 0.5
    rmdir "$ctr" 2>/dev/null
    rm -rf "${CRT:?}/$1"
}

# The command's promise after the kill; prints a failure, if any.
crash_promise() { # cmd id status
    ctr=$CG/vmtest/crash_v2/ctr
    case $1 in
    pause)
        [ "$3" = paused ] && { crash_rt resume "$2" >"$OUT/crash.p" 2>&1 || echo "resume: $(errline "$OUT/crash.p")"; }
        s=$(crash_status "$2")
        f=$(sed -n 's/^frozen //p' "$ctr/cgroup.events" 2>/dev/null)
        { [ "$s" = running ] && [ "$f" = 0 ]; } || echo "after pause($3)+resume: status $s frozen '$f'"
        ;;
    update)
        crash_rt update --memory 48m --cpu-quota 30000 --pids-limit 40 "$2" >"$OUT/crash.p" 2>&1 ||
            echo "second update: $(errline "$OUT/crash.p")"
        got="$(cat "$ctr/memory.max" 2>/dev/null)/$(cat "$ctr/cpu.max" 2>/dev/null)/$(cat "$ctr/pids.max" 2>/dev/null)"
        [ "$got" = "50331648/30000 100000/40" ] || echo "second update wrote '$got'"
        ;;
    esac
}

crash_setup() { # cmd id
    b=$BUNDLES/crash_v2
    [ "$1" = delete ] && b=$BUNDLES/crash_v2_hostpid
    case $1 in
    delete | pause | update)
        crash_rt create --bundle "$b" "$2" </dev/null >"$OUT/crash.s" 2>&1 &&
            crash_rt start "$2" >>"$OUT/crash.s" 2>&1
        ;;
    *) true ;;
    esac
}

crash_args() { # cmd id
    case $1 in
    create) echo "create --bundle $BUNDLES/crash_v2 $2" ;;
    delete) echo "delete --force $2" ;;
    run) echo "run -d --bundle $BUNDLES/crash_v2 $2" ;;
    pause) echo "pause $2" ;;
    update) echo "update --memory 96m --cpu-quota 20000 --pids-limit 50 $2" ;;
    esac
}

crash_allowed() { # cmd
    case $1 in
    create | run) echo "absent creating created running stopped" ;;
    delete) echo "absent creating running stopped" ;;
    pause) echo "running paused" ;;
    update) echo "running" ;;
    esac
}

# One round: setup, the traced command killed at NAME #N, the checks.
# Appends to $crash_fail; counts kills in $crash_kills.
crash_round() { # cmd id name n
    cmd=$1 id=$2 round="$1@$3#$4"
    if ! crash_setup "$cmd" "$id"; then
        crash_fail="$crash_fail [$round setup: $(errline "$OUT/crash.s")]"
        crash_scrub "$id"
        return
    fi
    log=$OUT/crash-kill.log
    # shellcheck disable=SC2046
    crash_traced "$log" -e "trace=$3" "--inject=$3:signal=SIGKILL:when=$4" -- \
        "$RUNTIME" --root "$CRT" $(crash_args "$cmd" "$id")
    grep -q "+++ killed by SIGKILL +++" "$log" && crash_kills=$((crash_kills + 1))
    bad=""
    s=$(crash_status "$id")
    case " $(crash_allowed "$cmd") " in
    *" $s "*) ;;
    *) bad="$bad state '$s' not in [$(crash_allowed "$cmd")]" ;;
    esac
    p=$(crash_promise "$cmd" "$id" "$s")
    [ -n "$p" ] && bad="$bad $p"
    crash_rt delete --force "$id" >"$OUT/crash.d" 2>&1 || grep -q "does not exist" "$OUT/crash.d" ||
        bad="$bad delete --force: $(errline "$OUT/crash.d")"
    left=$(crash_leftovers "$id" "$log")
    [ -n "$left" ] && bad="$bad left:$left"
    # The same id at once, where the next round's setup does not take it.
    case $cmd in
    create | run)
        if crash_rt create --bundle "$BUNDLES/crash_v2" "$id" </dev/null >"$OUT/crash.r" 2>&1; then
            crash_rt delete --force "$id" >>"$OUT/crash.r" 2>&1 || bad="$bad re-delete: $(errline "$OUT/crash.r")"
        else
            bad="$bad id not reusable: $(errline "$OUT/crash.r")"
        fi
        ;;
    esac
    if [ -n "$bad" ]; then
        crash_fail="$crash_fail [$round:$bad; strace: $(tail -n 3 "$log" | tr '\n' ' ' | cut -c1-300)]"
        crash_scrub "$id"
    fi
}

# Control: what a kill after create recorded the container leaves, without
# the delete --force: a created container. Every check must see it (its
# device program attached to ctr among them); after delete --force none.
crash_control() { # id
    crash_rt create --bundle "$BUNDLES/crash_v2" "$1" </dev/null >"$OUT/crash.c" 2>&1 ||
        { echo "control create failed: $(errline "$OUT/crash.c")"; return; }
    : >"$OUT/crash-none.log"
    left=$(crash_leftovers "$1" "$OUT/crash-none.log")
    echo "VMINFO crash_v2 control (no delete --force) saw:$left" | cut -c1-600 >&2
    crash_rt delete --force "$1" >/dev/null 2>&1
    for want in marked-processes cgroup: state-dir runtime-root bpf:; do
        case $left in *"$want"*) ;; *) echo "control misses $want: [$left]" ;; esac
    done
    case $left in *"$CG/vmtest/crash_v2/ctr=1 "*) ;; *) echo "control: device program not seen attached: [$left]" ;; esac
    left=$(crash_leftovers "$1" "$OUT/crash-none.log")
    [ -n "$left" ] && echo "control: left after delete --force: [$left]"
}

test_crash_v2() {
    n=crash_v2 id=vm-crash
    if ! command -v strace >/dev/null; then
        verdict $n FAIL "no strace in the VM (tests/vm/run.sh copies the host's: apt-get install strace)"
        return
    fi
    setup_parent $n || { verdict $n FAIL "cannot create parent cgroup"; return; }
    t0=$(uptime_cs)
    mkdir -p "$CRT"
    # Baselines: a container made and removed once (the root's cache).
    crash_rt create --bundle "$BUNDLES/crash_v2" $id </dev/null >"$OUT/crash.c" 2>&1
    crash_rt delete --force $id >>"$OUT/crash.c" 2>&1
    crash_base=$(ls -A "$CRT" | tr '\n' ' ')
    crash_loaded=$(probe bpf-count | sed 's/^loaded=//')
    ctl=$(crash_control $id)
    if [ -n "$ctl" ]; then
        finish $n $id FAIL "$ctl"
        return
    fi
    offset=${CRASH_V2_OFFSET:-$$}
    crash_fail="" crash_kills=0 rounds=0 detail=""
    for cmd in ${CRASH_V2_ONLY:-create delete run pause update}; do
        crash_setup $cmd $id
        clog=$OUT/crash-count-$cmd.log
        # shellcheck disable=SC2046
        crash_traced "$clog" -- "$RUNTIME" --root "$CRT" $(crash_args $cmd $id)
        crc=$trc
        crash_rt delete --force $id >/dev/null 2>&1
        crash_wait_tracer "$clog" >/dev/null
        if [ "$crc" != 0 ]; then
            crash_fail="$crash_fail [$cmd: the traced command without a kill: rc=$crc $(errline "$OUT/crash.err")]"
            continue
        fi
        crash_counts "$clog" >"$OUT/crash-counts-$cmd"
        crash_plan $cmd
        crash_sample "$OUT/crash-counts-$cmd" "$plan_budget" "$offset" "$plan_key" >"$OUT/crash-pairs-$cmd"
        echo "VMCOUNTS $cmd: $(tr '\n' ' ' <"$OUT/crash-counts-$cmd")"
        echo "VMINFO crash_v2 $cmd: killing at $(wc -l <"$OUT/crash-pairs-$cmd") of $(awk '{ s += $2 } END { print s }' "$OUT/crash-counts-$cmd") (name, n) pairs, $(wc -l <"$OUT/crash-counts-$cmd") names"
        c0=$(uptime_cs)
        while read -r name k; do
            crash_round $cmd $id "$name" "$k"
            rounds=$((rounds + 1))
        done <"$OUT/crash-pairs-$cmd"
        echo "VMINFO crash_v2 $cmd: done in $(($(uptime_cs) - c0))0 ms, failures so far: $(echo "$crash_fail" | cut -c1-300)"
        detail="$detail $cmd: $(wc -l <"$OUT/crash-pairs-$cmd")/$(awk '{ s += $2 } END { print s }' "$OUT/crash-counts-$cmd") pairs of $(wc -l <"$OUT/crash-counts-$cmd") names in $(($(uptime_cs) - c0))0 ms;"
    done
    detail="offset $offset, $rounds rounds, $crash_kills killed something;$detail total $(($(uptime_cs) - t0))0 ms"
    if [ -z "$crash_fail" ] && [ $crash_kills -ge $((rounds * 3 / 4)) ]; then
        finish $n $id PASS "control saw the leftovers; $detail"
    else
        finish $n $id FAIL "$detail; failures:$(echo "$crash_fail" | cut -c1-1500)"
    fi
}
