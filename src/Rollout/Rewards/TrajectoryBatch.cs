using Rollout.Client;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Rewards;

/// <summary>
/// Trajectories as the tensors a policy-gradient loss consumes, on one device, in one of two layouts:
/// <see cref="Padded"/> ([B, T]: a row per trajectory, its prompt then its completion, right-padded to the
/// longest) or <see cref="Packed"/> ([N]: the same tokens end to end without padding, as the model's varlen
/// forward takes them with <c>UncachedAttention(SequenceLengths)</c>). Keeping only the positions where
/// <see cref="AttentionMask"/> is 1 of any padded tensor, row by row, gives the packed one.
/// </summary>
/// <remarks>
/// <para>
/// Alignment: <see cref="InputIds"/>, <see cref="Positions"/> and <see cref="AttentionMask"/> describe the
/// model's inputs. Every other per-token tensor is aligned to the logits: index t describes the token the
/// logits at t predict, <see cref="TargetIds"/>[t], which is input t + 1 of the same trajectory. So a loss
/// needs no shifting: <c>log_softmax(logits, -1).gather(-1, TargetIds.unsqueeze(-1)).squeeze(-1)</c> are the
/// new logprobs, comparable with <see cref="OldLogprobs"/> wherever <see cref="LossMask"/> is 1. The loss
/// mask is 1 on the last prompt token and on every completion token but the last: the positions whose
/// logits predict a completion token. Where it is 0 (prompt, a trajectory's last token, padding), the
/// target is the pad id and the old logprob, version and advantage are 0.
/// </para>
/// <para>
/// Ownership: the batch owns its tensors. It detaches them from any dispose scope open when it is built,
/// so only <see cref="Dispose"/> frees them; a tensor kept past that must be cloned first.
/// </para>
/// </remarks>
public sealed class TrajectoryBatch : IDisposable
{
    /// <summary>Prompt then completion token ids (Int64), the pad id after a padded row's end.</summary>
    public Tensor InputIds { get; }

    /// <summary>Each input token's position within its trajectory (Int64), 0 on padding.</summary>
    public Tensor Positions { get; }

    /// <summary>1 on real input tokens, 0 on padding (Int64, the Hugging Face convention); all ones when packed.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>The token the logits at each position predict (Int64): the next input of the same trajectory, or the pad id.</summary>
    public Tensor TargetIds { get; }

    /// <summary>1 where the target is a completion token, 0 elsewhere (Float32).</summary>
    public Tensor LossMask { get; }

    /// <summary>The engine's logprob of each completion target (Float32), 0 where <see cref="LossMask"/> is 0.</summary>
    public Tensor OldLogprobs { get; }

    /// <summary>The weight version that produced each completion target (Int64), 0 where <see cref="LossMask"/> is 0.</summary>
    public Tensor WeightVersions { get; }

    /// <summary>Each trajectory's advantage on its completion targets (Float32), 0 where <see cref="LossMask"/> is 0.</summary>
    public Tensor TokenAdvantages { get; }

    /// <summary>One advantage per trajectory (Float32, [B]).</summary>
    public Tensor Advantages { get; }

    /// <summary>Each trajectory's prompt plus completion length, in order.</summary>
    public IReadOnlyList<int> SequenceLengths { get; }

    /// <summary>Completion tokens over all trajectories: the sum of <see cref="LossMask"/>.</summary>
    public int CompletionTokenCount { get; }

    TrajectoryBatch(Tensor inputIds, Tensor positions, Tensor attentionMask, Tensor targetIds, Tensor lossMask, Tensor oldLogprobs,
        Tensor weightVersions, Tensor tokenAdvantages, Tensor advantages, int[] sequenceLengths, int completionTokenCount)
    {
        (InputIds, Positions, AttentionMask, TargetIds) = (inputIds, positions, attentionMask, targetIds);
        (LossMask, OldLogprobs, WeightVersions, TokenAdvantages) = (lossMask, oldLogprobs, weightVersions, tokenAdvantages);
        (Advantages, SequenceLengths, CompletionTokenCount) = (advantages, sequenceLengths, completionTokenCount);
    }

    /// <summary>
    /// The trajectories as [B, T] tensors on <paramref name="device"/>, T the longest prompt plus completion,
    /// each row right-padded with <paramref name="padTokenId"/>.
    /// </summary>
    /// <param name="trajectories">At least one; each with a prompt token, and a logprob and a version per completion token.</param>
    /// <param name="advantages">One finite advantage per trajectory.</param>
    /// <param name="device">Where the tensors live.</param>
    /// <param name="padTokenId">Fills input padding and the targets nothing is predicted for; may equal a real token's id.</param>
    /// <exception cref="ArgumentException">An input breaks one of those conditions; no tensor is made.</exception>
    public static TrajectoryBatch Padded(IReadOnlyList<Trajectory> trajectories, IReadOnlyList<float> advantages, Device device, int padTokenId = 0) =>
        Build(trajectories, advantages, device, padTokenId, packed: false);

