#!/usr/bin/env bash
# Installs edgefit as a systemd service on Raspberry Pi OS (bookworm) or NVIDIA JetPack (Ubuntu 20.04/22.04).
# Idempotent: run it again to update; /etc/edgefit/config.yaml and /etc/edgefit/env are never overwritten.
#
#   sudo deploy/install.sh [--dry-run] [--with-mosquitto] [--no-apt] [--prefix /opt/edgefit]
#
# --dry-run prints every step and changes nothing (no root needed).
set -euo pipefail

PREFIX=/opt/edgefit
STATE_DIR=/var/lib/edgefit
CONF_DIR=/etc/edgefit
UNIT=/etc/systemd/system/edgefit.service
SERVICE_USER=edgefit
DRY_RUN=0
WITH_MOSQUITTO=0
APT=1
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --with-mosquitto) WITH_MOSQUITTO=1 ;;
    --no-apt) APT=0 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

step() { printf '==> %s\n' "$*"; }
# run CMD...: prints the command; runs it unless --dry-run
run() {
  printf '    $ %s\n' "$*"
  if [ "$DRY_RUN" -eq 0 ]; then "$@"; fi
}

if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo $0), or with --dry-run to see the steps" >&2
  exit 1
fi

# --- which board -------------------------------------------------------------------------------------------
BOARD=generic
if [ -r /proc/device-tree/model ] && grep -qa 'Raspberry Pi' /proc/device-tree/model; then BOARD=raspberrypi; fi
if [ -r /etc/nv_tegra_release ] || { [ -r /proc/device-tree/model ] && grep -qai 'jetson' /proc/device-tree/model; }; then BOARD=jetson; fi
OS_ID=unknown; OS_VERSION=unknown
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  OS_ID="${ID:-unknown}"; OS_VERSION="${VERSION_ID:-unknown}"
fi
step "board: $BOARD, os: $OS_ID $OS_VERSION, source: $SRC, target: $PREFIX"

# --- packages ----------------------------------------------------------------------------------------------
PACKAGES=(ffmpeg ca-certificates)
if [ "$BOARD" = raspberrypi ]; then PACKAGES+=(rpicam-apps); fi
if [ "$WITH_MOSQUITTO" -eq 1 ]; then PACKAGES+=(mosquitto mosquitto-clients); fi
if [ "$APT" -eq 1 ]; then
  step "apt packages: ${PACKAGES[*]}"
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    run apt-get update
    run apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "    all installed"
  fi
else
  step "apt packages skipped (--no-apt): ${PACKAGES[*]}"
fi

# --- Node.js 20+ -------------------------------------------------------------------------------------------
step "Node.js 20 or newer"
NODE_BIN="$(command -v node || true)"
NODE_MAJOR=0
if [ -n "$NODE_BIN" ]; then NODE_MAJOR="$("$NODE_BIN" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"; fi
if [ "$NODE_MAJOR" -lt 20 ]; then
  echo "    Node.js 20+ is required (found: ${NODE_BIN:-none} ${NODE_MAJOR})." >&2
  echo "    Install it, e.g. from NodeSource: curl -fsSL https://deb.nodesource.com/setup_20.x | sudo -E bash - && sudo apt-get install -y nodejs" >&2
  if [ "$DRY_RUN" -eq 0 ]; then exit 1; fi
  NODE_BIN=/usr/bin/node
else
  echo "    $NODE_BIN (v$("$NODE_BIN" -p 'process.versions.node'))"
fi

# --- user ----------------------------------------------------------------------------------------------------
step "service user $SERVICE_USER (group video; render too on Jetson)"
if id "$SERVICE_USER" >/dev/null 2>&1; then
  echo "    exists"
else
  run useradd --system --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin --user-group "$SERVICE_USER"
fi
EXTRA_GROUPS=video
# Jetson: the GPU device nodes belong to group render (JetPack 5+)
if [ "$BOARD" = jetson ] && getent group render >/dev/null 2>&1; then EXTRA_GROUPS=video,render; fi
run usermod -a -G "$EXTRA_GROUPS" "$SERVICE_USER"

