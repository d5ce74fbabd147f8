#!/usr/bin/env bash
# Installs the Debian packages the test suite drives as real clients and reference servers:
# OpenSSH (sftp client, sshd), paramiko, asyncssh, curl, sshpass, rclone (Go pkg/sftp), lftp and
# openssl (s_client for the TLS tests), and chromium, the browser the console tests drive
# (test/console, through playwright-core, which downloads no browser of its own), and the peers
# the flow and notification tests deliver to: aiosmtpd (SMTP), rsyslog (syslog over TCP/TLS) and
# ProFTPD mod_sftp (outbound SFTP to a server without posix-rename, with a password).
# Skips apt when all are present.
set -euo pipefail
packages=(openssh-client openssh-server python3-paramiko python3-cryptography python3-asyncssh curl sshpass
  rclone lftp openssl chromium python3-aiosmtpd rsyslog rsyslog-gnutls proftpd-core proftpd-mod-crypto)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies present: ${packages[*]}"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
