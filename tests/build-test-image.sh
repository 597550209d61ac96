#!/usr/bin/env bash
# Build the small local image the tests use (no registry needed): a busybox-static
# root file system from Debian's package, imported with `docker import`.
# Cached by tag: does nothing when the image already exists (pass --rebuild to force).
set -euo pipefail

TAG="${VMTEMP_TEST_IMAGE:-vmtemp-test:busybox}"
DOCKER="${VMTEMP_DOCKER:-docker}"

if [[ "${1:-}" != "--rebuild" ]] && "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
    echo "test image $TAG: cached"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

if ! ls busybox-static_*.deb >/dev/null 2>&1; then
    # apt-get download runs as the _apt user when it can; a world-writable folder lets it.
    chmod 0777 "$work"
    apt-get download busybox-static >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null 2>&1
        apt-get download busybox-static >/dev/null
    }
fi
dpkg-deb -x busybox-static_*.deb pkg

root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,proc,sys,dev,opt,workspace,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp" "$root/home"
chmod 0755 "$root/opt"
cp pkg/bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [[ "$applet" == busybox ]] && continue
    ln -sf /bin/busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$root/etc/group" <<'GR'
root:x:0:
nogroup:x:65534:
GR

tar -C "$root" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    - "$TAG" >/dev/null
echo "test image $TAG: built ($("$DOCKER" image inspect -f '{{.Size}}' "$TAG") bytes)"
