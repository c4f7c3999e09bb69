# privsim in a container: the `privsim` binary and the cvc5 solver its proofs
# need, on a slim Debian, running as an unprivileged user.
#
#   docker build -t privsim .
#   docker run --rm -v "$PWD:/work" privsim run scenarios/
#   docker run --rm -v "$PWD:/work" privsim check --baseline git:origin/main scenarios/
#
# The examples are in the image too: `docker run --rm privsim run /usr/share/privsim/scenarios`.

# ---- build: the release profile (no debug info, stripped; Cargo.toml) ----
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p privsim-cli \
 && cp target/release/privsim /usr/local/bin/privsim

# ---- runtime: privsim, cvc5 (proofs) and git (`--baseline git:REV`) ----
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cvc5 git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin privsim \
 && install -d -o privsim -g privsim /work
COPY --from=build /usr/local/bin/privsim /usr/local/bin/privsim
COPY --from=build /src/scenarios /usr/share/privsim/scenarios
# A mounted repository belongs to someone else; git refuses to read it
# otherwise ("dubious ownership"), and `git:` baselines read it read-only.
RUN git config --system --add safe.directory '*'
# /work belongs to privsim (WORKDIR alone would make it root's), so a run
# without a mounted folder can keep its proof cache (.privsim/) there.
USER privsim
WORKDIR /work
ENTRYPOINT ["privsim"]
CMD ["--help"]