# --- program -------------------------------------------------------------------------------------------------
step "program in $PREFIX (npm ci --omit=dev after a build)"
run mkdir -p "$PREFIX"
if [ "$SRC" != "$PREFIX" ]; then
  # an update replaces the program's directories: files removed upstream must not stay behind (the build compiles
  # every src/**/*.ts, and a stale one fails it)
  for d in bin src scripts docs models schemas deploy dist; do run rm -rf "${PREFIX:?}/$d"; done
  # .npmrc: onnxruntime-node-install=skip (its install script would fetch the CUDA package from nuget on x64)
  if [ -f "$SRC/.npmrc" ]; then run cp -a "$SRC/.npmrc" "$PREFIX/"; fi
  run cp -a "$SRC/package.json" "$SRC/package-lock.json" "$SRC/tsconfig.json" "$SRC/bin" "$SRC/src" "$SRC/models" "$SRC/schemas" "$SRC/deploy" "$PREFIX/"
  if [ -d "$SRC/scripts" ]; then run cp -a "$SRC/scripts" "$PREFIX/"; fi
  if [ -d "$SRC/docs" ]; then run cp -a "$SRC/docs" "$PREFIX/"; fi
fi
# the build needs the dev dependencies (TypeScript); the installed tree keeps only the runtime ones
run npm --prefix "$PREFIX" ci --no-audit --no-fund
run npm --prefix "$PREFIX" run build
run npm --prefix "$PREFIX" prune --omit=dev --no-audit --no-fund
run chown -R root:root "$PREFIX"

# --- state and configuration --------------------------------------------------------------------------------
step "state in $STATE_DIR, configuration in $CONF_DIR"
run install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$STATE_DIR"
run install -d -o root -g "$SERVICE_USER" -m 0750 "$CONF_DIR"
if [ -e "$CONF_DIR/config.yaml" ]; then
  echo "    $CONF_DIR/config.yaml exists: kept"
else
  run install -o root -g "$SERVICE_USER" -m 0640 "$SRC/deploy/config.example.yaml" "$CONF_DIR/config.yaml"
  if [ "$WITH_MOSQUITTO" -eq 1 ]; then
    # the mosquitto just installed holds port 1883: without a url the daemon's embedded broker would take another port
    # and results would never reach it
    run sed -i 's|^  # url: mqtts://broker.lan:8883$|  url: mqtt://127.0.0.1:1883|' "$CONF_DIR/config.yaml"
  fi
fi
if [ -e "$CONF_DIR/env" ]; then
  echo "    $CONF_DIR/env exists: kept"
else
  run install -o root -g "$SERVICE_USER" -m 0640 /dev/null "$CONF_DIR/env"
fi

# --- systemd -------------------------------------------------------------------------------------------------
step "systemd unit $UNIT"
if [ "$DRY_RUN" -eq 1 ]; then
  printf '    $ install -m 0644 %s %s  (ExecStart with %s, prefix %s)\n' "$SRC/deploy/systemd/edgefit.service" "$UNIT" "$NODE_BIN" "$PREFIX"
else
  tmp="$(mktemp)"
  sed -e "s#/usr/bin/node #$NODE_BIN #" -e "s#/opt/edgefit#$PREFIX#g" "$SRC/deploy/systemd/edgefit.service" > "$tmp"
  install -m 0644 "$tmp" "$UNIT"
  rm -f "$tmp"
fi
# the device nodes only this kind of board has (the Pi firmware's, the Jetson GPU's): a drop-in beside the unit
DROPIN="$SRC/deploy/systemd/edgefit.service.d/$BOARD.conf"
if [ -f "$DROPIN" ]; then
  step "systemd drop-in $UNIT.d/$BOARD.conf (device nodes of this board)"
  run install -d -m 0755 "$UNIT.d"
  run install -m 0644 "$DROPIN" "$UNIT.d/$BOARD.conf"
else
  step "systemd drop-in: none for a $BOARD board (edgefit.service.d/ has raspberrypi.conf and jetson.conf)"
fi
run systemctl daemon-reload
run systemctl enable edgefit.service
if [ "$WITH_MOSQUITTO" -eq 1 ]; then
  step "mosquitto: see deploy/mosquitto/README in docs/deploy.md for the production config (TLS, per-device users)"
fi

step "done. Edit $CONF_DIR/config.yaml, then: sudo systemctl restart edgefit && journalctl -u edgefit -f"
