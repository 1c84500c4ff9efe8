#!/usr/bin/env bash
# Makes the base image of the fresh-machine check, debian:bookworm-slim, without a registry:
# debootstrap a minimal Debian 12 from Debian's repositories and `docker import` it
# (see /work/shared/ENVIRONMENT.md, "Docker"). An image already there is reused: it is a
# cache, and nothing in it was installed by hand (minbase is what debootstrap gives).
#
# Usage: base_image.sh    (as root; debootstrap and a running Docker engine are needed)
# DOCKER names the CLI to use (default /usr/bin/docker, the one that matches the engine).
set -euo pipefail

DOCKER=${DOCKER:-/usr/bin/docker}
readonly IMAGE=debian:bookworm-slim
readonly SUITE=bookworm
readonly MIRROR=http://deb.debian.org/debian
readonly IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "base image $IMAGE is there; reusing it"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/embly-fresh-base.XXXXXX")
temporary_tag="embly-fresh-base:$$"

cleanup() {
    # debootstrap mounts /proc and /sys inside the root it makes; an interrupted run leaves
    # them mounted. Unmount what is under it (deepest first), then remove without ever
    # crossing into another file system.
    local mounts
    mounts=$(awk -v root="$work/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r)
    if [[ -n $mounts ]]; then
        while IFS= read -r mount_point; do
            umount -l "$mount_point" || true
        done <<<"$mounts"
    fi
    rm -rf --one-file-system "$work"
    "$DOCKER" image rm "$temporary_tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "making base image $IMAGE: debootstrap --variant=minbase $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    echo "debootstrap failed; its log ends:" >&2
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
}

# Imported under a temporary tag first, so that a tar that fails halfway never leaves a
# truncated image under the name the next run would reuse.
tar -C "$work/rootfs" --numeric-owner \
    --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' -c . |
    "$DOCKER" import -c "ENV PATH=$IMAGE_PATH" -c 'CMD ["bash"]' - "$temporary_tag" >/dev/null
"$DOCKER" tag "$temporary_tag" "$IMAGE"
echo "base image $IMAGE made ($("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE") bytes)"
