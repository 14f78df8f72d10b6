#!/usr/bin/env bash
# The announcement's walkthrough (shared/WALKTHROUGH.md) through
# `byok kms --endpoint-url` — the AWS backend, aws-sdk-kms, SigV4, HTTP —
# against a third-party KMS: localstack-core from PyPI in host mode (no
# Docker) on 127.0.0.1. Runs what LocalStack supports and checks the answers,
# then probes what it lacks and prints that list. Fails when LocalStack
# cannot be installed or started, or a supported step answers wrong; never
# passes without it.
#
#   bash .ci/serve/localstack.sh install   # only create the venv (deps.sh)
#   BYOK_BIN=target/debug/byok bash .ci/serve/localstack.sh
#
# The venv (pinned: localstack-requirements.txt) is kept in
# ${BYOK_LOCALSTACK_VENV:-~/.cache/byok/localstack-2026.3.0}; a fresh machine
# creates it (about two minutes). Bounded: LocalStack gets 90 s to start,
# every command 60 s, the script 10 minutes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${BYOK_LOCALSTACK_VENV:-$HOME/.cache/byok/localstack-2026.3.0}
requirements="$here/localstack-requirements.txt"

find_python() {
    for p in "$HOME/.pyenv/versions/3.13.0/bin/python" "$HOME/.pyenv/versions/3.12.1/bin/python" \
        python3.13 python3.12; do
        if command -v "$p" >/dev/null 2>&1 &&
            "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    # pyenv shims or the system python3, if it is new enough.
    if python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
        echo python3
        return
    fi
    echo "localstack.sh: no Python 3.12 or 3.13 found (localstack-core 2026.x needs one)" >&2
    return 1
}

install() {
    local stamp="$venv/.byok-requirements"
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
        return
    fi
    local python
    python=$(find_python)
    echo "localstack.sh: creating $venv with $python"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements"
    cp "$requirements" "$stamp"
}

install
[ "${1:-}" = install ] && exit 0

