#!/usr/bin/env bash
# Proves the README's two commands on a clean Debian machine: builds a minimal Debian root
# (debootstrap --variant=minbase, the same release as this machine, from Debian's packages),
# copies a fresh git clone of the repository into it, installs there only what the README's
# set-up says to install first (make), and runs, as root, exactly
#
#     make run        then        make test
#
# in the clone. Everything else must be installed by those commands themselves (ci/setup.sh,
# ci/setup-cross.sh). docs/testing.md, "Fresh machine", gives the last result.
#
#   sudo bash ci/fresh-machine.sh [--worktree] [--keep] [--logs DIR] [FOLDER]
#
#   FOLDER      where to work (default: a new folder under ${TMPDIR:-/var/tmp}); it holds
#                 minbase/   debootstrap's output, never modified (the cache for --keep)
#                 root/      the clean root the commands run in, a fresh copy of minbase/ each run
#                 debs/      with --keep: the .deb files downloaded by the last run (download cache)
#                 logs/      the logs (default for --logs): phases, make-run.log, make-test.log
#   --worktree  copy the working tree (committed files, uncommitted changes and untracked files
#               that git does not ignore) instead of the committed HEAD
#   --keep      keep minbase/, root/ and debs/ afterwards; a rerun with the same FOLDER then
#               skips debootstrap and the downloads (root/ is still rebuilt from minbase/, and
#               every package is still installed by the README's commands)
#   --logs DIR  where to write the logs (default FOLDER/logs; always kept)
#
# Needs root (debootstrap, chroot, mount). Installs debootstrap on this machine with apt-get
# when it is missing. /proc, /sys, /dev, /dev/pts and a private /dev/shm are mounted in the
# root for the run (Valgrind, QEMU user mode and Python need them) and unmounted on exit,
# whatever happens. The apt sources of this machine (its Debian entries: the release, its
# updates and security suites) and its Acquire:: settings are copied into the root, so that apt
# there reaches the same mirror as here; /etc/resolv.conf and /etc/hosts too (name lookup);
# and, for pip, the certificate bundle its configuration names (a TLS proxy's authority).
# The last line is the verdict: "fresh-machine: PASS: ..." or "fresh-machine: FAIL: ...";
# the exit status is 0 only when both commands passed.
set -euo pipefail
# (everything is in main, read whole before it runs: editing this file during a run is safe)
main() {

usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
worktree=0; keep=0; logs=""; folder=""
while [ $# -gt 0 ]; do
    case "$1" in
    --worktree) worktree=1 ;;
    --keep) keep=1 ;;
    --logs) [ $# -ge 2 ] || usage; logs=$2; shift ;;
    -h|--help) usage ;;
    -*) echo "fresh-machine: unknown option $1" >&2; usage ;;
    *) [ -z "$folder" ] || usage; folder=$1 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "fresh-machine: needs root (debootstrap, chroot, mount): sudo bash $0 $*" >&2; exit 2; }

src=$(cd "$(dirname "$0")/.." && pwd)
git -C "$src" rev-parse --git-dir >/dev/null 2>&1 || { echo "fresh-machine: $src is not a git repository" >&2; exit 2; }
head=$(git -C "$src" rev-parse HEAD)
dirty=""
if [ $worktree = 1 ] && [ -n "$(git -C "$src" status --porcelain)" ]; then dirty=" + uncommitted changes"; fi

if [ -z "$folder" ]; then
    folder=$(mktemp -d "${TMPDIR:-/var/tmp}/ggdm-fresh.XXXXXX")
fi
mkdir -p "$folder"
folder=$(cd "$folder" && pwd -P)
[ "$folder" != / ] || { echo "fresh-machine: refusing to work in /" >&2; exit 2; }
R=$folder/root
base=$folder/minbase
logs=${logs:-$folder/logs}
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
summary=$logs/summary.txt
: >"$summary"

say() { echo "fresh-machine: $*" | tee -a "$summary"; }
t0=$(date +%s)
phase_start=0
phase_name="start"; verdict=0
phase() { phase_start=$(date +%s); phase_name=$*; say "== $* ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"; }
took() { echo $(( $(date +%s) - phase_start )); }
fmt() { printf '%dm%02ds' $(( $1 / 60 )) $(( $1 % 60 )); }

