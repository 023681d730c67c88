#!/usr/bin/env bash
# Train on NGPUS processes of this machine with torchrun.
# Usage: bash tools/dist_train.sh CONFIG NGPUS [train.py args...]
# Without a GPU the processes train on the CPU and talk over gloo.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash $0 CONFIG NGPUS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
NGPUS=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$HERE/..:${PYTHONPATH:-}" exec python -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NGPUS" \
    "$HERE/train.py" "$CONFIG" --launcher pytorch "$@"
