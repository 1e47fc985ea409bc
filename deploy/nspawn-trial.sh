#!/usr/bin/env bash
# Runs docs/deploy.md's systemd commands for real against deploy/subnet-p2p.service: boots a
# Debian 12 (bookworm) container with systemd as PID 1 (systemd-nspawn -b), installs the package
# there as the doc says, sets up a two-node subnet on 127.0.0.1 (node 1 under the unit, node 2 a
# plain process), runs the commands, prints what they print, and powers the container off.
# As root on a Debian 12 host (the host's Node.js >= 20.19 is copied in: same glibc), from any
# folder: `bash deploy/nspawn-trial.sh`. Not run by npm test. The container's root folder,
# /var/tmp/sp2p-nspawn (SP2P_ROOTFS), is kept and reused by the next run; the trial's state in
# it (user, keys, config, unit) is made anew each time. Output: docs/deploy.md, "Running under
# systemd".
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
R=${SP2P_ROOTFS:-/var/tmp/sp2p-nspawn}
MIRROR=${SP2P_MIRROR:-http://deb.debian.org/debian}
WORK=$(mktemp -d /var/tmp/sp2p-trial.XXXXXX)
NSPAWN_PID=
say() { printf '\n### %s\n' "$*"; }

# Power the container off (if booted) and remove the package built here, however the run ends.
cleanup() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    inside 'systemctl poweroff' >/dev/null 2>&1 || kill "$NSPAWN_PID" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A command inside the booted container: nsenter into its PID 1's namespaces. machinectl and
# systemd-run -M need systemd-machined on the host, which a host without systemd lacks.
inside() {
  local leader
  leader=$(pgrep -P "$NSPAWN_PID" | head -1)
  nsenter -t "$leader" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 bash -c "$1"
}

say "host: systemd-container, debootstrap"
apt-get update -qq
apt-get install -y -qq systemd-container debootstrap >/dev/null
NODE=$(command -v node)
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")   # .../node_modules/npm
"$NODE" --version

say "rootfs: $R"
if [ ! -x "$R/usr/bin/systemctl" ]; then
  mkdir -p "$R"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,jq,procps,iproute2,util-linux,ca-certificates,curl,sudo \
    bookworm "$R" "$MIRROR"
fi
echo sp2p >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tsp2p\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
  >"$R/etc/hosts"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# A host behind a TLS-inspecting proxy trusts extra CAs; the container needs them for npm.
cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/" 2>/dev/null || true
install -m 0755 "$NODE" "$R/usr/local/bin/node"
mkdir -p "$R/usr/local/lib/node_modules"
rm -rf "$R/usr/local/lib/node_modules/npm"
cp -a "$NPM_DIR" "$R/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"

say "the previous trial's state, removed"
rm -rf "$R/var/lib/subnet-p2p" "$R/etc/subnet-p2p" "$R/root/op" "$R/root/node2" \
  "$R/etc/systemd/system/subnet-p2p.service" "$R/etc/systemd/system/subnet-p2p.service.d" \
  "$R/etc/systemd/system/multi-user.target.wants/subnet-p2p.service" "$R/root/subnet-p2p"
rm -rf "$R"/var/log/journal/*   # journalctl -u subnet-p2p shows this run's lines only
if chroot "$R" getent passwd subnet-p2p >/dev/null; then chroot "$R" userdel subnet-p2p; fi

say "npm pack, npm install -g in the container"
(cd "$REPO" && npm pack --pack-destination "$WORK" >/dev/null 2>&1)
ls "$WORK"/subnet-p2p-*.tgz
cp "$WORK"/subnet-p2p-*.tgz "$R/root/"
mkdir -p "$R/root/subnet-p2p/deploy"
cp "$REPO/deploy/subnet-p2p.service" "$R/root/subnet-p2p/deploy/"
# Not booted yet: nspawn runs one command. --register=no --keep-unit: no machined, no scope unit
# (without them nspawn fails with "Failed to open system bus" on a host without systemd).
# nspawn then ends with a harmless 'Attempted to remove disk file system under
# "/run/systemd/nspawn/propagate/..."' on such a host.
systemd-nspawn -q --register=no --keep-unit -D "$R" --pipe bash -c '
  set -e
  update-ca-certificates >/dev/null 2>&1
  command -v sudo >/dev/null || apt-get install -y -qq sudo >/dev/null
  cd /root && npm_config_cafile=/etc/ssl/certs/ca-certificates.crt \
    npm install -g --no-fund --no-audit ./subnet-p2p-0.1.0.tgz 2>&1 | tail -1
  rm -f /root/subnet-p2p-*.tgz
  command -v subnet-p2p && subnet-p2p --version'

say "boot: systemd-nspawn -b"
setsid systemd-nspawn --register=no --keep-unit -D "$R" -b >"$WORK/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!
for _ in $(seq 120); do
  if [ -n "$(pgrep -P "$NSPAWN_PID" | head -1)" ] &&
    inside 'systemctl is-system-running' 2>/dev/null | grep -qE 'running|degraded'; then break; fi
  sleep 0.5
done
inside 'systemctl --version | head -1; cat /proc/1/comm; . /etc/os-release; echo "$PRETTY_NAME"'

say "Three machines from scratch (one machine, node 1 on 127.0.0.1:4100)"
inside '
set -e
useradd --system --home /var/lib/subnet-p2p subnet-p2p
install -d -o subnet-p2p -g subnet-p2p -m 0700 /var/lib/subnet-p2p
sudo -u subnet-p2p subnet-p2p keygen --out /var/lib/subnet-p2p/identity
mkdir -p /root/op && cd /root/op && cp /var/lib/subnet-p2p/identity/node.crt node1.crt
subnet-p2p keygen --operator --out operator/
subnet-p2p registry init --file registry.json
subnet-p2p registry add-node --file registry.json --subnet s1 --address 127.0.0.1:4100 --cert node1.crt
subnet-p2p registry sign --file registry.json --key operator/operator.key
subnet-p2p registry show --file registry.json --public-key operator/operator.pub
mkdir -p /etc/subnet-p2p
cp registry.json /etc/subnet-p2p/registry.json && cp operator/operator.pub /etc/subnet-p2p/
cat >/etc/subnet-p2p/node.json <<EOF
{
  "identityDir": "/var/lib/subnet-p2p/identity",
  "dataDir": "/var/lib/subnet-p2p/data",
  "registryFile": "/etc/subnet-p2p/registry.json",
  "registryPublicKey": "/etc/subnet-p2p/operator.pub",
  "subnet": "s1",
  "listen": "127.0.0.1:4100",
  "api": "127.0.0.1:4180"
}
EOF
sudo -u subnet-p2p subnet-p2p node --check --config /etc/subnet-p2p/node.json'

say "Running under systemd"
inside '
cd /root/subnet-p2p
cp deploy/subnet-p2p.service /etc/systemd/system/
systemctl daemon-reload && systemctl enable --now subnet-p2p
systemctl status subnet-p2p --no-pager || true
P=$(systemctl show -p MainPID --value subnet-p2p)
grep -E "^(Uid|CapEff|NoNewPrivs|Seccomp):" /proc/$P/status'

say "Adding a node, live: node 2 (127.0.0.1:4101) added, signed, installed, reload"
inside '
set -e
subnet-p2p keygen --out /root/node2/identity
cd /root/op && cp /root/node2/identity/node.crt node2.crt
subnet-p2p registry add-node --file registry.json --subnet s1 --address 127.0.0.1:4101 \
  --cert node2.crt --key operator/operator.key
cp registry.json /etc/subnet-p2p/registry.json.tmp
mv /etc/subnet-p2p/registry.json.tmp /etc/subnet-p2p/registry.json
systemctl reload subnet-p2p
sleep 1
journalctl -u subnet-p2p -t subnet-p2p -o cat | jq -c "select(.msg | startswith(\"reload\"))"
sed -e "s|/var/lib/subnet-p2p|/root/node2|" -e "s|:4100|:4101|" -e "s|:4180|:4181|" \
  /etc/subnet-p2p/node.json >/root/node2/node.json
systemd-run --unit=sp2p-node2 --quiet /usr/local/bin/subnet-p2p node --config /root/node2/node.json
sleep 3'

say "journalctl -u subnet-p2p -f (3 s)"
inside 'timeout 3 journalctl -u subnet-p2p -f -n 3 --no-pager || true'

say "Authentication and health checks"
inside '
TOKEN=$(cat /var/lib/subnet-p2p/data/api-token)
curl -s -w " %{http_code}\n" localhost:4180/healthz
curl -s -w " %{http_code}\n" localhost:4180/readyz
curl -s -H "Authorization: Bearer $TOKEN" localhost:4180/v1/status | jq -c "{nodeId,registryVersion,ready}"
curl -s -w " %{http_code}\n" localhost:4180/v1/status
curl -s -w " %{http_code}\n" -H "Authorization: Bearer $TOKEN" -H "Host: evil.example" localhost:4180/v1/status
head -c 1000 /dev/urandom >/root/block.bin
curl -s -X POST --data-binary @/root/block.bin localhost:4180/v1/channels/consensus/artifacts \
  -H "Authorization: Bearer $(cat /var/lib/subnet-p2p/data/api-token)"; echo
sudo -u subnet-p2p subnet-p2p status --config /etc/subnet-p2p/node.json'

say "link down (node 2 stopped)"
inside '
systemctl stop sp2p-node2; sleep 1
journalctl -u subnet-p2p -t subnet-p2p -o cat | jq -c "select(.msg == \"link down\")"
curl -s -w " %{http_code}\n" localhost:4180/readyz'

say "systemctl stop, restart, kill -9"
inside '
time systemctl stop subnet-p2p
systemctl show -p Result -p ExecMainStatus subnet-p2p
journalctl -u subnet-p2p -o cat -n 5
systemctl restart subnet-p2p && systemctl is-active subnet-p2p
kill -9 "$(systemctl show -p MainPID --value subnet-p2p)"; sleep 3
systemctl show -p ActiveState -p NRestarts subnet-p2p
journalctl -u subnet-p2p -o cat -n 12 | grep -v "^{"'

say "systemd-analyze security"
inside 'systemd-analyze security subnet-p2p --no-pager | tail -1
systemd-analyze security --offline=true /etc/systemd/system/subnet-p2p.service --no-pager | tail -1'

say "warnings and errors the node logged"
inside 'journalctl -u subnet-p2p -t subnet-p2p -o cat | jq -c "select(.level >= 40)"'

say "power off"