# mounts and processes inside the root: gone on exit, whatever happens
mounts_under() { # mount points at or below $1, deepest first
    awk -v r="$1" '{ m = $2; gsub(/\\040/, " ", m); if (m == r || index(m, r "/") == 1) print m }' /proc/mounts | sort -r
}
kill_inside() { # processes whose root is in the folder (started by this script: chroot, debootstrap)
    local p pid r found=""
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        r=$(readlink "$p/root" 2>/dev/null) || continue
        case "$r" in "$R"|"$base") found="$found $pid" ;; esac
    done
    [ -z "$found" ] && return 0
    echo "fresh-machine: stopping processes left in the root:$found" >&2
    # shellcheck disable=SC2086
    kill $found 2>/dev/null || true
    sleep 2
    # shellcheck disable=SC2086
    kill -9 $found 2>/dev/null || true
}
unmount_all() { # every mount under the folder (the run's, or debootstrap's if it was stopped)
    local m
    kill_inside
    for m in $(mounts_under "$folder"); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "fresh-machine: could not unmount $m" >&2
    done
    if [ -n "$(mounts_under "$folder")" ]; then
        echo "fresh-machine: mounts left under $folder:" >&2; mounts_under "$folder" >&2; return 1
    fi
}
remove_root() { # only when nothing is mounted there
    [ -d "$R" ] || return 0
    unmount_all || { echo "fresh-machine: NOT removing $R (still mounted)" >&2; return 1; }
    rm -rf --one-file-system "$R"
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ "$rc" != 0 ] && [ "$verdict" = 0 ]; then
        say "FAIL: stopped during \"$phase_name\" (exit $rc; logs: $logs)"
    fi
    unmount_all || rc=1
    if [ "$keep" = 0 ]; then
        remove_root || rc=1
        [ -n "$(mounts_under "$folder")" ] || rm -rf --one-file-system "$base" "$folder/minbase.ok" "$folder/debs"
        rmdir "$folder" 2>/dev/null || true   # (empty unless the logs are there)
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- this machine's release and mirror
. /etc/os-release
[ "${ID:-}" = debian ] || { echo "fresh-machine: this machine is ${PRETTY_NAME:-not Debian}; needs Debian" >&2; exit 2; }
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
dpkg_arch=$(dpkg --print-architecture)
host_sources() { # the enabled apt sources files of this machine
    [ -f /etc/apt/sources.list ] && echo /etc/apt/sources.list
    ls /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true
}
is_debian_source() { grep -qE '(deb|security|snapshot|ftp\.[a-z]+)\.debian\.org|/debian(-security)?/?([[:space:]]|$)' "$1"; }
# the mirror of the release itself (first Debian archive URI that is not the security one)
mirror=$({ for f in $(host_sources); do if is_debian_source "$f"; then cat "$f"; fi; done |
    sed -n -e 's/^[[:space:]]*URIs:[[:space:]]*//p' -e 's/^[[:space:]]*deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
    tr ' ' '\n' | grep -v -e '-security' -e '^$'; } 2>/dev/null | sed -n 1p || true)
mirror=${mirror:-http://deb.debian.org/debian}
say "Debian ${VERSION_ID:-?} ($suite, $dpkg_arch) from $mirror; repository $src at ${head:0:12}$dirty"
say "folder $folder (logs: $logs)"

# ---- phase 1: debootstrap minbase (or the kept copy)
if ! command -v debootstrap >/dev/null 2>&1; then
    phase "installing debootstrap on this machine (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$logs/host-apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >>"$logs/host-apt.log" 2>&1 ||
        { tail -20 "$logs/host-apt.log"; say "FAIL: could not install debootstrap"; exit 1; }
    say "   debootstrap installed ($(took) s)"
fi
if [ -f "$folder/minbase.ok" ] && [ -d "$base" ] && [ "$(cat "$folder/minbase.ok")" = "$suite $dpkg_arch $mirror" ]; then
    phase "debootstrap: reusing $base (kept by --keep, $(du -sh "$base" | cut -f1))"
    t_deboot=0
else
    phase "debootstrap --variant=minbase $suite $base $mirror"
    [ -z "$(mounts_under "$base")" ] || { say "FAIL: $base has mounts"; exit 1; }
    rm -rf --one-file-system "$base" "$folder/minbase.ok"
    if ! debootstrap --variant=minbase --arch="$dpkg_arch" "$suite" "$base" "$mirror" >"$logs/debootstrap.log" 2>&1; then
        tail -20 "$logs/debootstrap.log"
        say "FAIL: debootstrap failed (see $logs/debootstrap.log)"; exit 1
    fi
    echo "$suite $dpkg_arch $mirror" >"$folder/minbase.ok"
    t_deboot=$(took)
    say "   minbase root: $(chroot "$base" dpkg-query -W -f '.' | wc -c) packages, $(du -sh "$base" | cut -f1) ($(fmt "$t_deboot"))"
fi

# ---- phase 2: the clean root: a copy of minbase, this machine's apt sources, the repository
phase "preparing the clean root $R"
remove_root || exit 1
cp -a "$base" "$R"
# apt: this machine's Debian sources replace debootstrap's one-line sources.list
copied=""
for f in $(host_sources); do
    if is_debian_source "$f"; then
        mkdir -p "$R$(dirname "$f")"; cp "$f" "$R$f"; copied="$copied $f"
    fi
done
if [ -n "$copied" ]; then
    case " $copied " in *" /etc/apt/sources.list "*) ;; *) rm -f "$R/etc/apt/sources.list" ;; esac
    say "   apt sources copied from this machine:$copied"