    /// <summary>
    /// The trajectories as [N] tensors on <paramref name="device"/>, end to end in order, N the sum of
    /// <see cref="SequenceLengths"/>; arguments as for <see cref="Padded"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An input is invalid; no tensor is made.</exception>
    public static TrajectoryBatch Packed(IReadOnlyList<Trajectory> trajectories, IReadOnlyList<float> advantages, Device device, int padTokenId = 0) =>
        Build(trajectories, advantages, device, padTokenId, packed: true);

    /// <summary>Frees every tensor of the batch.</summary>
    public void Dispose()
    {
        foreach (var owned in Owned) owned.Dispose();
    }

    Tensor[] Owned => [InputIds, Positions, AttentionMask, TargetIds, LossMask, OldLogprobs, WeightVersions, TokenAdvantages, Advantages];

    static TrajectoryBatch Build(IReadOnlyList<Trajectory> trajectories, IReadOnlyList<float> advantages, Device device, int padTokenId, bool packed)
    {
        Validate(trajectories, advantages, padTokenId);
        ArgumentNullException.ThrowIfNull(device);
        int[] lengths = trajectories.Select(t => t.PromptTokenIds.Count + t.CompletionTokenIds.Count).ToArray();
        long[] shape = packed ? [lengths.Sum()] : [lengths.Length, lengths.Max()];
        int size = checked((int)shape.Aggregate(1L, (a, b) => a * b));

        long[] inputs = new long[size], positions = new long[size], attention = new long[size], targets = new long[size], versions = new long[size];
        float[] lossMask = new float[size], oldLogprobs = new float[size], tokenAdvantages = new float[size];
        Array.Fill(inputs, padTokenId);
        Array.Fill(targets, padTokenId);
        int start = 0;
        for (int b = 0; b < trajectories.Count; b++)
        {
            var t = trajectories[b];
            int prompt = t.PromptTokenIds.Count;
            for (int j = 0; j < lengths[b]; j++)
            {
                int at = start + j;
                inputs[at] = j < prompt ? t.PromptTokenIds[j] : t.CompletionTokenIds[j - prompt];
                positions[at] = j;
                attention[at] = 1;
                // Position j predicts token j + 1: a completion token from the last prompt position on.
                int completion = j + 1 - prompt;
                if (completion < 0 || completion >= t.CompletionTokenIds.Count) continue;
                targets[at] = t.CompletionTokenIds[completion];
                lossMask[at] = 1;
                oldLogprobs[at] = t.Logprobs[completion];
                versions[at] = t.WeightVersions[completion];
                tokenAdvantages[at] = advantages[b];
            }
            start += packed ? lengths[b] : (int)shape[1];
        }

        // Made in a scope so that a failure part-way (out of device memory) frees what was made; kept by detaching.
        using var scope = NewDisposeScope();
        var batch = new TrajectoryBatch(
            inputIds: tensor(inputs, shape, device: device), positions: tensor(positions, shape, device: device),
            attentionMask: tensor(attention, shape, device: device), targetIds: tensor(targets, shape, device: device),
            lossMask: tensor(lossMask, shape, device: device), oldLogprobs: tensor(oldLogprobs, shape, device: device),
            weightVersions: tensor(versions, shape, device: device), tokenAdvantages: tensor(tokenAdvantages, shape, device: device),
            advantages: tensor(advantages.ToArray(), [advantages.Count], device: device),
            sequenceLengths: lengths, completionTokenCount: trajectories.Sum(t => t.CompletionTokenIds.Count));
        foreach (var owned in batch.Owned) owned.DetachFromDisposeScope();
        return batch;
    }

    static void Validate(IReadOnlyList<Trajectory> trajectories, IReadOnlyList<float> advantages, int padTokenId)
    {
        ArgumentNullException.ThrowIfNull(trajectories);
        ArgumentNullException.ThrowIfNull(advantages);
        if (trajectories.Count == 0) throw new ArgumentException("a batch needs at least one trajectory", nameof(trajectories));
        if (advantages.Count != trajectories.Count)
            throw new ArgumentException($"{advantages.Count} advantages for {trajectories.Count} trajectories", nameof(advantages));
        ArgumentOutOfRangeException.ThrowIfNegative(padTokenId);
        for (int b = 0; b < trajectories.Count; b++)
        {
            var t = trajectories[b] ?? throw new ArgumentException($"trajectory {b} is null", nameof(trajectories));
            if (!float.IsFinite(advantages[b])) throw new ArgumentException($"advantage {b} is {advantages[b]}: advantages must be finite", nameof(advantages));
            int completion = t.CompletionTokenIds.Count;
            string? problem =
                t.PromptTokenIds.Count == 0 ? "has no prompt token, so nothing predicts its first completion token"
                : t.Logprobs.Count != completion ? $"has {completion} completion tokens but {t.Logprobs.Count} logprobs"
                : t.WeightVersions.Count != completion ? $"has {completion} completion tokens but {t.WeightVersions.Count} weight versions"
                : t.PromptTokenIds.Concat(t.CompletionTokenIds).Any(id => id < 0) ? "has a negative token id"
                : t.Logprobs.Any(l => !float.IsFinite(l)) ? "has a non-finite logprob"
                : null;
            if (problem is not null) throw new ArgumentException($"trajectory {b} {problem}", nameof(trajectories));
        }
    }
}
