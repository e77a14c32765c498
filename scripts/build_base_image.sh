#!/usr/bin/env bash
# Makes a Debian base image from Debian packages, for hosts that cannot pull
# from a container registry: debootstrap a minimal root filesystem, trim it the
# way the official "-slim" images are trimmed, and `docker import` it.
#
#   scripts/build_base_image.sh [--tag atlas-base:bookworm] [--suite bookworm]
#                               [--mirror URL] [--force]
#
# The mirror defaults to the one apt uses on this host, so a host with a local
# or proxied Debian mirror needs nothing else. Needs root and debootstrap
# (`apt-get install debootstrap`).
set -euo pipefail

TAG="${ATLAS_BASE_TAG:-atlas-base:bookworm}"
SUITE="bookworm"
MIRROR="${ATLAS_DEBIAN_MIRROR:-}"
FORCE=0

usage() {
  cat <<EOF
Usage: $0 [options]

Builds a minimal Debian image from Debian packages (debootstrap + docker import).

Options:
  --tag NAME:TAG   image to create (default: $TAG)
  --suite NAME     Debian suite (default: $SUITE)
  --mirror URL     Debian mirror (default: the one apt uses on this host,
                   else http://deb.debian.org/debian; env ATLAS_DEBIAN_MIRROR)
  --force          rebuild even if the image already exists
  -h, --help       this help
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --suite) SUITE="$2"; shift 2 ;;
    --mirror) MIRROR="$2"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1" >&2; usage >&2; exit 1 ;;
  esac
done

log() { printf '[base-image] %s\n' "$*" >&2; }

if [[ $FORCE -eq 0 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG already exists (use --force to rebuild)"
  exit 0
fi

# The Debian mirror apt uses here: deb822 .sources files first, then the
# one-line format. Only entries that carry the main archive (not -security).
host_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    uri=$(awk 'tolower($1)=="uris:" {print $2}' "$f" | grep -v -- '-security' | head -n1 || true)
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk '$1=="deb" && $0 ~ /debian/ {for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' "$f" \
      | grep -v -- '-security' | head -n1 || true)
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
}

if [[ -z $MIRROR ]]; then
  MIRROR=$(host_mirror || true)
  MIRROR="${MIRROR:-http://deb.debian.org/debian}"
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "error: debootstrap needs root" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  # A fresh Debian/Ubuntu host: debootstrap is one small package away.
  log "debootstrap is not installed: apt-get install debootstrap"
  { apt-get install -y --no-install-recommends debootstrap \
      || { apt-get update && apt-get install -y --no-install-recommends debootstrap; }; } >&2 \
    || echo "warning: apt-get install debootstrap failed" >&2
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2
  exit 1
fi

ROOTFS=$(mktemp -d /var/tmp/atlas-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

start=$(date +%s)
log "debootstrap --variant=minbase $SUITE from $MIRROR"
debootstrap --variant=minbase --merged-usr "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
  tail -n 30 "$ROOTFS.log" >&2
  echo "error: debootstrap failed (full log: $ROOTFS.log)" >&2
  exit 1
}
rm -f "$ROOTFS.log"

# apt inside the image: the same mirror, plus security updates when the
# mirror is the public one.
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  if [[ $MIRROR == *deb.debian.org/debian* ]]; then
    echo "deb ${MIRROR%/debian*}/debian-security $SUITE-security main"
  fi
} >"$ROOTFS/etc/apt/sources.list"

# Keep later package installs small: no docs, man pages or translations,
# no apt caches, no recommends.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/atlas-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/atlas-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
EOF

# Trim what debootstrap already installed.
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$ROOTFS"/usr/share/{man,info,lintian,linda}/* \
  "$ROOTFS"/var/lib/apt/lists/* \
  "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
  "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* \
  "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old \
  "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/*
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
# Machine-specific files a container must not inherit.
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/etc/hostname" "$ROOTFS/etc/resolv.conf"

log "importing as $TAG"
tar -C "$ROOTFS" --numeric-owner --xattrs -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  --message "debootstrap --variant=minbase $SUITE $MIRROR" \
  - "$TAG" >/dev/null

size=$(docker image inspect -f '{{.Size}}' "$TAG")
log "built $TAG ($((size / 1000000)) MB) in $(( $(date +%s) - start )) s"
