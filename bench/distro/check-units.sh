#!/usr/bin/env bash
# check-units.sh: how many of the socket units that Debian 12 packages ship
# does `sockd --check` accept?
#
#   bench/distro/check-units.sh [SOCKD_BINARY]
#
# Downloads the packages below with `apt-get download` (no installation),
# extracts them with `dpkg-deb -x` into a cache directory, and checks every
# system socket unit on its own: a directory of links to every unit file
# and drop-in the packages ship, except the other socket units, so that
# each socket unit is judged with exactly the services it names. A unit
# counts as loadable when its only complaints are a program, user or group
# that is not installed on this machine (the packages are not installed).
# The unit files are never copied into the repository.
#
# Environment: DISTRO_CACHE (default /tmp/sockd-distro-units), PACKAGES
# (default: the list below), VERBOSE=1 prints every complaint.
set -euo pipefail

sockd=${1:-}
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "$sockd" ]; then
  sockd=$(mktemp -d)/sockd
  (cd "$here" && go build -o "$sockd" ./cmd/sockd)
fi
cache=${DISTRO_CACHE:-/tmp/sockd-distro-units}
packages=${PACKAGES:-"openssh-server docker.io podman libvirt-daemon-system libvirt-daemon
  sssd-common cockpit-ws mariadb-server dovecot-core uuid-runtime avahi-daemon
  clamav-daemon lvm2 multipath-tools open-iscsi mpd snapd tang systemd
  systemd-journal-remote systemd-userdbd cups-daemon pcscd rpcbind sane-utils
  spice-vdagent lirc"}

mkdir -p "$cache/debs" "$cache/root"
(
  cd "$cache/debs"
  missing=()
  for p in $packages; do
    ls "${p}"_*.deb >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get download "${missing[@]}" >/dev/null 2>&1 || {
      echo "apt-get download failed (run apt-get update?): ${missing[*]}" >&2
      exit 1
    }
  fi
  for d in *.deb; do
    stamp="$cache/root/.${d}.done"
    [ -e "$stamp" ] || { dpkg-deb -x "$d" "$cache/root" && touch "$stamp"; }
  done
)

dirs=()
for d in lib/systemd/system usr/lib/systemd/system; do
  [ -d "$cache/root/$d" ] && dirs+=("$cache/root/$d")
done

# Every system socket unit once (sockets.target.wants/ holds links).
mapfile -t sockets < <(for d in "${dirs[@]}"; do
  find "$d" -maxdepth 1 -name '*.socket' -printf '%f\n'
done | sort -u)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total=0 ok=0 loadable=0
declare -A directive_count=()
refused=()
for s in "${sockets[@]}"; do
  total=$((total + 1))
  unitdir="$work/$s"
  mkdir -p "$unitdir"
  for d in "${dirs[@]}"; do
    for f in "$d"/*; do
      name=${f##*/}
      case "$name" in *.socket) [ "$name" = "$s" ] || continue ;; esac
      ln -sfn "$f" "$unitdir/$name"
    done
  done
  out=$("$sockd" --check --units "$unitdir" 2>&1) && rc=0 || rc=$?
  if [ "$rc" = 0 ]; then
    ok=$((ok + 1))
    continue
  fi
  real=$(printf '%s\n' "$out" | grep -v -E 'valid unit\(s\)|: no such file or directory$|unknown user "|unknown group "|^[^ ]+ (socket|service) ' || true)
  if [ -z "$real" ]; then
    loadable=$((loadable + 1))
    [ -n "${VERBOSE:-}" ] && printf '%s: loadable once installed\n' "$s"
    continue
  fi
  refused+=("$s")
  printf '%s: REFUSED\n' "$s"
  printf '%s\n' "$real" | sed "s#$work/$s/##; s/^/    /" | sort -u
  while read -r dir; do
    [ -n "$dir" ] && directive_count[$dir]=$(( ${directive_count[$dir]:-0} + 1 ))
  done < <(printf '%s\n' "$real" | grep -oE '\[[A-Za-z]+\] [A-Za-z]+' | awk '{print $2}' | sort -u)
done

echo
echo "refusals by directive (units):"
for k in "${!directive_count[@]}"; do printf '  %-32s %d\n' "$k" "${directive_count[$k]}"; done | sort -k2 -nr
echo
printf 'socket units: %d; accepted: %d; loadable once their program/user is installed: %d; refused: %d\n' \
  "$total" "$ok" "$loadable" "${#refused[@]}"
printf 'loadable in all: %d of %d\n' $((ok + loadable)) "$total"