BYOK_BIN=${BYOK_BIN:?set BYOK_BIN to the byok binary (target/debug/byok)}
BYOK_BIN=$(cd "$(dirname "$BYOK_BIN")" && pwd)/$(basename "$BYOK_BIN")
started_at=$(date +%s)
work=$(mktemp -d)
ls_pid=""
cleanup() {
    if [ -n "$ls_pid" ] && kill -0 "$ls_pid" 2>/dev/null; then
        kill -TERM "$ls_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$ls_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$ls_pid" 2>/dev/null || true
        wait "$ls_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

passed=0
fail() {
    echo "FAIL: $*" >&2
    [ -f localstack.log ] && { echo "--- localstack log (tail):" >&2; tail -n 30 localstack.log >&2; }
    exit 1
}
ok() { passed=$((passed + 1)); echo "ok   $*"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; ok "$3"; }
expect_match() { [[ "$1" =~ $2 ]] || fail "$3: '$1' does not match /$2/"; ok "$3"; }

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
echo "== starting localstack-core $("$venv/bin/pip" show localstack-core | sed -n 's/^Version: //p') on $endpoint"
GATEWAY_LISTEN="127.0.0.1:$port" SERVICES=kms DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 \
    LOCALSTACK_VOLUME_DIR="$work/volume" TMPDIR="$work" DISABLE_EVENTS=1 \
    "$venv/bin/python" -m localstack.runtime.main >localstack.log 2>&1 &
ls_pid=$!
for _ in $(seq 180); do
    curl -sf "$endpoint/_localstack/health" >/dev/null 2>&1 && break
    kill -0 "$ls_pid" 2>/dev/null || fail "LocalStack exited before it was ready"
    sleep 0.5
done
curl -sf "$endpoint/_localstack/health" | grep -q '"kms": "\(available\|running\)"' ||
    fail "LocalStack's health does not list kms as available"
ok "LocalStack ready in $(($(date +%s) - started_at)) s"

# Nothing of the user's AWS setup; LocalStack accepts any credentials.
export HOME="$work" AWS_CONFIG_FILE="$work/config" AWS_SHARED_CREDENTIALS_FILE="$work/credentials"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS BYOK_STORE 2>/dev/null || true
export BYOK_STORE="$work/no-local-store.byok" BYOK_PASSPHRASE=unused
: >"$work/config"
: >"$work/credentials"
byok() { timeout 60 "$BYOK_BIN" "$@"; }
kms() { byok kms --endpoint-url "$endpoint" --region us-east-1 "$@"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }
wrap() { # n
    kms get-parameters-for-import --key-id "$KEY_ID" --wrapping-algorithm RSAES_OAEP_SHA_256 \
        --wrapping-key-spec RSA_4096 --query '[PublicKey, ImportToken]' --output text >"params$1.txt"
    cut -f1 "params$1.txt" | base64 -d >"PublicKey$1.bin"
    cut -f2 "params$1.txt" | base64 -d >"ImportToken$1.bin"
    byok material generate --out "KeyMaterial$1.bin" >/dev/null
    byok material wrap --public-key "PublicKey$1.bin" --wrapping-algorithm RSAES_OAEP_SHA_256 \
        --in "KeyMaterial$1.bin" --out "EncryptedKeyMaterial$1.bin" >/dev/null
}

lacks=()
lack() { lacks+=("$1"); echo "gap  $1"; }

echo "== Step 1: a key with EXTERNAL origin, and its first material"
KEY_ID=$(kms create-key --origin EXTERNAL --description "imported key" --query KeyMetadata.KeyId --output text)
expect_match "$KEY_ID" '^[0-9a-f-]{36}$' "create-key gives a key id"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" PendingImport "new EXTERNAL key is PendingImport"
wrap 1
expect_eq "$(stat -c %s PublicKey1.bin)" 550 "RSA_4096 public key is a 550-byte SubjectPublicKeyInfo"
kms import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --key-material-description "KeyMaterial1 kept in HSM vault A" >import1.json
M1=$(json import1.json ".get('KeyMaterialId')")
[ "$M1" != None ] || lack "ImportKeyMaterial returns no KeyMaterialId"
kms describe-key --key-id "$KEY_ID" >describe1.json
expect_eq "$(json describe1.json "['KeyMetadata']['KeyState']")" Enabled "key Enabled after the first import"
expect_eq "$(json describe1.json "['KeyMetadata']['ExpirationModel']")" KEY_MATERIAL_DOES_NOT_EXPIRE "ExpirationModel"
CUR1=$(json describe1.json "['KeyMetadata'].get('CurrentKeyMaterialId')")
if [ "$CUR1" = None ]; then lack "DescribeKey has no CurrentKeyMaterialId"
elif [ "$M1" != None ]; then expect_eq "$CUR1" "$M1" "CurrentKeyMaterialId is material 1"; fi
set +e
kms list-key-rotations --key-id "$KEY_ID" --include-key-material ALL_KEY_MATERIAL >rotations1.json 2>rotations1.err
status=$?
set -e
n=0
[ "$status" -eq 0 ] && n=$(json rotations1.json "['Rotations'].__len__()")
if [ "$status" -ne 0 ]; then
    lack "ListKeyRotations ($(tr -s '\n' ' ' <rotations1.err | head -c 200))"
elif [ "$n" = 0 ]; then
    lack "ListKeyRotations --include-key-material ALL_KEY_MATERIAL lists no material (not the first one)"
else
    [ "$(json rotations1.json "['Rotations'][0].get('ImportState')")" = IMPORTED ] ||
        lack "ListKeyRotations entries lack ImportState"
    [ "$(json rotations1.json "['Rotations'][0].get('KeyMaterialState')")" = CURRENT ] ||
        lack "ListKeyRotations entries lack KeyMaterialState"
fi

echo "== Step 2: use it"
kms generate-data-key --key-id "$KEY_ID" --key-spec AES_256 >datakey1.json
python3 -c "import json;print(json.load(open('datakey1.json'))['CiphertextBlob'])" | base64 -d >ciphertext1.bin
kms decrypt --ciphertext-blob fileb://ciphertext1.bin >decrypt1.json
expect_eq "$(json decrypt1.json "['Plaintext']")" "$(json datakey1.json "['Plaintext']")" "decrypt gives the data key back"
[ "$(json datakey1.json ".get('KeyMaterialId')")" != None ] || lack "GenerateDataKey returns no KeyMaterialId"
[ "$(json decrypt1.json ".get('KeyMaterialId')")" != None ] || lack "Decrypt returns no KeyMaterialId"

echo "== Step 3: a second material, pending rotation"
wrap 2
kms import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial2.bin \
    --import-token fileb://ImportToken2.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --import-type NEW_KEY_MATERIAL --key-material-description "KeyMaterial2 kept in HSM vault A" >import2.json
ok "import-key-material --import-type NEW_KEY_MATERIAL accepted"
M2=$(json import2.json ".get('KeyMaterialId')")

echo "== Step 4: rotate"
expect_match "$(kms rotate-key-on-demand --key-id "$KEY_ID" --query KeyId --output text)" "$KEY_ID" "rotate-key-on-demand accepted"
for _ in $(seq 60); do
    s=$(kms get-key-rotation-status --key-id "$KEY_ID" --query OnDemandRotationStartDate --output text)
    [ "$s" = None ] && break
    sleep 0.5
done
expect_eq "$s" None "the rotation completes"
CUR2=$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.CurrentKeyMaterialId --output text)
if [ "$M2" != None ] && [ "$CUR2" != None ]; then
    expect_eq "$CUR2" "$M2" "CurrentKeyMaterialId is material 2 after the rotation"
