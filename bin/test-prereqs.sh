#!/usr/bin/env bash
# What the tests need on a fresh Debian machine, installed only when missing: PostgreSQL (the
# Postgres store runs against a throwaway cluster the harness starts on loopback), redis-server
# and openssl (doctor), nginx, openssh-server and systemd-analyze (broker render's files are
# checked by nginx -t, sshd -t and systemd-analyze verify; broker setup runs against a throwaway
# sshd). moto (local AWS) comes with the machine image: its absence fails loudly, never skips.
set -euo pipefail

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20 || (a===20 && b<19)) { console.error("agentkeys needs Node >= 20.19"); process.exit(1) }'
if ! python3 -c 'import moto' 2>/dev/null; then
  echo "FATAL: python3 cannot import moto; install it (pip install 'moto[server]==5.2.1') or use the machine image" >&2
  exit 1
fi

have_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
missing=""
have_postgres || missing="$missing postgresql"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
# git: broker setup's build test clones a stand-in upstream repository on the loopback host.
command -v git >/dev/null 2>&1 || missing="$missing git"
if ! command -v promtool >/dev/null 2>&1; then
  # promtool (doctor --prometheus is linted by it); its recommends (exporters) are not needed.
  echo "== installing prometheus (promtool) without its recommends"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if [ -n "$missing" ]; then
  echo "== installing the Debian packages the tests need:$missing"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Debian's postgresql package starts its own cluster on 5432; the tests do not use it.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
have_postgres || { echo "FATAL: PostgreSQL server binaries are missing after apt-get install postgresql" >&2; exit 1; }
for tool in redis-server openssl /usr/sbin/nginx /usr/sbin/sshd systemd-analyze promtool git; do
  command -v "$tool" >/dev/null 2>&1 || { echo "FATAL: $tool is missing after apt-get install" >&2; exit 1; }
done
echo "== test prerequisites present (moto, postgresql, redis-server, openssl, nginx, openssh-server, systemd, promtool, git)"