fi
# (only settings about reaching the mirror: a proxy, or a mirror whose Release files are past
# their Valid-Until date, as a snapshot mirror's are)
for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
    if [ -f "$f" ] && grep -qE 'Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date|(https?|ftp)::proxy)' "$f"; then
        cp "$f" "$R$f"; say "   apt setting copied: $f ($(grep -oE 'Acquire::[A-Za-z:-]+' "$f" | sort -u | tr '\n' ' '))"
    fi
done
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
cp /etc/hosts "$R/etc/hosts"
# pip (ci/setup-py.sh reaches PyPI): where this machine reaches it through a TLS proxy whose
# certificate authority only this machine's bundle holds (its pip configuration names a cert
# file), that bundle is copied to a path of its own in the root (the root's ca-certificates
# package rewrites /etc/ssl/certs) and the root's /etc/pip.conf names it; an index URL of this
# machine's pip configuration goes with it. A machine that reaches PyPI directly needs neither.
pip_cert=${PIP_CERT:-}
[ -z "$pip_cert" ] && [ -f /etc/pip.conf ] && pip_cert=$(sed -n 's/^[[:space:]]*cert[[:space:]]*=[[:space:]]*//p' /etc/pip.conf | head -1)
if [ -n "$pip_cert" ] && [ -f "$pip_cert" ]; then
    cp "$pip_cert" "$R/etc/ggdm-host-ca.crt"
    { echo "[global]"; echo "cert = /etc/ggdm-host-ca.crt"
      [ -n "${PIP_INDEX_URL:-}" ] && echo "index-url = $PIP_INDEX_URL"; } > "$R/etc/pip.conf"
    say "   pip: this machine's certificate bundle ($pip_cert) and index settings copied"
fi
# the downloads of a kept earlier run (only the download is saved: apt still installs everything)
if [ $keep = 1 ] && [ -d "$folder/debs" ]; then
    n=$(find "$folder/debs" -maxdepth 1 -name '*.deb' | wc -l)
    for f in "$folder"/debs/*.deb; do
        [ -e "$f" ] || continue
        t=$R/var/cache/apt/archives/${f##*/}
        [ -e "$t" ] || ln "$f" "$t" 2>/dev/null || cp "$f" "$t"
    done
    say "   $n downloaded packages of the kept run put in the root's apt cache"
fi
# the repository: a fresh clone of HEAD, plus (--worktree) the working tree's changes
dest=$R/root/ggdm
git -c advice.detachedHead=false clone -q --no-hardlinks "$src" "$dest"
git -C "$dest" -c advice.detachedHead=false checkout -q --detach "$head"
if [ $worktree = 1 ]; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard) |
        (cd "$src" && while IFS= read -r -d '' p; do if [ -e "$p" ] || [ -L "$p" ]; then printf '%s\0' "$p"; fi; done) |
        (cd "$src" && tar --null -T - -cf -) | (cd "$dest" && tar -xf -)
    (cd "$src" && git ls-files -z --deleted) | (cd "$dest" && xargs -0 -r rm -f --)
    say "   copied: a clone of ${head:0:12} with the working tree's changes ($(git -C "$dest" status --porcelain | wc -l) files differ from HEAD)"
