#!/usr/bin/env bash
# The fresh-machine check: runs the README's set-up (`make demo`) in a new Debian 12
# container where nothing was installed by hand, so that a set-up that works only on a
# machine someone has used for a while (a package, a group, a file left behind) is caught.
#
# Usage: .ci/fresh_machine/run.sh [--tests none|fast|full]     (or `make fresh-check`)
#   --tests fast   also runs `make test-fast` after `make demo`; `full` runs `make test`.
#                  Default: FRESH_CHECK_TESTS, else none.
#   FRESH_CHECK_DOCKERD_LOG  where a dockerd started here logs
#                  (default /var/log/embly-fresh-check-dockerd.log).
#
# As root. What it does, each step timed:
#   1. a Docker engine: installs docker.io and debootstrap with apt-get if missing, starts
#      dockerd if `docker info` does not answer (and stops that dockerd at exit);
#   2. the base image debian:bookworm-slim (base_image.sh; reused when it is there);
#   3. a new container from it, as root: the checkout's working tree (the files git lists,
#      uncommitted changes included, .venv and build outputs not), this machine's CA and
#      pip configuration (see HOST_FILES), and only what a new user has before typing
#      `make demo` (see USER_PREREQUISITES);
#   4. `make demo` in it, then the tests asked for (even when the demo failed).
# The container is removed at exit, whatever happened; the base image is kept.
set -euo pipefail

