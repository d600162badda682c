#!/usr/bin/env bash
# Creates (or, with --rekey, re-keys) a broker user for an edgefit fleet and prints its password once.
#
#   add-device.sh [--operator|--dashboard] NAME [--rekey] [--passwd FILE] [--acl FILE] [--password-stdin] [--no-reload]
#
#   device (default): NAME is the device's deviceId; the ACL patterns give it edgefit/NAME/... only
#   --operator:       may send commands to every device (edgefit/+/cmd/#) and read everything
#   --dashboard:      reads edgefit/# (and homeassistant/#); writes only the snapshot command (edgefit/+/cmd/snapshot)
#   --rekey:          NAME exists already: give it a new password (its role stays; a role is never changed here)
#
# Defaults: --passwd /etc/mosquitto/edgefit.passwd --acl /etc/mosquitto/edgefit.acl; mosquitto is reloaded
# (SIGHUP) afterwards unless --no-reload. A name that exists is refused without --rekey: a new password locks
# out whoever uses the old one.
set -euo pipefail

ROLE=device
NAME=
PASSWD=/etc/mosquitto/edgefit.passwd
ACL=/etc/mosquitto/edgefit.acl
FROM_STDIN=0
RELOAD=1
REKEY=0

while [ $# -gt 0 ]; do
  case "$1" in
    --operator) ROLE=operator ;;
    --dashboard) ROLE=dashboard ;;
    --passwd) PASSWD="${2:?--passwd needs a file}"; shift ;;
    --acl) ACL="${2:?--acl needs a file}"; shift ;;
    --password-stdin) FROM_STDIN=1 ;;
    --no-reload) RELOAD=0 ;;
    --rekey) REKEY=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "add-device.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) if [ -n "$NAME" ]; then echo "add-device.sh: one name at a time" >&2; exit 2; fi; NAME="$1" ;;
  esac
  shift
done

# the same rule as edgefit's deviceId: a name with '+', '#' or '/' would widen the %u patterns
if ! [[ "$NAME" =~ ^[A-Za-z0-9._-]{1,64}$ ]]; then
  echo "add-device.sh: name \"$NAME\" must be 1-64 letters, digits, '.', '_' or '-' (the deviceId for a device)" >&2
  exit 2
fi
command -v mosquitto_passwd >/dev/null || { echo "add-device.sh: mosquitto_passwd not found (apt-get install mosquitto)" >&2; exit 1; }
[ -f "$ACL" ] || { echo "add-device.sh: ACL file $ACL not found (copy deploy/mosquitto/edgefit.acl there)" >&2; exit 1; }

section_of() { awk -v u="user $1" '$0 == u { found = 1 } END { exit !found }' "$ACL"; }
in_passwd() { [ -f "$PASSWD" ] && awk -F: -v u="$1" '$1 == u { found = 1 } END { exit !found }' "$PASSWD"; }
# the role a name has now: a user section makes it an operator (it may write cmd/#) or a dashboard; none, a device
role_of() {
  if ! section_of "$1"; then echo device
  elif awk -v u="user $1" '$0 == u { s = 1; next } /^user / { s = 0 } s && $0 == "topic write edgefit/+/cmd/#" { f = 1 } END { exit !f }' "$ACL"; then echo operator
  else echo dashboard
  fi
}

# a user section turns the name into an operator/dashboard; a device must not have one (and vice versa)
if [ "$ROLE" = device ] && section_of "$NAME"; then
  echo "add-device.sh: $NAME is an operator or dashboard user in $ACL (role \"$(role_of "$NAME")\"); pick another deviceId" >&2
  exit 1
fi
# an existing name keeps its password unless --rekey, and its role always: a device re-passworded by a mistyped
# --operator would go offline and gain commands over the whole fleet
if in_passwd "$NAME"; then
  HAS="$(role_of "$NAME")"
  if [ "$HAS" != "$ROLE" ]; then
    echo "add-device.sh: $NAME already has the role \"$HAS\" in $PASSWD and $ACL, not \"$ROLE\"; a role is never changed here: pick another name (or remove $NAME from both files first)" >&2
    exit 1
  fi
  if [ "$REKEY" -ne 1 ]; then
    echo "add-device.sh: $NAME already exists in $PASSWD; pass --rekey to give it a new password (whoever uses the old one is then refused)" >&2
    exit 1
  fi
fi

if [ "$FROM_STDIN" -eq 1 ]; then
  IFS= read -r PASSWORD
else
  PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)"
fi
[ -n "$PASSWORD" ] || { echo "add-device.sh: empty password" >&2; exit 1; }

if [ ! -f "$PASSWD" ]; then
  # mosquitto 2 reads it after dropping to its own user: group mosquitto, or the broker does not start
  if [ "$(id -u)" -eq 0 ] && getent group mosquitto >/dev/null 2>&1; then
    install -m 0640 -o root -g mosquitto /dev/null "$PASSWD"
  else
    install -m 0640 /dev/null "$PASSWD"
  fi
fi
mosquitto_passwd -b "$PASSWD" "$NAME" "$PASSWORD"

if [ "$ROLE" != device ] && ! section_of "$NAME"; then
  {
    echo ""
    echo "user $NAME"
    if [ "$ROLE" = operator ]; then
      echo "topic write edgefit/+/cmd/#"
    else
      # the page's "take snapshot" button; the device answers below its own edgefit/<device>/reply/
      echo "topic write edgefit/+/cmd/snapshot"
    fi
    echo "topic read edgefit/#"
    echo "topic read homeassistant/#"
  } >> "$ACL"
fi

if [ "$RELOAD" -eq 1 ]; then
  if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto; then
    systemctl reload mosquitto || systemctl kill -s HUP mosquitto
  else
    pkill -HUP -x mosquitto || echo "add-device.sh: mosquitto is not running; the user is active at its next start" >&2
  fi
fi

echo "$ROLE $NAME: password $PASSWORD"
if [ "$ROLE" = device ]; then
  echo "on the device: mqtt.username: $NAME (deviceId: $NAME) and EDGEFIT_MQTT_PASSWORD=$PASSWORD in /etc/edgefit/env"
fi
