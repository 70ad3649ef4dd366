#!/usr/bin/env bash
# Checks Rollout on a CUDA machine that has PyTorch (for its libtorch CUDA libraries) but no .NET:
# the caller carries .device/ with a framework-dependent `dotnet publish` of src/Rollout (libtorch CPU
# libraries removed, libLibTorchSharp.so kept), a .NET runtime tarball, and the stories260K GGUF.
# Prints and saves (to $OUT) CPU and CUDA generations of the same prompts, through the engine
# (`rollout generate` drives LlmEngine), and compares them: greedy for every tiny architecture the
# factory writes, and one sampled generation (the sampler's draws come from its own seeded counter,
# so equal logits give equal tokens on either device).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
torch_lib=$(python3 -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
mkdir -p /tmp/dotnet && tar -xJf .device/dotnet-runtime.tar.xz -C /tmp/dotnet
export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH LD_LIBRARY_PATH=$torch_lib:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__)"
r() { dotnet .device/rollout/rollout.dll "$@"; }
r create-test-model --arch Qwen3ForCausalLM --out /tmp/qwen3 || exit 1
for device in cpu cuda; do
  for dtype in float32 bfloat16; do
    echo "== qwen3 $device $dtype"
    r generate --model /tmp/qwen3 --prompt "Once upon a time" --max-tokens 32 --device $device --dtype $dtype > "$OUT/qwen3-$device-$dtype.txt" 2> "$OUT/qwen3-$device-$dtype.err"
    echo "rc=$?"; cat "$OUT/qwen3-$device-$dtype.txt"; tail -5 "$OUT/qwen3-$device-$dtype.err"
  done
  echo "== stories260K $device"
  r generate --model .device/stories260K-f32.gguf --prompt "" --max-tokens 200 --device $device > "$OUT/stories-$device.txt" 2> "$OUT/stories-$device.err"
  echo "rc=$?"; head -c 300 "$OUT/stories-$device.txt"; echo; tail -5 "$OUT/stories-$device.err"
done
cmp "$OUT/qwen3-cpu-float32.txt" "$OUT/qwen3-cuda-float32.txt" && echo "qwen3 fp32: CPU and CUDA generations identical"
cmp "$OUT/stories-cpu.txt" "$OUT/stories-cuda.txt" && echo "stories260K: CPU and CUDA generations identical"
prompt="The quick brown fox jumps over the lazy dog and then"
for arch in LlamaForCausalLM Qwen2ForCausalLM MistralForCausalLM Qwen3ForCausalLM; do
  r create-test-model --arch $arch --out /tmp/$arch > /dev/null || exit 1
  for device in cpu cuda; do
    r generate --model /tmp/$arch --prompt "$prompt" --max-tokens 200 --device $device > "$OUT/$arch-$device.txt" 2> "$OUT/$arch-$device.err" || tail -5 "$OUT/$arch-$device.err"
  done
  cmp -s "$OUT/$arch-cpu.txt" "$OUT/$arch-cuda.txt" && echo "$arch, 200 greedy tokens: CPU and CUDA identical" || echo "$arch: CPU and CUDA DIFFER"
done
for device in cpu cuda; do
  r generate --model /tmp/Qwen3ForCausalLM --prompt "$prompt" --max-tokens 100 --temperature 1 --seed 7 --device $device > "$OUT/sampled-$device.txt" 2>&1
done
cmp -s "$OUT/sampled-cpu.txt" "$OUT/sampled-cuda.txt" && echo "sampled (temperature 1, seed 7): CPU and CUDA identical" || echo "sampled: CPU and CUDA differ"