fi

echo "== Step 5: new ciphertext with material 2; old ciphertext still decrypts"
kms generate-data-key --key-id "$KEY_ID" --key-spec AES_256 >datakey2.json
python3 -c "import json;print(json.load(open('datakey2.json'))['CiphertextBlob'])" | base64 -d >ciphertext2.bin
expect_eq "$(kms decrypt --ciphertext-blob fileb://ciphertext1.bin --query Plaintext --output text)" \
    "$(json datakey1.json "['Plaintext']")" "the step-2 ciphertext decrypts after the rotation"

echo "== Step 6: delete material 1"
set +e
kms delete-imported-key-material --key-id "$KEY_ID" --key-material-id "${M1/None/}" >delete.out 2>delete.err
status=$?
set -e
if [ "$status" -ne 0 ] || [ "$M1" = None ]; then
    lack "DeleteImportedKeyMaterial by KeyMaterialId ($(tr -s '\n' ' ' <delete.err | head -c 200))"
    kms delete-imported-key-material --key-id "$KEY_ID" >/dev/null
    ok "delete-imported-key-material (the current material) accepted"
else
    ok "delete-imported-key-material --key-material-id accepted"
fi
expect_eq "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" PendingImport "key PendingImport"
set +e
kms decrypt --ciphertext-blob fileb://ciphertext2.bin >/dev/null 2>decrypt2.err
status=$?
set -e
expect_eq "$status" 254 "decrypt fails with the service's error (exit 254)"
expect_match "$(cat decrypt2.err)" 'An error occurred \(KMSInvalidStateException\) when calling the Decrypt operation: .*pending import' "KMSInvalidStateException, as the AWS CLI prints it"

echo "== Step 7: re-import material 1 with the same wrapped blob and token"
set +e
kms import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --import-type EXISTING_KEY_MATERIAL >reimport.out 2>reimport.err
status=$?
set -e
if [ "$status" -ne 0 ]; then
    lack "re-import of material 1 as EXISTING_KEY_MATERIAL after deleting it ($(tr -s '\n' ' ' <reimport.err | head -c 200))"
else
    ok "re-import accepted"
    expect_eq "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" Enabled "key Enabled again"
    for n in 1 2; do
        set +e
        kms decrypt --ciphertext-blob "fileb://ciphertext$n.bin" >"redecrypt$n.out" 2>"redecrypt$n.err"
        status=$?
        set -e
        if [ "$status" -eq 0 ]; then ok "ciphertext $n decrypts after the re-import"
        else lack "decrypt of ciphertext $n after the re-import ($(tr -s '\n' ' ' <"redecrypt$n.err" | head -c 200))"; fi
    done
