#!/usr/bin/env bash
# Builds the chaincode-as-a-service package: metadata.json (type "ccaas")
# beside code.tar.gz, which holds connection.json (where and how the peers
# dial the chaincode server). The peer's ccaas builder reads it as Fabric's
# core/container/externalbuilder ChaincodeServerUserData: the TLS material is
# inline PEM text, not paths, so this script reads the files and embeds them.
#
# Usage: package.sh [options] [OUT.tar.gz]
#   --address HOST:PORT    where the peers dial the chaincode server
#                          (default carechain_ccaas:9999)
#   --dial-timeout D       how long a peer waits to connect (default 10s)
#   --tls-root FILE        TLS: the CA (PEM) of the chaincode server's
#                          certificate; turns on tls_required
#   --client-cert FILE     mutual TLS: the peer's client certificate (PEM) ...
#   --client-key FILE      ... and key (PEM); turns on client_auth_required.
#                          The chaincode server then needs
#                          CHAINCODE_CLIENT_CA_CERT set to their CA.
#   --domain NAME          with mutual TLS: the server name to check in the
#                          chaincode server's certificate
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
address="carechain_ccaas:9999"
dial_timeout="10s"
tls_root="" client_cert="" client_key="" domain="" out=""

die() {
    echo "package.sh: $*" >&2
    exit 2
}
# The value of option $1, which must be given ($2).
need() { [ -n "${2:-}" ] || die "$1 needs a value"; }
# A PEM file's text as a JSON string body (PEM has no quotes or backslashes).
pem() {
    [ -r "$1" ] || die "cannot read $1"
    grep -q -- "-----BEGIN " "$1" || die "$1: expected a PEM file, found no -----BEGIN line"
    awk '{ sub(/\r$/, ""); printf "%s\\n", $0 }' "$1"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --address) need "$1" "${2:-}"; address="$2"; shift 2 ;;
        --dial-timeout) need "$1" "${2:-}"; dial_timeout="$2"; shift 2 ;;
        --tls-root) need "$1" "${2:-}"; tls_root="$2"; shift 2 ;;
        --client-cert) need "$1" "${2:-}"; client_cert="$2"; shift 2 ;;
        --client-key) need "$1" "${2:-}"; client_key="$2"; shift 2 ;;
        --domain) need "$1" "${2:-}"; domain="$2"; shift 2 ;;
        -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [ -z "$out" ] || die "one output file expected, found a second: $1"; out="$1"; shift ;;
    esac
done
out="${out:-$PWD/carechain.tar.gz}"
[[ "$address" == *:* ]] || die "--address: expected HOST:PORT, found $address"
if [ -n "$client_cert$client_key" ]; then
    [ -n "$client_cert" ] && [ -n "$client_key" ] || die "mutual TLS needs both --client-cert and --client-key"
    [ -n "$tls_root" ] || die "mutual TLS needs --tls-root too"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
{
    printf '{\n  "address": "%s",\n  "dial_timeout": "%s",\n' "$address" "$dial_timeout"
    if [ -n "$domain" ]; then printf '  "domain": "%s",\n' "$domain"; fi
    if [ -n "$tls_root" ]; then
        printf '  "tls_required": true,\n  "root_cert": "%s",\n' "$(pem "$tls_root")"
        if [ -n "$client_cert" ]; then
            printf '  "client_auth_required": true,\n  "client_cert": "%s",\n  "client_key": "%s"\n' \
                "$(pem "$client_cert")" "$(pem "$client_key")"
        else
            printf '  "client_auth_required": false\n'
        fi
    else
        printf '  "tls_required": false\n'
    fi
    printf '}\n'
} >"$work/connection.json"
tar -C "$work" -czf "$work/code.tar.gz" connection.json
cp "$here/metadata.json" "$work/metadata.json"
tar -C "$work" -czf "$out" metadata.json code.tar.gz
echo "$out"
