# Sourced by the scripts/realdata recipes: their arguments [SEED] [DATA] [OUT] with the defaults
# 42 ../shared/ham10000 runs/real, the repository as working directory, and a clean exit when
# the dataset is absent (a machine without HAM10000 skips the real-data figures).
seed="${1:-42}"
data="${2:-../shared/ham10000}"
out="${3:-runs/real}"
cd "$(dirname "$0")/../.."
if [ ! -f "$data/HAM10000_metadata.csv" ]; then
  echo "$(basename "$0"): no HAM10000 dataset at '$data' (HAM10000_metadata.csv missing); nothing to do." >&2
  exit 0
fi
cli=(npx tsx src/ham10000/cli.ts)
