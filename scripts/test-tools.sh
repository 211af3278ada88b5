#!/usr/bin/env bash
# Installs, once per machine and outside the clone, what the distributed tests need
# beyond the image: the tansu broker (Kafka protocol), the confluent-kafka Python
# client (interop test) and schemathesis (the OpenAPI fuzzer). Idempotent: a second run only checks versions.
set -euo pipefail
TOOLS="${SIGFLOW_TEST_TOOLS:-/opt/sigflow-test-tools}"
TANSU_VERSION=0.6.0
mkdir -p "$TOOLS"
if ! "$TOOLS/bin/tansu" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  echo "test-tools: building tansu $TANSU_VERSION into $TOOLS (once; ~15 minutes)" >&2
  # Its own target dir: the build must not evict sigflow's cached artefacts.
  CARGO_TARGET_DIR="${TANSU_TARGET_DIR:-$HOME/.cache/tansu-build}" \
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql --root "$TOOLS"
fi
if ! PYTHONPATH="$TOOLS/py" python3 -c 'import confluent_kafka' 2>/dev/null; then
  echo "test-tools: installing confluent-kafka into $TOOLS/py" >&2
  python3 -m pip install -q --disable-pip-version-check --target "$TOOLS/py" 'confluent-kafka==2.16.1'
fi
# The OpenAPI fuzzer (tests/it/openapi.rs), in its own virtual environment.
SCHEMATHESIS_VERSION=4.32.5
if ! "$TOOLS/st-venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "test-tools: installing schemathesis $SCHEMATHESIS_VERSION into $TOOLS/st-venv" >&2
  python3 -m venv "$TOOLS/st-venv"
  "$TOOLS/st-venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
for tool in moto_server /usr/lib/postgresql/15/bin/initdb; do
  command -v "$tool" >/dev/null || { echo "test-tools: $tool is missing (see docs/deployment.md, Tests)" >&2; exit 1; }
done
