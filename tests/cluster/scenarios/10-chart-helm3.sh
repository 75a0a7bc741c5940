#!/usr/bin/env bash
# The chart's scenarios (scenarios/chart.sh) with Helm 3 ($HELM3_VERSION in tests/lib.sh), run inside the node's namespaces.
set -euo pipefail
exec "$NODE" exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/chart.sh" helm3
