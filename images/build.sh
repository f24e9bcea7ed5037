#!/usr/bin/env bash
# Build the step image from images/Dockerfile with podman: no Docker daemon needed.
#
# Usage: images/build.sh [--python-base | --debian-base] [--tag REFERENCE] [-- PODMAN_BUILD_ARG...]
#
#   --python-base   build on the Dockerfile's own base (its ARG PYTHON_IMAGE, from Docker Hub)
#   --debian-base   build on a base made here from Debian's packages with debootstrap, for a machine
#                   that reaches deb.debian.org but no container registry (made once, then reused)
#   (neither)       the Dockerfile's base if it is here or can be pulled, else the Debian base
#   --tag REFERENCE the image's name (default: localhost/kaleidoscope:<the version in pyproject.toml>)
#   -- ...          the rest goes to `podman build` as it is (e.g. --label key=value, --iidfile FILE)
#
# Environment:
#   KALEIDOSCOPE_IMAGE_BASE  python, debian or auto: the flags' choice (a flag wins)
#   KALEIDOSCOPE_BUILD_DIR   where the Debian root file system is made (default /var/tmp/kaleidoscope-image)
#   KALEIDOSCOPE_CA_BUNDLE   a CA bundle pip must trust during the build, for a TLS-intercepting proxy
#                            (default: $PIP_CERT, $SSL_CERT_FILE, else the host's system bundle); it is mounted for the build's RUN
#                            steps only and never lands in a layer
#   CONTAINERS_CONF          podman's settings (default: images/containers.conf, made for CI's sandbox)
#
# Exit status: 0 built, 2 bad arguments, 3 a tool it needs is not installed, else the failed step's.
#
# A normal machine with Docker builds the same Dockerfile without this script:
#   docker build -f images/Dockerfile -t REFERENCE --build-arg VERSION=... .
# At the end the script prints the image's reference, size and layer count.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/images/containers.conf}"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
python_image=$(sed -n 's/^ARG PYTHON_IMAGE=//p' images/Dockerfile)
debian_image=localhost/kaleidoscope-base:bookworm
# Bookworm's Python is 3.11.2, the minor version of the Dockerfile's python:3.11 base; `python`
# (python-is-python3) because the Dockerfile's RUN says `python`, as the official image allows.
debootstrap_arguments=(--variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates
    bookworm)
debian_mirror=http://deb.debian.org/debian
# What the Debian base was made from, kept as its label: a base made another way is made again.
debian_recipe="debootstrap ${debootstrap_arguments[*]} $debian_mirror"
work=${KALEIDOSCOPE_BUILD_DIR:-/var/tmp/kaleidoscope-image}
ca_bundle=${KALEIDOSCOPE_CA_BUNDLE:-${PIP_CERT:-${SSL_CERT_FILE:-}}}
# Else the host's own bundle: what the host's pip trusts, harmless where nothing intercepts TLS.
if [ -z "$ca_bundle" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    ca_bundle=/etc/ssl/certs/ca-certificates.crt
fi

base=${KALEIDOSCOPE_IMAGE_BASE:-auto}
reference=localhost/kaleidoscope:$version
while [ $# -gt 0 ]; do
    case $1 in
        --python-base) base=python ;;
        --debian-base) base=debian ;;
        --tag) reference=${2:?--tag needs a reference}; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "images/build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

for tool in podman runc; do
    command -v "$tool" >/dev/null || { echo "images/build.sh: $tool is not installed" >&2; exit 3; }
done

make_debian_base() {
    if [ "$(podman image inspect --format '{{index .Labels "io.kaleidoscope.base.recipe"}}' "$debian_image" \
        2>/dev/null)" = "$debian_recipe" ]; then
        echo "images/build.sh: reusing $debian_image"
        return
    fi
    command -v debootstrap >/dev/null || { echo "images/build.sh: debootstrap is not installed" >&2; exit 3; }
    local root=$work/rootfs
    rm -rf "$root"
    mkdir -p "$work"
    echo "images/build.sh: making $debian_image: $debian_recipe (log: $work/debootstrap.log)"
    debootstrap "${debootstrap_arguments[@]}" "$root" "$debian_mirror" >"$work/debootstrap.log" 2>&1 ||
        { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
    # As Debian's own slim images: no package lists or caches (apt is never run in the image), no
    # manuals, documentation (copyright files stay) or translations.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/man/* \
        "$root"/usr/share/locale/* "$root"/usr/share/info/*
    find "$root/usr/share/doc" -type f ! -name copyright -delete
    # An imported file system has no image config: give it the PATH and locale python:3.11-slim has.
    tar -C "$root" -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        --change "LABEL io.kaleidoscope.base.recipe=\"$debian_recipe\"" \
        - "$debian_image" >/dev/null
    rm -rf "$root"
}

if [ "$base" = auto ]; then
    if podman image exists "$python_image" || podman pull --quiet "$python_image" >/dev/null; then
        base=python
    else
        echo "images/build.sh: $python_image cannot be pulled: building on Debian's packages instead" >&2
        base=debian
    fi
fi
build_arguments=(--build-arg "VERSION=$version")
case $base in
    python) ;;
    debian) make_debian_base; build_arguments+=(--build-arg "PYTHON_IMAGE=$debian_image") ;;
    *) echo "images/build.sh: KALEIDOSCOPE_IMAGE_BASE=$base: not python, debian or auto" >&2; exit 2 ;;
esac

if [ -n "$ca_bundle" ]; then
    # pip reads /etc/pip.conf in every venv; the bundle replaces the base's for the RUN steps only.
    mkdir -p "$work"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$work/pip.conf"
    build_arguments+=(--volume "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro"
        --volume "$work/pip.conf:/etc/pip.conf:ro")
fi

echo "images/build.sh: building $reference on the $base base"
podman build -f images/Dockerfile -t "$reference" "${build_arguments[@]}" "$@" .
size=$(podman image inspect --format '{{.Size}}' "$reference")
layers=$(podman image inspect --format '{{len .RootFS.Layers}}' "$reference")
echo "images/build.sh: built $reference: $((size / 1000000)) MB in $layers layers"
