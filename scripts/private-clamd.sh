# Sourced by scripts/test: starts a private clamd (Debian's clamav-daemon, installed when
# missing) for the virus-scanner tests (issue 30, item 4), and stops it when asked.
#
#   start_private_clamd
#   echo "$private_clamd"       # 127.0.0.1:PORT
#
# No signature download exists here, so its database is one line the script writes: the EICAR
# test file as an `.ndb` signature (named Eicar-Test-Signature, as in ClamAV's own database).
# StreamMaxLength is 2 MiB, so a test can send a file larger than clamd scans (TooLargeToScan).

start_private_clamd() {
  if [ ! -x /usr/sbin/clamd ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon
    # Debian's own clamd would start with the (absent) downloaded database: not ours.
    systemctl disable --now clamav-daemon clamav-freshclam >/dev/null 2>&1 || true
  fi
  clamd_dir=$(mktemp -d)
  mkdir "$clamd_dir/db"
  # The EICAR test string, in hex (ClamAV's extended signature format: name:type:offset:hex).
  printf 'Eicar-Test-Signature:0:0:%s\n' \
    "$(printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' | od -An -tx1 | tr -d ' \n')" \
    >"$clamd_dir/db/eicar.ndb"
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$clamd_dir/clamd.conf" <<CONF
Foreground yes
TCPSocket $port
TCPAddr 127.0.0.1
DatabaseDirectory $clamd_dir/db
TemporaryDirectory $clamd_dir
LogFile $clamd_dir/clamd.log
PidFile $clamd_dir/clamd.pid
StreamMaxLength 2M
MaxThreads 4
CONF
  /usr/sbin/clamd --config-file="$clamd_dir/clamd.conf" >"$clamd_dir/stdout.log" 2>&1 &
  clamd_pid=$!
  # Ready when it answers PING (loading even one signature takes a moment).
  local i
  for i in $(seq 1 120); do
    if python3 - "$port" <<'PY' 2>/dev/null; then break; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"zPING\0")
sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
PY
    if ! kill -0 "$clamd_pid" 2>/dev/null; then
      cat "$clamd_dir/stdout.log" "$clamd_dir/clamd.log" 2>/dev/null
      return 1
    fi
    sleep 0.5
  done
  private_clamd="127.0.0.1:$port"
  echo "clamd $(/usr/sbin/clamd --version | awk '{print $2}' | cut -d/ -f1) on $private_clamd"
}

stop_private_clamd() {
  if [ -n "${clamd_dir:-}" ]; then
    kill "$clamd_pid" 2>/dev/null || true
    wait "$clamd_pid" 2>/dev/null || true
    rm -rf "$clamd_dir"
    clamd_dir=
  fi
}