else
    say "   copied: a clone of ${head:0:12} (committed HEAD; uncommitted changes are NOT in it: --worktree)"
fi
say "   root ready ($(took) s)"

# ---- mounts for the run
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys" 2>/dev/null || mount --bind -o ro /sys "$R/sys"
mount --bind /dev "$R/dev"
mount --bind /dev/pts "$R/dev/pts"
mkdir -p "$R/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"

# a login-like root shell of the fresh machine, in the clone
# (in the background and waited for, so that a signal to this script is handled at once)
inside() { # log, command line
    local log=$1; shift
    chroot "$R" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd /root/ggdm && $*" </dev/null >"$log" 2>&1 &
    wait $!
}
tail_of() { # log, lines
    echo "---- last $2 lines of $1"; tail -n "$2" "$1" | sed 's/^/   | /'; echo "----"
}

# ---- phase 3: what the README says to install first
phase "README set-up: apt-get update && apt-get install -y make"
rc_pre=0
inside "$logs/prerequisites.log" 'export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get install -y make' || rc_pre=$?
t_pre=$(took)
if [ $rc_pre != 0 ]; then
    tail_of "$logs/prerequisites.log" 20
    say "FAIL: installing make failed (exit $rc_pre)"; exit 1
fi
say "   $(chroot "$R" make --version | head -1) installed ($(fmt "$t_pre"))"
pkgs_before=$(chroot "$R" dpkg-query -W -f '.' | wc -c)

# ---- phase 4: make run
phase "make run   (in /root/ggdm of the clean root, as root)"
rc_run=0
inside "$logs/make-run.log" 'make run' || rc_run=$?
t_run=$(took)
tail_of "$logs/make-run.log" 15 | tee -a "$summary"
pkgs_after_run=$(chroot "$R" dpkg-query -W -f '.' | wc -c)
say "   make run: exit $rc_run ($(fmt "$t_run")); packages: $pkgs_before -> $pkgs_after_run"

# ---- phase 5: make test
phase "make test  (in /root/ggdm of the clean root, as root)"
rc_test=0
inside "$logs/make-test.log" 'make test' || rc_test=$?
t_test=$(took)
grep -E '^--- ' "$logs/make-test.log" >"$logs/make-test.stages.txt" || true
tail_of "$logs/make-test.log" 12 | tee -a "$summary"
pkgs_after_test=$(chroot "$R" dpkg-query -W -f '.' | wc -c)
say "   make test: exit $rc_test ($(fmt "$t_test")); packages: $pkgs_after_run -> $pkgs_after_test"
grep -E ': FAILED' "$logs/make-test.stages.txt" | sed 's/^/fresh-machine:    /' | tee -a "$summary" || true
chroot "$R" dpkg-query -W -f '${Package}:${Architecture} ${Version}\n' | sort >"$logs/packages.txt"

if [ $keep = 1 ]; then
    mkdir -p "$folder/debs"
    for f in "$R"/var/cache/apt/archives/*.deb; do
        [ -e "$f" ] || continue
        if [ -e "$folder/debs/${f##*/}" ]; then rm -f "$f"; else mv "$f" "$folder/debs/"; fi
    done
fi

unmount_all || true
left=$(mounts_under "$folder" | wc -l)
total=$(( $(date +%s) - t0 ))
last_run=$({ grep -v '^[[:space:]]*$' "$logs/make-run.log" || true; } | tail -1 | cut -c1-100)
last_test=$({ grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/make-test.log" || true; } | tail -1)
last_test=${last_test:-no "N passed, N failed" line}
say "times: debootstrap $(fmt "$t_deboot"), install make $(fmt "$t_pre"), make run $(fmt "$t_run"), make test $(fmt "$t_test"); total $(fmt "$total")"
say "logs: $logs (prerequisites.log, make-run.log, make-test.log, packages.txt)"
verdict=1
if [ $rc_run = 0 ] && [ $rc_test = 0 ] && [ "$left" = 0 ]; then
    say "PASS: on a clean Debian $VERSION_ID minbase root with only make added, at ${head:0:12}$dirty: make run ok, make test: $last_test"
    exit 0
fi
say "FAIL: at ${head:0:12}$dirty: make run exit $rc_run ($last_run), make test exit $rc_test ($last_test), $left mounts left"
exit 1
}
main "$@"