fi

echo "== multi-Region keys through the AWS backend (ReplicateKey, UpdatePrimaryRegion)"
# LocalStack replicates AWS_KMS material; an imported-material replica is
# checked against byok serve (tests/ui_aws_multi_region.rs, interop.sh).
MRK=$(kms create-key --multi-region --description "multi-Region primary" --query KeyMetadata.KeyId --output text)
expect_match "$MRK" '^mrk-[0-9a-f]{32}$' "create-key --multi-region gives an mrk- key id"
set +e
kms replicate-key --key-id "$MRK" --replica-region eu-west-1 >replicate.json 2>replicate.err
status=$?
set -e
if [ "$status" -ne 0 ]; then
    lack "ReplicateKey ($(tr -s '\n' ' ' <replicate.err | head -c 200))"
else
    expect_match "$(json replicate.json "['ReplicaKeyMetadata']['Arn']")" "^arn:aws:kms:eu-west-1:[0-9]{12}:key/$MRK\$" "the replica's ARN is in eu-west-1 with the same key id"
    euk() { byok kms --endpoint-url "$endpoint" --region eu-west-1 "$@"; }
    expect_eq "$(euk describe-key --key-id "$MRK" --query KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType --output text)" REPLICA "describe-key --region eu-west-1: a REPLICA"
    expect_eq "$(kms describe-key --key-id "$MRK" --query 'KeyMetadata.MultiRegionConfiguration.ReplicaKeys[0].Region' --output text)" eu-west-1 "the primary lists its replica's Region"
    kms encrypt --key-id "$MRK" --plaintext fileb://KeyMaterial1.bin --query CiphertextBlob --output text | base64 -d >mrk-ciphertext.bin
    set +e
    euk decrypt --ciphertext-blob fileb://mrk-ciphertext.bin --query Plaintext --output text >mrk-plain.txt 2>mrk-decrypt.err
    status=$?
    set -e
    if [ "$status" -eq 0 ]; then
        expect_eq "$(base64 -d <mrk-plain.txt | cmp - KeyMaterial1.bin && echo same)" same "ciphertext of us-east-1 decrypts in eu-west-1"
    else
        lack "Decrypt in the replica's Region of the primary's ciphertext ($(tr -s '\n' ' ' <mrk-decrypt.err | head -c 200))"
    fi
    set +e
    kms update-primary-region --key-id "$MRK" --primary-region eu-west-1 >upr.out 2>upr.err
    status=$?
    set -e
    if [ "$status" -ne 0 ]; then
        lack "UpdatePrimaryRegion ($(tr -s '\n' ' ' <upr.err | head -c 200))"
    else
        ok "update-primary-region accepted"
        t=""
        for _ in $(seq 20); do
            t=$(euk describe-key --key-id "$MRK" --query KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType --output text)
            [ "$t" = PRIMARY ] && break
            sleep 0.5
        done
        if [ "$t" = PRIMARY ]; then ok "eu-west-1 holds the PRIMARY after update-primary-region"
        else lack "UpdatePrimaryRegion does not make the replica PRIMARY (DescribeKey says $t)"; fi
    fi
fi

echo "== errors through the AWS backend"
set +e
kms describe-key --key-id 00000000-0000-4000-8000-000000000000 >/dev/null 2>notfound.err
status=$?
set -e
expect_eq "$status" 254 "an unknown key is the service's error (exit 254)"
expect_match "$(cat notfound.err)" 'An error occurred \(NotFoundException\) when calling the DescribeKey operation' "NotFoundException"
[ ! -e "$BYOK_STORE" ] || fail "a local store was created"
ok "no local store was touched"

echo
echo "LocalStack $("$venv/bin/pip" show localstack-core | sed -n 's/^Version: //p') lacks (${#lacks[@]}):"
for l in "${lacks[@]}"; do echo "  - $l"; done
echo "localstack: took $(($(date +%s) - started_at)) s"
echo "localstack: $passed passed, 0 failed"
