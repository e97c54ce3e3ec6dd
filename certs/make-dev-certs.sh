#!/usr/bin/env bash
# Makes a development CA and a server certificate for localhost, 127.0.0.1 and ::1.
#   certs/make-dev-certs.sh [DIR]      (default: certs/dev)
# Writes DIR/dev-ca.pem (give it to clients), DIR/server.pem (chain) and DIR/server.key.
# Use them with:  [tls] cert = "DIR/server.pem"  key = "DIR/server.key"
# For production use a certificate from your organisation's CA instead; see certs/README.md.
set -euo pipefail
dir=${1:-"$(dirname "$0")/dev"}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 825 \
  -subj "/CN=imax-gateway development CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout dev-ca.key -out dev-ca.pem 2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
  -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
cat > server.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in server.csr -CA dev-ca.pem -CAkey dev-ca.key -CAcreateserial -days 397 -sha256 \
  -extfile server.ext -out server.crt 2>/dev/null
cat server.crt dev-ca.pem > server.pem
rm -f server.csr server.ext server.crt dev-ca.srl
chmod 644 dev-ca.pem server.pem
echo "wrote $(pwd)/dev-ca.pem, server.pem and server.key"
