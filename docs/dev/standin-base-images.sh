#!/usr/bin/env bash
# Local stand-ins for the Dockerfile's two base images, for a machine with a
# Docker engine but no way to pull from Docker Hub (how the image was verified;
# docs/container.md). Not needed wherever `docker pull` works.
#
#   debian:bookworm-slim   debootstrap of Debian 12 (minbase), the official
#                          slim image's apt sources and dpkg path excludes
#   rust:1-slim-bookworm   the official slim recipe (docker-library/rust:
#                          RUSTUP_HOME, CARGO_HOME, PATH; ca-certificates, gcc,
#                          libc6-dev) on that, with rustup-init's download
#                          replaced by a copy of this machine's toolchain
#
# Needs root, a running dockerd, debootstrap, and a rustup toolchain here.
# Environment: WORK (scratch folder, default /tmp/privsim-standins),
# TOOLCHAIN (default: the toolchain `rustup show active-toolchain` names),
# EXTRA_CA (a CA bundle to trust inside the rust image, for a network that
# intercepts TLS; the official image has no such thing).
set -euo pipefail

work=${WORK:-/tmp/privsim-standins}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
toolchain=${TOOLCHAIN:-$(rustup show active-toolchain | cut -d' ' -f1)}
mkdir -p "$work"

# ---- debian:bookworm-slim ----
rootfs=$work/rootfs-bookworm
if [ ! -x "$rootfs/bin/sh" ]; then
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian
fi
rm -f "$rootfs/etc/apt/sources.list"
cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EXCLUDES
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - debian:bookworm-slim

# ---- rust:1-slim-bookworm ----
ctx=$work/rust-ctx
version=$("$rustup_home/toolchains/$toolchain/bin/rustc" --version | cut -d' ' -f2)
name=$version-x86_64-unknown-linux-gnu
rm -rf "$ctx" && mkdir -p "$ctx/rustup/toolchains/$name" "$ctx/cargo/bin"
(cd "$rustup_home/toolchains/$toolchain" && tar --exclude=./share/doc -cf - .) |
  tar -C "$ctx/rustup/toolchains/$name" -xf -
printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n\n[overrides]\n' \
  "$name" > "$ctx/rustup/settings.toml"
cp "$cargo_home/bin/rustup" "$ctx/cargo/bin/"
for tool in cargo rustc rustdoc cargo-clippy clippy-driver cargo-fmt rustfmt; do
  ln -s rustup "$ctx/cargo/bin/$tool"
done
if [ -n "${EXTRA_CA:-}" ]; then
  cp "$EXTRA_CA" "$ctx/extra-ca.crt"
  ca_step='COPY extra-ca.crt /etc/ssl/certs/ca-certificates.crt'
else
  ca_step=
fi
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM debian:bookworm-slim
ENV RUSTUP_HOME=/usr/local/rustup \\
    CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    RUST_VERSION=$version
RUN set -eux; apt-get update; \\
    apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev; \\
    rm -rf /var/lib/apt/lists/*
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
RUN set -eux; chmod -R a+w "\$RUSTUP_HOME" "\$CARGO_HOME"; rustup --version; cargo --version; rustc --version
$ca_step
DOCKERFILE
docker build --network host -t rust:1-slim-bookworm "$ctx"
docker images debian:bookworm-slim
docker images rust:1-slim-bookworm
