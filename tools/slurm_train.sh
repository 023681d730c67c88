#!/usr/bin/env bash
# Train on a Slurm cluster with srun, one task per GPU.
# Usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args...]
# Environment: GPUS (8), GPUS_PER_NODE (min(GPUS, 8)), CPUS_PER_TASK (5),
#              SRUN_ARGS (extra srun arguments). GPUS=0 trains on CPUs:
#              set TASKS (1) for the number of processes then.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
WORK_DIR_ARGS=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    WORK_DIR_ARGS=(--work-dir "$1")
    shift
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
if [ "$GPUS" -gt 0 ]; then
    RESOURCES=(--gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE")
else
    RESOURCES=(--ntasks="${TASKS:-1}")
fi
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2086
PYTHONPATH="$HERE/..:${PYTHONPATH:-}" exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    "${RESOURCES[@]}" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    python -u "$HERE/train.py" "$CONFIG" "${WORK_DIR_ARGS[@]}" --launcher slurm "$@"
