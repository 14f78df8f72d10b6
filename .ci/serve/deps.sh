#!/usr/bin/env bash
# Installs what the endpoint's interop script and benchmark use, if missing:
# the AWS CLI v1 and boto3 (interop.sh, boto3_checks.py), the AWS SDK for
# JavaScript v3 (js/, npm ci), moto's server
# (benches/serve_encrypt.rs), openssl; and the pinned localstack-core venv
# (localstack.sh) with curl for its health check.
set -euo pipefail
missing=()
command -v aws >/dev/null 2>&1 || missing+=(awscli)
python3 -c 'import boto3' 2>/dev/null || missing+=(boto3)
command -v moto_server >/dev/null 2>&1 || missing+=('moto[server]')
command -v aws-encryption-cli >/dev/null 2>&1 || missing+=('aws-encryption-sdk-cli==4.3.0')
if [ ${#missing[@]} -gt 0 ]; then
    python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}"
    # pyenv puts new console scripts on PATH through its shims.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi
command -v openssl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq openssl; }
command -v curl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq curl; }
bash "$(dirname "${BASH_SOURCE[0]}")/localstack.sh" install
# The AWS SDK for JavaScript v3, pinned by js/package-lock.json.
command -v node >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
(cd "$(dirname "${BASH_SOURCE[0]}")/js" && npm ci --no-audit --no-fund --loglevel=error)
aws --version