readonly DOCKER=/usr/bin/docker # the CLI of the engine's own version (not /usr/local/bin's)
readonly IMAGE=debian:bookworm-slim
readonly CHECKOUT_IN_CONTAINER=/root/embly-build
# What the README takes for granted on a fresh Debian 12 before `make demo`: make to type
# it and the python3 the Makefile makes its virtualenv with (PYTHON ?= python3). All the
# rest the Makefile must install itself.
readonly USER_PREREQUISITES=(make python3)
# How a machine of this kind reaches the Python package index: through an egress proxy
# whose CA (under /usr/local/share/ca-certificates) is added to the system bundle, with
# pip settings in /etc/pip.conf (`cert =` the bundle) and /etc/xdg/pip (a constraints
# file). Checked in a container: with nothing copied, pip finds no distribution (TLS to
# the proxy fails); a copied bundle alone is not enough either, since installing
# python3-venv brings ca-certificates, whose update-ca-certificates rewrites the bundle
# from Debian's CAs and /usr/local/share/ca-certificates. Those that exist here are copied
# in, nothing else of the host: no environment, no user pip configuration.
readonly HOST_FILES=(
    /etc/ssl/certs/ca-certificates.crt
    /usr/local/share/ca-certificates
    /etc/pip.conf
    /etc/xdg/pip
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tests=${FRESH_CHECK_TESTS:-none}
dockerd_log=${FRESH_CHECK_DOCKERD_LOG:-/var/log/embly-fresh-check-dockerd.log}

usage() {
    sed -n '6,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit "${1:-2}"
}

while (($#)); do
    case $1 in
        --tests) (($# >= 2)) || usage >&2; tests=$2; shift 2 ;;
        --tests=*) tests=${1#--tests=}; shift ;;
        -h | --help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2 ;;
    esac
done
case $tests in
    none | fast | full) ;;
    *) echo "--tests (FRESH_CHECK_TESTS) must be none, fast or full, not '$tests'" >&2; exit 2 ;;
esac

say() { printf '==> [fresh-check] %s\n' "$*"; }

# --- Timing: every phase is timed, and the times are printed at exit, failed or not.
phases=()
phase_start=
phase_name=
begin_phase() {
    phase_name=$1
    phase_start=${EPOCHREALTIME/./}
    say "$phase_name"
}
end_phase() {
    local status=$1 elapsed_us=$((${EPOCHREALTIME/./} - phase_start))
    phases+=("$(printf '%-28s %7d.%01d s  %s' "$phase_name" $((elapsed_us / 1000000)) \
        $((elapsed_us / 100000 % 10)) "$status")")
    phase_name=
}

# --- Cleanup: the container is removed, and a dockerd started here stopped, at any exit.
container=
dockerd_pid=
child=
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $phase_name ]]; then
        end_phase "interrupted or failed"
    fi
    if [[ -n $child ]]; then
        kill -TERM "$child" 2>/dev/null || true
    fi
    if [[ -n $container ]]; then
        say "removing container $container"
        "$DOCKER" rm -f -v "$container" >/dev/null 2>&1 ||
            ! "$DOCKER" container inspect "$container" >/dev/null 2>&1 ||
            echo "could not remove container $container: remove it with $DOCKER rm -f $container" >&2
    fi
    if [[ -n $dockerd_pid ]]; then
        say "stopping the dockerd started here (pid $dockerd_pid)"
        kill -TERM "$dockerd_pid" 2>/dev/null || true
        for _ in {1..60}; do
            kill -0 "$dockerd_pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$dockerd_pid" 2>/dev/null; then
            echo "dockerd (pid $dockerd_pid) is still running 30 s after SIGTERM" >&2
        fi
    fi
    if ((${#phases[@]})); then
        say "times:"
        printf '    %s\n' "${phases[@]}"
    fi
    if ((status == 0)); then
        say "PASSED"
    else
        say "FAILED (exit $status)"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs argv in the background and waits for it: a signal's trap then runs at once, not
# after a `make demo` that may take minutes. Returns argv's exit status.
run_child() {
    local status=0
    "$@" &
    child=$!
    wait "$child" || status=$?
    child=
    return "$status"
}

# Runs argv in the container as root in the checkout, output streamed as it comes.
in_container() {
    run_child "$DOCKER" exec -w "$CHECKOUT_IN_CONTAINER" -e DEBIAN_FRONTEND=noninteractive \
        "$container" "$@"
}

# --- 1. A Docker engine.
ensure_host_packages() {
    local missing=() package
    for package in docker.io debootstrap; do
        dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]} on this machine"
    run_child apt-get update -q -o DPkg::Lock::Timeout=600 </dev/null
    run_child env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" </dev/null
}

ensure_dockerd() {
    if "$DOCKER" info >/dev/null 2>&1; then
        say "a Docker engine answers; using it"
        return 0
    fi
    say "starting dockerd (log: $dockerd_log)"
    # In a session of its own, so that a Ctrl-C meant for this script does not stop the
    # engine before the container is removed. (A background job of a script is not a
    # process group leader, so setsid execs dockerd in place and $! is dockerd's pid.)
    setsid dockerd >"$dockerd_log" 2>&1 </dev/null 9>&- &
    dockerd_pid=$!
    for _ in {1..120}; do
        if "$DOCKER" info >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$dockerd_pid" 2>/dev/null; then
            dockerd_pid=
            echo "dockerd exited at start; $dockerd_log ends:" >&2
            tail -n 20 "$dockerd_log" >&2
            return 1
        fi
        sleep 0.5
    done
    echo "dockerd did not answer within 60 s; $dockerd_log ends:" >&2
    tail -n 20 "$dockerd_log" >&2
    return 1
}

# --- 3. The container.
# The files of the checkout's working tree that git knows or would add: tracked ones as
# they are now (a tracked file deleted in the tree is left out), and untracked ones that
# are not ignored. NUL-separated, relative to the checkout.
checkout_files() {
    local file
    git -C "$checkout" ls-files -z --cached --others --exclude-standard | sort -zu |
        while IFS= read -r -d '' file; do
            if [[ -e $checkout/$file || -L $checkout/$file ]]; then
                printf '%s\0' "$file"
            fi
        done
}

copy_checkout_in() {
    "$DOCKER" exec "$container" mkdir -p "$CHECKOUT_IN_CONTAINER"
    checkout_files |
        tar -C "$checkout" --null --no-recursion --files-from=- --numeric-owner \
            --owner=0 --group=0 -c |
        "$DOCKER" cp - "$container:$CHECKOUT_IN_CONTAINER"
    say "copied $(checkout_files | tr -cd '\0' | wc -c) files of $checkout"
}

copy_host_files_in() {
    local present=() path
    for path in "${HOST_FILES[@]}"; do
        if [[ -e $path ]]; then
            present+=("${path#/}")
        fi
    done
    ((${#present[@]})) || return 0
    tar -C / --numeric-owner -c "${present[@]}" | "$DOCKER" cp - "$container:/"
    say "copied from this machine: ${present[*]/#//}"
}

start_container() {
    local name
    name=embly-fresh-check-$$-$RANDOM
    # `sleep` as the main process, under --init so that it stops at once; bounded, so
    # that a container this script could not remove (SIGKILL) ends by itself.
    "$DOCKER" run -d --init --rm --name "$name" --label embly-fresh-check=1 \
        "$IMAGE" sleep 10800 >/dev/null
    container=$name
    say "container $container from $IMAGE"
    copy_checkout_in
    copy_host_files_in
    say "installing what a new user has before typing make demo: ${USER_PREREQUISITES[*]}"
    in_container apt-get update -q
    in_container apt-get install -y -q --no-install-recommends "${USER_PREREQUISITES[@]}"
}

# --- 4. The README's commands. Each runs even when one before it failed (the tests say
# more about a failed demo); the check fails if any did.
failed=()
make_in_container() {
    local target=$1 status=0
    begin_phase "make $target"
    in_container make "$target" || status=$?
    if ((status == 0)); then
        end_phase ok
    else
        end_phase "FAILED (exit $status)"
        failed+=("make $target")
    fi
}

if (($(id -u) != 0)); then
    echo "the fresh-machine check runs as root (it installs packages and starts dockerd)" >&2
    exit 2
fi
checkout=$(git -C "$here" rev-parse --show-toplevel)
# One check at a time on a machine: a second one would use the dockerd the first started,
# which the first stops when it ends. (fd 9 holds the lock; dockerd is not given it.)
exec 9>/run/lock/embly-fresh-check.lock
if ! flock -n 9; then
    say "waiting for the fresh-machine check already running here"
    flock 9
fi

begin_phase "docker engine"
ensure_host_packages
ensure_dockerd
end_phase ok

begin_phase "base image"
run_child env DOCKER="$DOCKER" "$here/base_image.sh"
end_phase ok

begin_phase "container set-up"
start_container
end_phase ok

make_in_container demo
case $tests in
    fast) make_in_container test-fast ;;
    full) make_in_container test ;;
esac
if ((${#failed[@]})); then
    echo >&2
    for command in "${failed[@]}"; do
        echo "fresh-machine check: \`$command\` failed in a new Debian 12 container;" \
            "its output is above." >&2
    done
    exit 1
fi
