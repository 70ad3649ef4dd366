using Rollout.Models.Attention;
using TorchSharp;

namespace Rollout.Models;

/// <summary>
/// One forward pass over a flat, packed batch of tokens from one or more sequences (vLLM's varlen
/// layout): <paramref name="InputIds"/> [T] and <paramref name="Positions"/> [T] as int64, and the
/// attention context that knows which tokens belong to which sequence and where their KV lives.
/// </summary>
public sealed record ForwardBatch(torch.Tensor InputIds, torch.Tensor Positions, IAttentionContext Attention);
