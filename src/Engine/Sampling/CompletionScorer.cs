using Rollout.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>
/// The logprobs of a completion's tokens from the hidden states of the positions before them. Logits are
/// made for a bounded slice of rows at a time, turned into logprobs (raw, or after the
/// <see cref="LogitProcessor"/> transforms of <paramref name="processing"/> as a sampler drawing that
/// completion would see them) and gathered at the actual tokens, so no [positions, vocabulary] matrix is
/// ever whole.
/// </summary>
/// <param name="model">The model whose head makes the logits.</param>
/// <param name="promptTokenIds">The prompt (repetition penalties look at it).</param>
/// <param name="completionTokenIds">The tokens scored.</param>
/// <param name="mode">Raw or processed logprobs.</param>
/// <param name="processing">The transforms of processed mode, already validated.</param>
/// <param name="eosTokenIds">The model's EOS ids, masked before <see cref="SamplingParams.MinTokens"/> as the sampler masks them.</param>
internal sealed class CompletionScorer(CausalLanguageModel model, int[] promptTokenIds, int[] completionTokenIds, LogprobsMode mode,
    SamplingParams processing, IReadOnlyCollection<int> eosTokenIds)
{
    /// <summary>Most rows whose logits exist at once.</summary>
    public const int SliceRows = 256;

    /// <summary>
    /// Writes the logprobs of completion tokens [first, first + rows) into <paramref name="logprobs"/>, from
    /// <paramref name="hidden"/> [rows, hidden]: the states of the positions just before those tokens.
    /// </summary>
    public void Score(Tensor hidden, int first, float[] logprobs)
    {
        int rows = (int)hidden.shape[0];
        using var noGrad = no_grad();
        for (int start = 0; start < rows; start += SliceRows)
        {
            using var scope = NewDisposeScope();
            int count = Math.Min(SliceRows, rows - start);
            int token = first + start;
            var logits = model.ComputeLogits(hidden.narrow(0, start, count));
            if (mode == LogprobsMode.Processed) logits = LogitProcessor.Apply(logits, SamplingRows(token, count));
            var targets = tensor(completionTokenIds[token..(token + count)].Select(id => (long)id).ToArray(), ScalarType.Int64, logits.device);
            var chosen = logits.log_softmax(-1).gather(1, targets.unsqueeze(1)).squeeze(1).cpu();
            chosen.data<float>().CopyTo(logprobs, token);
        }
    }

    /// <summary>The sampler's view of completion tokens [first, first + count): each drawn after the tokens before it.</summary>
    SamplingRow[] SamplingRows(int first, int count)
    {
        var rows = new SamplingRow[count];
        for (int i = 0; i < count; i++)
            rows[i] = new SamplingRow(processing, promptTokenIds, new ArraySegment<int>(completionTokenIds, 0, first + i), 0, eosTokenIds);
        return rows;
    }
}
