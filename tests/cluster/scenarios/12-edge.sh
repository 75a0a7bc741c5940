#!/usr/bin/env bash
# The chart's edge (scenarios/edge.sh): its Ingress and Gateway API routes through Traefik, with Helm 4,
# run inside the node's namespaces.
set -euo pipefail
exec "$NODE" exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/edge.sh" helm4
